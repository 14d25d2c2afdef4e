"""The servers' settings (`[server]`, `[server.validation]`, `[checkpoint]`); the servers are in
`actors.server`, one algorithm per module.

Data only, no torch (see `actors.configs`).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.configs.aggregators import AggregatorConfig, WeightedMeanConfig, least_updates
from actors.configs.optimizers import ServerOptimizerConfig, ServerSgdConfig
from actors.server.staleness import ConstantStalenessConfig, StalenessConfig


class ValidationConfig(BaseModel):
    """How strictly a server checks updates (`[server.validation]`).

    Attributes:
        max_norm: reject an update whose L2 norm (of the delta; of weights −
            global model for weight updates) is above this (None: no bound).
            For FedAsync the global model has moved since the client's base
            version, so leave room for that drift.
        dtypes: `exact`: every tensor has the model's dtype; `floating`: a
            floating tensor may come in any floating dtype (compressed deltas),
            other tensors still need the model's own.
        remembered_tasks: answered task ids kept to tell a duplicate from an
            unknown task; the oldest is forgotten first (memory stays bounded).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_norm: float | None = Field(default=None, gt=0)
    dtypes: Literal["exact", "floating"] = "exact"
    remembered_tasks: int = Field(default=100_000, gt=0)


class CheckpointConfig(BaseModel):
    """The `[checkpoint]` table: when servers and schedulers write their state.

    A checkpoint is written after a new version when either trigger is due.
    0 turns a trigger off (TOML has no null); both off: no checkpoints.
    Simulations (`--mode sim`) never write them.

    Attributes:
        every_versions: after every this many versions since the last write
            (1: every version, so a crash loses no applied update).
        every_s: or once this many clock seconds passed since the last write
            (checked at each new version; clock seconds are wall seconds
            divided by `placement.time_scale`).
        directory: where the files go; relative to the run directory
            (the launcher writes the absolute path into `topology.json`).
        resume: restore each actor from its file before it starts (set by
            `fedactors run --resume`; not for topology files).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    every_versions: int | None = Field(default=None, ge=0)
    every_s: float | None = Field(default=30.0, ge=0)
    directory: str | None = None
    resume: bool = False


class RoundSettings(BaseModel):
    """The round settings FedAvg and a HierFAVG edge share, validated one way
    (see `FedAvgConfig` for their meaning).

    `cancel_late`: when a round closes, tell each client it did not wait for
    to stop that work (`Cancel`), so the client is free for the next round
    instead of finishing stale work first. None: on in simulations, off in
    real runs (the run's builder decides).

    `weighting`: the weight of each client's delta in the mean the server
    optimizer gets: its sample count (FedAvg, McMahan et al.) or the same for
    every client (`uniform`: Reddi et al. 2021, Alg. 2, Δ_t = (1/|S|) Σ Δ_i,
    the input of FedAdam, FedYogi and FedAdagrad as published).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    clients_per_round: int | None = Field(default=None, gt=0)
    fraction: float | None = Field(default=None, gt=0, le=1)
    min_clients: int | None = Field(default=None, gt=0)
    min_updates: int = Field(default=1, gt=0)
    round_deadline_s: float | None = Field(default=None, gt=0)
    stragglers: Literal["drop", "partial"] = "drop"
    cancel_late: bool | None = None
    weighting: Literal["samples", "uniform"] = "samples"
    aggregator: AggregatorConfig = Field(default_factory=WeightedMeanConfig)

    @model_validator(mode="after")
    def _consistent_rounds(self) -> Self:
        if self.clients_per_round is not None and self.fraction is not None:
            raise ValueError("set clients_per_round or fraction, not both")
        if self.stragglers == "partial" and self.round_deadline_s is None:
            raise ValueError(
                "stragglers = 'partial' needs round_deadline_s (the time clients fit their work in)"
            )
        if self.clients_per_round is not None and self.clients_per_round < self.min_updates:
            raise ValueError(
                f"min_updates = {self.min_updates} can never be met with clients_per_round = "
                f"{self.clients_per_round}: every round would fail"
            )
        least, rule = least_updates(self.aggregator)
        if self.min_updates < least:
            raise ValueError(
                f"min_updates = {self.min_updates} lets a round reach aggregator "
                f"{self.aggregator.kind!r} with fewer than the {least} updates it needs ({rule}): "
                f"set min_updates >= {least}"
            )
        return self


class ServerSettings(BaseModel):
    """What every server's settings have: evaluation and the checks on updates.

    Attributes:
        eval_every: evaluate the global model every this many rounds (FedAvg) or versions.
        eval_train: also score the global model on the clients' training data at
            each evaluation (`train_loss`, `train_accuracy`: the curve FedProx plots).
        eval_train_samples: on a fixed sample of this many of those samples,
            drawn with the run's seed (None: all of them).
        validation: the checks every update passes first (`[server.validation]`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    eval_every: int = Field(default=1, gt=0)
    eval_train: bool = False
    eval_train_samples: int | None = Field(default=None, gt=0)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)


class AsyncSettings(ServerSettings):
    """What every asynchronous server's settings have (FedAsync, FedBuff, a custom one).

    Attributes:
        concurrency: clients training at once (None: every client that joined).
        task_timeout_s: a task with no update after this is lost (its client
            dropped out): it is recorded and the work is handed out again.
        max_staleness: drop (and count) updates with τ above this (None: keep all).
    """

    concurrency: int | None = Field(default=None, gt=0)
    task_timeout_s: float | None = Field(default=None, gt=0)
    max_staleness: int | None = Field(default=None, ge=0)


class FedAvgConfig(RoundSettings, ServerSettings):
    """FedAvg's parameters, with the round settings and `ServerSettings`.

    Attributes:
        clients_per_round: clients sampled each round (default: every client).
        fraction: or the fraction of joined clients sampled each round.
        min_clients: clients that must have joined before the first round.
        min_updates: updates a round needs to produce a new model.
        round_deadline_s: close a round this long after it started (None: wait for all).
        stragglers: `drop`: an update after the deadline is dropped (FedAvg);
            `partial`: clients get the deadline and return the epochs that fit
            in it (FedProx's variable local work).
        aggregator: how deltas are combined (weighted mean by sample count by default).
        optimizer: the server optimizer on the aggregated delta.
    """

    algorithm: Literal["fedavg"] = "fedavg"
    min_clients: int = Field(default=1, gt=0)
    optimizer: ServerOptimizerConfig = Field(default_factory=ServerSgdConfig)


class FedAsyncConfig(AsyncSettings):
    """FedAsync's parameters, with `AsyncSettings` (evaluation every 10 versions by default).

    Attributes:
        alpha: the mixing hyper-parameter α in (0, 1].
        staleness: the staleness function s(τ).
    """

    algorithm: Literal["fedasync"] = "fedasync"
    alpha: float = Field(default=0.6, gt=0, le=1)
    staleness: StalenessConfig = Field(default_factory=ConstantStalenessConfig)
    eval_every: int = Field(default=10, gt=0)


class FedBuffConfig(AsyncSettings):
    """FedBuff's parameters, with `AsyncSettings`.

    Attributes:
        buffer_size: K, deltas per server step.
        staleness: weight s(τ) of each delta (constant: the unweighted paper version).
        optimizer: the server optimizer on Δ̄ (SGD with lr η_g by default).
    """

    algorithm: Literal["fedbuff"] = "fedbuff"
    buffer_size: int = Field(default=5, gt=0)
    staleness: StalenessConfig = Field(default_factory=ConstantStalenessConfig)
    optimizer: ServerOptimizerConfig = Field(default_factory=ServerSgdConfig)


class CustomServerConfig(AsyncSettings):
    """`[server] algorithm = "custom"`: the settings every asynchronous server has, and the class.

        [server]
        algorithm = "custom"
        path = "rules:DeltaSgdServer"       # a subclass of AsyncServer
        options = { lr = 0.5 }              # read by the class as self.config.options

    The class subclasses `AsyncServer` (clients train without rounds, up to
    `concurrency`; lost and timed-out work is re-issued; updates staler than
    `max_staleness` are dropped) and decides only what an accepted update does:
    `async def apply(self, client, update, tau)`, ending with
    `await self.new_version(params, contributors)`. Roles never import user code:
    the topology layer imports the class while the file is validated (in every
    process) and registers it in `actors.server.SERVERS["custom"]`.

    Attributes:
        path: `module:attr` of the user's `AsyncServer` subclass, constructed as
            `cls(config, initial_weights, deps)`.
        options: free-form settings for the class (`self.config.options`).
    """

    algorithm: Literal["custom"] = "custom"
    path: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)
