"""Declarations of how clients and links behave: compute time, availability, link delays.

    [behaviour.compute]        time = { kind = "lognormal", median_s = 2.0, sigma = 0.8 }
                               slow_fraction = 0.1, slow_factor = 20
    [behaviour.availability]   drop_probability = 0.2
    [behaviour.links.uplink]   latency = { kind = "constant", seconds = 0.05 }, bandwidth_bytes_per_s = 1e6

All draws come from generators seeded by the run's seed, so a simulation is
reproducible bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConstantTime(_Spec):
    """Always `seconds`."""

    kind: Literal["constant"] = "constant"
    seconds: float = Field(ge=0)


class PerSampleTime(_Spec):
    """`seconds_per_sample` × samples × epochs: time proportional to the work."""

    kind: Literal["per_sample"] = "per_sample"
    seconds_per_sample: float = Field(gt=0)


class UniformTime(_Spec):
    kind: Literal["uniform"] = "uniform"
    low_s: float = Field(ge=0)
    high_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformTime:
        if self.high_s <= self.low_s:
            raise ValueError(f"high_s ({self.high_s}) must be > low_s ({self.low_s})")
        return self


class NormalTime(_Spec):
    """Normal, truncated at 0."""

    kind: Literal["normal"] = "normal"
    mean_s: float = Field(gt=0)
    std_s: float = Field(ge=0)


class LogNormalTime(_Spec):
    """`median_s · exp(sigma · N(0, 1))`: the usual model of device speed spread."""

    kind: Literal["lognormal"] = "lognormal"
    median_s: float = Field(gt=0)
    sigma: float = Field(ge=0)


class ParetoTime(_Spec):
    """Pareto (type I): `scale_s · (1 + Lomax(shape))`, a heavy tail of stragglers."""

    kind: Literal["pareto"] = "pareto"
    scale_s: float = Field(gt=0)
    shape: float = Field(gt=0)


class TraceTime(_Spec):
    """Per-client figures from a CSV file with a `client` column and either
    `duration_s` (that client's time per task) or `factor` (a multiplier of
    `base_s`). Clients not in the file take `base_s`."""

    kind: Literal["trace"] = "trace"
    path: Path
    base_s: float = Field(default=1.0, ge=0)


TimeSpec = Annotated[
    ConstantTime | PerSampleTime | UniformTime | NormalTime | LogNormalTime | ParetoTime | TraceTime,
    Field(discriminator="kind"),
]


class ComputeSpec(_Spec):
    """Compute time of one client update.

    Attributes:
        time: the distribution (None: as long as training really takes; in a
            simulation that is no simulated time at all).
        slow_fraction: this fraction of clients (chosen by the seed) is slower...
        slow_factor: ...by this factor.
        straggler_probability: each task, the client is a straggler for that
            task with this probability (FedProx's "x% of the selected clients
            are stragglers each round", Li et al. 2020 §5.2), beside `slow_fraction`.
        straggler_work: what a straggler's task is: `slow_factor` times slower,
            or `uniform`: in the time its full work takes it manages only x of
            its E epochs, x uniform in {1, ..., E} (FedProx §5.2).
    """

    time: TimeSpec | None = None
    slow_fraction: float = Field(default=0.0, ge=0, le=1)
    slow_factor: float = Field(default=1.0, ge=1)
    straggler_probability: float = Field(default=0.0, ge=0, le=1)
    straggler_work: Literal["slow_factor", "uniform"] = "slow_factor"


class Crash(_Spec):
    """`client` crashes at `at_s`; it comes back `rejoin_after_s` later, or never."""

    client: str
    at_s: float = Field(ge=0)
    rejoin_after_s: float | None = Field(default=None, gt=0)


class OnOff(_Spec):
    """Each client alternates online/offline periods, exponential with these means."""

    mean_on_s: float = Field(gt=0)
    mean_off_s: float = Field(gt=0)


class AvailabilitySpec(_Spec):
    """When clients do not answer: a task they drop is never answered.

    Attributes:
        drop_probability: each task is dropped with this probability.
        on_off: online/offline periods (tasks that arrive offline are dropped).
        crashes: crashes at given times, with or without rejoin.
    """

    drop_probability: float = Field(default=0.0, ge=0, lt=1)
    on_off: OnOff | None = None
    crashes: list[Crash] = Field(default_factory=list)


class LatencyConstant(_Spec):
    kind: Literal["constant"] = "constant"
    seconds: float = Field(ge=0)


class LatencyUniform(_Spec):
    kind: Literal["uniform"] = "uniform"
    low_s: float = Field(ge=0)
    high_s: float = Field(gt=0)


class LatencyLogNormal(_Spec):
    kind: Literal["lognormal"] = "lognormal"
    median_s: float = Field(gt=0)
    sigma: float = Field(ge=0)


LatencySpec = Annotated[LatencyConstant | LatencyUniform | LatencyLogNormal, Field(discriminator="kind")]


class LinkSpec(_Spec):
    """One direction of a link: a message takes latency + encoded bytes / bandwidth,
    queued behind what the link already carries.

    Attributes:
        latency: per-message latency.
        bandwidth_bytes_per_s: None for unlimited.
    """

    latency: LatencySpec = Field(default_factory=lambda: LatencyConstant(seconds=0.0))
    bandwidth_bytes_per_s: float | None = Field(default=None, gt=0)

    @property
    def is_instant(self) -> bool:
        return (
            isinstance(self.latency, LatencyConstant)
            and self.latency.seconds == 0
            and self.bandwidth_bytes_per_s is None
        )


class LinksSpec(_Spec):
    """Links by direction: `uplink` child → parent, `downlink` parent → child."""

    uplink: LinkSpec = Field(default_factory=LinkSpec)
    downlink: LinkSpec = Field(default_factory=LinkSpec)

    @property
    def is_instant(self) -> bool:
        return self.uplink.is_instant and self.downlink.is_instant


class BehaviourSpec(_Spec):
    """`[behaviour]`: compute, availability and links."""

    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    availability: AvailabilitySpec = Field(default_factory=AvailabilitySpec)
    links: LinksSpec = Field(default_factory=LinksSpec)
