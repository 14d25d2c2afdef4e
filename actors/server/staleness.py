"""Staleness functions s(τ) of FedAsync.

Xie, Koyejo, Gupta, "Asynchronous Federated Optimization", 2019
(arXiv:1903.03934), Section 3: the server mixes a client's model with weight
alpha_t = alpha · s(τ), where τ = server version now - version the client started
from. The paper's three families:

    constant:    s(τ) = 1
    polynomial:  s(τ) = (τ + 1)^(-a)                           a > 0
    hinge:       s(τ) = 1 if τ ≤ b else 1 / (a(τ - b) + 1)     a > 0, b ≥ 0

`StalenessConfig` is the discriminated union on `kind` that topology files
use. The defaults of `a` and `b` are the values of the paper's experiments
(polynomial a = 0.5; hinge a = 10, b = 4).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.server.errors import NegativeStalenessError


def _check_tau(tau: int) -> None:
    if tau < 0:
        raise NegativeStalenessError(tau)


class ConstantStalenessConfig(BaseModel):
    """s(τ) = 1: every update counts fully, however stale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["constant"] = "constant"

    def weight(self, tau: int) -> float:
        """Return s(τ).

        Raises:
            NegativeStalenessError: `tau` is below zero.
        """
        _check_tau(tau)
        return 1.0


class PolynomialStalenessConfig(BaseModel):
    """s(τ) = (τ + 1)^(-a): decays smoothly with staleness."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["polynomial"] = "polynomial"
    a: float = Field(default=0.5, gt=0)

    def weight(self, tau: int) -> float:
        """Return s(τ).

        Raises:
            NegativeStalenessError: `tau` is below zero.
        """
        _check_tau(tau)
        return float((tau + 1) ** -self.a)


class HingeStalenessConfig(BaseModel):
    """s(τ) = 1 up to staleness b, then 1 / (a(τ - b) + 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["hinge"] = "hinge"
    a: float = Field(default=10.0, gt=0)
    b: int = Field(default=4, ge=0)

    def weight(self, tau: int) -> float:
        """Return s(τ).

        Raises:
            NegativeStalenessError: `tau` is below zero.
        """
        _check_tau(tau)
        if tau <= self.b:
            return 1.0
        return 1.0 / (self.a * (tau - self.b) + 1.0)


StalenessConfig = Annotated[
    ConstantStalenessConfig | PolynomialStalenessConfig | HingeStalenessConfig,
    Field(discriminator="kind"),
]
