"""Everything `validate`, `run`, `sweep` and `launch` check before any process starts.

The same checks for all four, so that `validate` saying ok means a run does
not fail later for a reason the file already showed: the file (schema,
graph, placement, user callables), the data split, the model built once on
torch's `meta` device (no memory) and its size, and the CURVE keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from launcher.keys import check_keys
from sims.build import NodeBuilder
from sims.errors import DataError, ModelError
from sims.models import build_model
from topologies.imports import described_error
from topologies.limits import MAX_MODEL_PARAMETERS
from topologies.load import Problem, TopologyFileError, line_of_field, load_topology
from topologies.spec import RunSpec


def check_run(path: Path, overrides: Sequence[str] = ()) -> RunSpec:
    """The validated spec of the file at `path`, after every check a run makes before it starts.

    Raises:
        TopologyFileError: the file, its placement, its data (cannot be loaded
            or split as declared) or its model is refused.
        SimError: the behaviour models cannot be built.
        KeyFileError: CURVE is on and a key file is missing or unreadable.
    """
    spec = load_topology(path, overrides)
    try:
        builder = NodeBuilder(spec)  # builds the data split once: a bad dataset is refused here
    except DataError as exc:
        raise _refused(str(path), "data", str(exc)) from None
    check_model(spec, builder.data.input_shape, builder.data.num_classes, str(path))
    check_keys(spec.security)
    return spec


def check_model(spec: RunSpec, input_shape: tuple[int, ...], num_classes: int, source: str) -> int:
    """The model's parameter count, building it on the `meta` device.

    Raises:
        TopologyFileError: the model cannot be built for this data, or has more
            than `MAX_MODEL_PARAMETERS` parameters; the problem names the field.
    """
    try:
        with torch.device("meta"):
            model = build_model(spec.model, input_shape, num_classes, spec.seed)
    except ModelError as exc:
        raise _refused(source, "model", str(exc)) from None
    except Exception as exc:  # the user's factory is user code: any error is a refusal
        raise _refused(source, "model.path", f"building the model raised {described_error(exc)}") from None
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_MODEL_PARAMETERS:
        message = (
            f"the model has {count:,} parameters for inputs {input_shape} and {num_classes} classes, "
            f"more than the limit of {MAX_MODEL_PARAMETERS:,}"
        )
        raise _refused(source, _size_field(spec), message)
    return count


def _size_field(spec: RunSpec) -> str:
    return {"mlp": "model.hidden", "cnn": "model.channels", "custom": "model.options"}.get(
        spec.model.kind, "model"
    )


def _refused(source: str, field: str, message: str) -> TopologyFileError:
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        text = ""
    return TopologyFileError(source, [Problem(field, message, line_of_field(text, field))])
