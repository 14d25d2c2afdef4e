"""`fedactors validate` and the schema import neither torch nor scikit-learn nor matplotlib (nor tensorboard).

torch's import alone is ~2 s of the 2 s `validate` may take (issue 16.6); a
config module that imports a role, or a loader imported at module level,
brings it back, and these tests fail. Each check runs in a fresh interpreter.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "topologies" / "examples").glob("*.toml"))
HEAVY = ("torch", "sklearn", "matplotlib", "tensorboard")
REPORT_HEAVY = f"""
import json, sys
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({list(HEAVY)!r}))))
"""


def heavy_modules_after(code: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code + REPORT_HEAVY], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_validating_every_example_imports_no_torch_sklearn_or_matplotlib() -> None:
    code = f"""
from launcher.cli import main
codes = [main(["validate", path]) for path in {EXAMPLES!r}]
assert codes == [0] * len(codes), codes
"""

    assert heavy_modules_after(code) == []


@pytest.mark.parametrize("module", ["topologies.load", "actors", "actors.configs.servers", "launcher.cli"])
def test_importing_the_schema_the_runtime_package_or_the_cli_imports_no_torch(module: str) -> None:
    assert heavy_modules_after(f"import {module}") == []


def test_the_roles_still_get_torch_when_they_are_imported() -> None:
    assert heavy_modules_after("from actors import Node") == ["torch"]


def test_validating_a_file_that_asks_for_tensorboard_imports_no_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    source = (ROOT / "topologies" / "examples" / "fedasync.toml").read_text(encoding="utf-8")
    path = tmp_path / "tb.toml"
    path.write_text(source + "\n[report]\ntensorboard = true\n", encoding="utf-8")
    code = f"""
from launcher.cli import main
assert main(["validate", {str(path)!r}]) == 0
"""

    assert heavy_modules_after(code) == []
