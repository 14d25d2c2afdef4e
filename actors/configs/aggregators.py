"""The aggregators' settings (`[server] aggregator`), found by `kind`; the aggregators are in
`actors.server.aggregators`.

Data only, no torch: the topology schema imports this module, and `fedactors
validate` must not pay for torch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class WeightedMeanConfig(BaseModel):
    """The weighted mean has no parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["weighted_mean"] = "weighted_mean"


class MedianConfig(BaseModel):
    """The coordinate-wise median has no parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["median"] = "median"


class TrimmedMeanConfig(BaseModel):
    """`trim_fraction` is β: the share of updates dropped at each end, per coordinate.

    It has no default: it states how many Byzantine clients you assume.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["trimmed_mean"] = "trimmed_mean"
    trim_fraction: float = Field(ge=0, lt=0.5)


class KrumConfig(BaseModel):
    """`byzantine` is f, the most Byzantine updates tolerated in one aggregation (no default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["krum"] = "krum"
    byzantine: int = Field(ge=0)


class MultiKrumConfig(BaseModel):
    """Krum's f, and `m`, how many of the best-scored updates are averaged (None: n - f)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["multi_krum"] = "multi_krum"
    byzantine: int = Field(ge=0)
    m: int | None = Field(default=None, ge=1)


class NormClipConfig(BaseModel):
    """`max_norm` is M, the largest global L2 norm an update keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["norm_clip"] = "norm_clip"
    max_norm: float = Field(gt=0)


class CustomAggregatorConfig(BaseModel):
    """`{ kind = "custom", path = "module:attr", options = {...} }`, or just the path as a string."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["custom"] = "custom"
    path: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)


def custom_from_path(value: Any) -> Any:
    """A bare `"module:attr"` string stands for `{ kind = "custom", path = ... }`."""
    return {"kind": "custom", "path": value} if isinstance(value, str) else value


AggregatorConfig = Annotated[
    Annotated[
        WeightedMeanConfig
        | MedianConfig
        | TrimmedMeanConfig
        | KrumConfig
        | MultiKrumConfig
        | NormClipConfig
        | CustomAggregatorConfig,
        Field(discriminator="kind"),
    ],
    BeforeValidator(custom_from_path),
]


def least_updates(config: AggregatorConfig) -> tuple[int, str]:
    """The fewest updates the aggregator accepts in one aggregation, and the rule why."""
    if not isinstance(config, KrumConfig | MultiKrumConfig):
        return 1, "at least one update"
    f = config.byzantine
    rule = f"n >= 2f + 3 with byzantine f = {f}"
    m = config.m if isinstance(config, MultiKrumConfig) else None
    if m is not None and m > 2 * f + 3:
        return m, f"{rule}, and n >= m = {m}"
    return 2 * f + 3, rule
