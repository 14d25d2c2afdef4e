"""Each variant family's registry is derived from its discriminated union: a kind is written once."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from actors.configs.schedulers import EdgeAlgorithm, SchedulerConfig
from actors.configs.variants import members, tag_of, variants
from actors.server.aggregators import AGGREGATORS, AggregatorConfig, GeoMedianConfig, KrumConfig
from actors.server.optimizers import SERVER_OPTIMIZERS, FedYogiConfig, ServerOptimizerConfig
from actors.server.registry import SERVERS
from actors.server.staleness import STALENESS, HingeStalenessConfig, StalenessConfig
from sims.build import ASYNC_EDGES, SCHEDULERS
from topologies.spec import ServerSpec


class First(BaseModel):
    kind: Literal["same"] = "same"


class Second(BaseModel):
    kind: Literal["same"] = "same"


class Untagged(BaseModel):
    kind: str = "free"


def test_variants_reads_each_members_literal_in_declaration_order() -> None:
    assert list(variants(StalenessConfig)) == ["constant", "polynomial", "hinge", "custom"]
    assert STALENESS["hinge"] is HingeStalenessConfig


@pytest.mark.parametrize(
    ("registry", "union", "example"),
    [
        (AGGREGATORS, AggregatorConfig, (KrumConfig, "krum")),
        (AGGREGATORS, AggregatorConfig, (GeoMedianConfig, "geomedian")),
        (SERVER_OPTIMIZERS, ServerOptimizerConfig, (FedYogiConfig, "fedyogi")),
        (STALENESS, StalenessConfig, (HingeStalenessConfig, "hinge")),
    ],
)
def test_every_registry_is_its_union_by_kind(
    registry: dict[str, type[BaseModel]], union: object, example: tuple[type[BaseModel], str]
) -> None:
    config, kind = example

    assert list(registry.values()) == list(members(union))
    assert registry[kind] is config
    assert tag_of(config) == kind


def test_the_servers_are_named_by_their_settings_algorithm() -> None:
    built_in = {tag_of(c, "algorithm") for c in members(ServerSpec)} - {"custom"}

    assert set(SERVERS) >= built_in


def test_every_scheduler_mode_and_edge_algorithm_has_a_builder() -> None:
    assert set(SCHEDULERS) == set(members(SchedulerConfig))
    assert set(ASYNC_EDGES) == set(members(EdgeAlgorithm))


def test_two_members_with_one_kind_are_refused() -> None:
    union = Annotated[First | Second, Field(discriminator="kind")]

    with pytest.raises(TypeError, match="kind 'same' is declared by First and Second"):
        variants(union)


def test_a_member_without_a_one_value_literal_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Untagged\.kind must be a Literal of one string"):
        variants(First | Untagged)


def test_a_non_union_is_refused() -> None:
    with pytest.raises(TypeError, match="expected a union of config classes"):
        members(First)
