"""Everything `validate`, `run`, `sweep` and `launch` check before any process starts.

The same checks for all four, so that `validate` saying ok means a run does
not fail later for a reason the file already showed: the file (schema,
graph, placement, user callables), the data split and the behaviour models
(as every node process builds them), the model's input and size, and the
CURVE keys. None of it imports torch (its import alone is ~2 s): the split is
numpy's, a built-in model's size is counted from its layer shapes
(`sims.model_size`); only a custom model, user code, is built, on torch's
`meta` device (no memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from launcher.keys import check_keys
from sims.behaviour import LocalWork, build_behaviours
from sims.data import LoadedData
from sims.data.split import split_dataset
from sims.errors import DataError, ModelError
from sims.model_size import parameter_count
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
    loaded = _check_node_inputs(spec, str(path))
    check_model(spec, loaded.input_shape, loaded.num_classes, str(path))
    check_keys(spec.security)
    return spec


def _check_node_inputs(spec: RunSpec, source: str) -> LoadedData:
    """Build what every node process builds first (`sims.build.NodeBuilder`): the data
    split, the behaviour models and a gossip graph's mixing matrix; the loaded data.

    Raises:
        TopologyFileError: the data cannot be loaded or split as declared.
        SimError: the behaviour models cannot be built.
    """
    graph = spec.graph.build()
    learners = [n.id for n in graph.learners()]
    try:
        loaded = split_dataset(spec.data, spec.data.partition, len(learners), spec.seed).loaded
    except DataError as exc:
        raise _refused(source, "data", str(exc)) from None
    behaviour, client = spec.behaviour, spec.client
    work = LocalWork(client.batch_size, client.steps)
    build_behaviours(learners, behaviour.compute, behaviour.availability, client.epochs or 1, spec.seed, work)
    if graph.kind == "gossip":
        spec.graph.mixing_matrix(graph)
    return loaded


def check_model(spec: RunSpec, input_shape: tuple[int, ...], num_classes: int, source: str) -> int:
    """The model's parameter count: counted for a built-in model, built on the `meta` device
    for a custom one.

    Raises:
        TopologyFileError: the model cannot be built for this data, or has more
            than `MAX_MODEL_PARAMETERS` parameters; the problem names the field.
    """
    try:
        count = parameter_count(spec.model, input_shape, num_classes)
        if count is None:
            count = _built_parameter_count(spec, input_shape, num_classes)
    except ModelError as exc:
        raise _refused(source, "model", str(exc)) from None
    except Exception as exc:  # the user's factory is user code: any error is a refusal
        raise _refused(source, "model.path", f"building the model raised {described_error(exc)}") from None
    if count > MAX_MODEL_PARAMETERS:
        message = (
            f"the model has {count:,} parameters for inputs {input_shape} and {num_classes} classes, "
            f"more than the limit of {MAX_MODEL_PARAMETERS:,}"
        )
        raise _refused(source, _size_field(spec), message)
    return count


def _built_parameter_count(spec: RunSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    import torch  # a custom model is user code that needs torch anyway

    from sims.models import build_model

    with torch.device("meta"):
        model = build_model(spec.model, input_shape, num_classes, spec.seed)
    return sum(p.numel() for p in model.parameters())


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
