"""A user's own asynchronous server algorithm, named in the topology file.

    [server]
    algorithm = "custom"
    path = "rules:DeltaSgdServer"       # a subclass of AsyncServer
    options = { lr = 0.5 }              # read by the class as self.config.options
    concurrency = 4
    task_timeout_s = 60

The class subclasses `AsyncServer` (clients train without rounds, up to
`concurrency`; lost and timed-out work is re-issued; updates staler than
`max_staleness` are dropped) and decides only what an accepted update does:
`async def apply(self, client, update, tau)`, ending with
`await self.new_version(params, contributors)`. Roles never import user code:
the topology layer imports the class while the file is validated (in every
process) and registers it in `actors.server.SERVERS["custom"]`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.server.validation import ValidationConfig


class CustomServerConfig(BaseModel):
    """`[server] algorithm = "custom"`: the settings every asynchronous server has, and the class.

    Attributes:
        path: `module:attr` of the user's `AsyncServer` subclass, constructed as
            `cls(config, initial_weights, deps)`.
        options: free-form settings for the class (`self.config.options`).
        concurrency: clients training at once (default: all).
        task_timeout_s: a task with no update after this is lost and re-issued.
        max_staleness: drop (and count) updates staler than this.
        eval_every: evaluate the global model every this many versions.
        eval_train: also score the global model on the clients' training data
            at each evaluation (as the built-in servers do).
        eval_train_samples: on a fixed seeded sample of this many of them (None: all).
        validation: the checks every update passes first (`[server.validation]`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["custom"] = "custom"
    path: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)
    concurrency: int | None = Field(default=None, gt=0)
    task_timeout_s: float | None = Field(default=None, gt=0)
    max_staleness: int | None = Field(default=None, ge=0)
    eval_every: int = Field(default=1, gt=0)
    eval_train: bool = False
    eval_train_samples: int | None = Field(default=None, gt=0)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
