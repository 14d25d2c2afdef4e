"""Staleness functions s(τ) of FedAsync.

Xie, Koyejo, Gupta, "Asynchronous Federated Optimization", 2019
(arXiv:1903.03934), Section 3: the server mixes a client's model with weight
alpha_t = alpha · s(τ), where τ = server version now - version the client started
from. The paper's three families:

    constant:    s(τ) = 1
    polynomial:  s(τ) = (τ + 1)^(-a)                           a > 0
    hinge:       s(τ) = 1 if τ ≤ b else 1 / (a(τ - b) + 1)     a > 0, b ≥ 0

`StalenessConfig` is the discriminated union on `kind` that topology files
use; `custom` (or a bare `"module:attr"` string) is a user's own
`s(tau, **options) -> float`, which the topology layer imports and registers
in `CUSTOM_STALENESS` while the file is validated. A new family is one class
here (its `kind` `Literal` and `of(tau)`) and one line in the union;
`STALENESS` is derived from the union. The defaults of `a` and
`b` are the values of the paper's experiments (polynomial a = 0.5; hinge
a = 10, b = 4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from actors.configs.variants import variants
from actors.server.aggregators.custom import custom_from_path
from actors.server.errors import NegativeStalenessError


class StalenessSettings(BaseModel):
    """Base of each staleness function: `kind` (a one-value `Literal`, its name in topology
    files), its parameters, and s(τ) itself (`weight`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str

    def weight(self, tau: int) -> float:
        """Return s(τ).

        Raises:
            NegativeStalenessError: `tau` is below zero.
        """
        if tau < 0:
            raise NegativeStalenessError(tau)
        return self.of(tau)

    def of(self, tau: int) -> float:
        """s(τ) for τ ≥ 0."""
        raise NotImplementedError


class ConstantStalenessConfig(StalenessSettings):
    """s(τ) = 1: every update counts fully, however stale."""

    kind: Literal["constant"] = "constant"

    def of(self, tau: int) -> float:
        return 1.0


class PolynomialStalenessConfig(StalenessSettings):
    """s(τ) = (τ + 1)^(-a): decays smoothly with staleness."""

    kind: Literal["polynomial"] = "polynomial"
    a: float = Field(default=0.5, gt=0)

    def of(self, tau: int) -> float:
        return float((tau + 1) ** -self.a)


class HingeStalenessConfig(StalenessSettings):
    """s(τ) = 1 up to staleness b, then 1 / (a(τ - b) + 1)."""

    kind: Literal["hinge"] = "hinge"
    a: float = Field(default=10.0, gt=0)
    b: int = Field(default=4, ge=0)

    def of(self, tau: int) -> float:
        if tau <= self.b:
            return 1.0
        return 1.0 / (self.a * (tau - self.b) + 1.0)


#: `module:attr` path -> the user's s(τ), registered when a topology is validated.
CUSTOM_STALENESS: dict[str, Callable[..., float]] = {}


class CustomStalenessConfig(StalenessSettings):
    """s(τ) = the user's `f(tau, **options)`, a float in [0, 1]."""

    kind: Literal["custom"] = "custom"
    path: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)

    def of(self, tau: int) -> float:
        return float(CUSTOM_STALENESS[self.path](tau, **self.options))


StalenessConfig = Annotated[
    Annotated[
        ConstantStalenessConfig | PolynomialStalenessConfig | HingeStalenessConfig | CustomStalenessConfig,
        Field(discriminator="kind"),
    ],
    BeforeValidator(custom_from_path),
]

#: kind -> staleness function, as topology files name them.
STALENESS: dict[str, type[StalenessSettings]] = variants(StalenessConfig)
