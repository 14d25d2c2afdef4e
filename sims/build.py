"""Build the actors of one node from a topology: data, models and trainers injected.

Roles never import this layer; this is where a declaration becomes objects.
Everything is derived from the file's seed, so every process builds the same
data split and the same initial model without talking to the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn

from actors.actor import Actor
from actors.client.trainer import TorchTrainer, Trainer
from actors.client.trainer_client import TrainerClient
from actors.compression.edges import EdgeCodecs
from actors.configs.client import TrainConfig
from actors.configs.schedulers import AsyncEdgeConfig
from actors.configs.servers import FedAsyncConfig, FedBuffConfig, RoundSettings
from actors.liveness import Heartbeats
from actors.peer import MONITOR, DpsgdConfig, DpsgdPeer, GossipMonitor, PairwiseConfig, PairwisePeer
from actors.scheduler import (
    FedAsyncEdge,
    FedBuffEdge,
    HierFavgConfig,
    HierFavgScheduler,
    RelayConfig,
    RelayScheduler,
    Scheduler,
)
from actors.server import SERVERS, ServerActor, ServerDeps
from actors.server.base import Evaluator
from actors.server.checkpoint import Checkpointer
from actors.server.groups import async_group, rounds_group
from sims.behaviour import LocalWork, SimLinks, build_behaviours
from sims.data.federated import FederatedData, build_federated_data
from sims.models import build_model
from sims.workers.trainer import Submit, WorkerTrainer
from topologies.graph import Graph, GraphNode
from topologies.imports import resolve_import
from topologies.spec import RunSpec

R = TypeVar("R", bound=RoundSettings)


def build_graph(spec: RunSpec) -> Graph:
    """The graph the file's `[graph]` table declares, validated (see `GraphSpec.build`)."""
    return spec.graph.build()


def derived_seed(seed: int, *path: int) -> int:
    """An independent 31-bit seed for `path` (a role and an index) under the run's seed."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0] & 0x7FFF_FFFF)


class NodeBuilder:
    """Builds actors for one process; data and the model are made once and shared.

    Args:
        spec: the validated topology.
        recorder: actor the server tells `Done` (None in tests).
        heartbeats: heartbeat every parent–child link (real runs; None: never,
            as in a simulation, whose clients fail by the behaviour models).
        device: where clients train (None: the file's `[client] device`).
        submit: hand clients' training to a simulation's workers (None: train in this process).
    """

    def __init__(
        self,
        spec: RunSpec,
        recorder: str | None = None,
        heartbeats: Heartbeats | None = None,
        *,
        device: str | None = None,
        submit: Submit | None = None,
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.heartbeats = heartbeats
        self.device = device or spec.client.device
        self.submit = submit
        self.graph = build_graph(spec)
        learners = [n.id for n in self.graph.learners()]
        self.data: FederatedData = build_federated_data(
            spec.data, spec.data.partition, len(learners), spec.seed
        )
        self._shared_model: nn.Module | None = None
        self._initial: dict[str, torch.Tensor] | None = None
        epochs = spec.client.epochs or 1
        behaviour = spec.behaviour
        work = LocalWork(spec.client.batch_size, spec.client.steps)  # partial work counts steps
        self.behaviours = build_behaviours(
            learners, behaviour.compute, behaviour.availability, epochs, spec.seed, work
        )
        self.mixing = spec.graph.mixing_matrix(self.graph) if self.graph.kind == "gossip" else None

    def actor_ids(self) -> list[str]:
        """Every actor of the run, parents first: the graph's nodes, and the monitor of a gossip graph."""
        ids = [n.id for n in self.graph.nodes]
        return [MONITOR, *ids] if self.graph.kind == "gossip" else ids

    def build(self, actor_ids: Sequence[str]) -> list[tuple[str, Actor]]:
        """The named actors, parents first as in `actor_ids`; servers and schedulers
        restored from their checkpoints when the run resumes.

        Raises:
            CheckpointError: a checkpoint cannot be read, or does not fit its actor.
        """
        built = [
            (actor_id, self._monitor() if actor_id == MONITOR else self._actor(self.graph.node(actor_id)))
            for actor_id in actor_ids
        ]
        for _, actor in built:
            if isinstance(actor, ServerActor | Scheduler):  # a scheduler restores its group server
                actor.resume()
        return built

    def checkpointer(self, actor_id: str) -> Checkpointer | None:
        """Where `actor_id` checkpoints: nowhere in a simulation, or when no launcher resolved a directory."""
        config = self.spec.checkpoint
        if self.spec.mode == "sim" or config.directory is None:
            return None
        return Checkpointer(config, actor_id)

    def links(self) -> SimLinks | None:
        """The link model of `[behaviour.links]` (None when every link is instant)."""
        if self.spec.behaviour.links.is_instant:
            return None
        return SimLinks(self.graph, self.spec.behaviour.links, self.spec.seed)

    def compression(self) -> EdgeCodecs | None:
        """The schemes of `[compression]` (None when no link compresses)."""
        table = self.spec.compression.table(self.graph)
        return EdgeCodecs(table, self.spec.seed) if table else None

    def initial_weights(self, seed: int | None = None) -> dict[str, torch.Tensor]:
        """The global model at version 0 (the same in every process for a seed);
        `seed` overrides the run's seed (gossip peers that start apart).

        The run's own is built once and shared (the server and every scheduler
        start from it; no one changes a model's tensors in place)."""
        if seed is None and self._initial is not None:
            return self._initial
        model = self._model(seed)
        weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if seed is None:
            self._initial = weights
        return weights

    def _actor(self, node: GraphNode) -> Actor:
        if node.role == "server":
            return self._server(node.id)
        if node.role == "peer":
            return self._peer(node)
        parent = self.graph.parent_of(node.id)
        assert parent is not None, f"{node.role} {node.id} has no parent"
        if node.role == "scheduler":
            return self._scheduler(node, parent)
        return TrainerClient(
            self._client_trainer(node.index),
            parent,
            self.behaviours[node.id],
            fallbacks=self.fallbacks(node.id),
            heartbeats=self.heartbeats,
        )

    def fallbacks(self, node_id: str) -> list[str]:
        """Where `node_id` goes, in turn, when its parent is lost: each lost scheduler's
        declared fallback (`[liveness] fallback`) or else its parent, up to the server."""
        declared = self.spec.liveness.fallback
        chain: list[str] = []
        seen = {node_id}
        current = self.graph.parent_of(node_id)
        while current is not None and current not in seen and self.graph.node(current).role == "scheduler":
            seen.add(current)
            current = declared.get(current) or self.graph.parent_of(current)
            if current is not None and current not in seen:
                chain.append(current)
        return chain

    def _scheduler(self, node: GraphNode, parent: str) -> Actor:
        config = self.spec.scheduler
        assert config is not None, "RunSpec requires [scheduler] when the graph has schedulers"
        return SCHEDULERS[type(config)](self, config, node, parent)

    def _relay(self, config: RelayConfig, node: GraphNode, parent: str) -> Actor:
        return RelayScheduler(parent, self.fallbacks(node.id), self.heartbeats, self.relays_below(node.id))

    def _hierfavg(self, config: HierFavgConfig, node: GraphNode, parent: str) -> Actor:
        group, fallbacks = len(self.graph.children_of(node.id)), self.fallbacks(node.id)
        config, deps = self._cancelling(config), self._scheduler_deps(node)
        rounds = rounds_group(config, self.initial_weights(), deps, group)
        return HierFavgScheduler(config, rounds, parent, group, fallbacks)

    def _async_edge(self, config: AsyncEdgeConfig, node: GraphNode, parent: str) -> Actor:
        group, fallbacks = len(self.graph.children_of(node.id)), self.fallbacks(node.id)
        edge = ASYNC_EDGES[type(config.edge)]
        server = async_group(config, self.initial_weights(), self._scheduler_deps(node))
        return edge(config, server, parent, group, fallbacks)

    def _scheduler_deps(self, node: GraphNode) -> ServerDeps:
        # Its subtree, and the subtrees of the schedulers that fall back on it.
        adopted = [s for s, target in self.spec.liveness.fallback.items() if target == node.id]
        expected = self._subtree(node.id).union(*(self._subtree(s) for s in adopted))
        return ServerDeps(
            evaluator=None,
            stop=None,
            seed=derived_seed(self.spec.seed, 6, node.index),
            expected_clients=frozenset(expected),
            heartbeats=self.heartbeats,
            checkpoint=self.checkpointer(node.id),
            relays=self.relays_below(node.id),
        )

    def relays_below(self, node_id: str) -> dict[str, frozenset[str]]:
        """The relays whose `Relayed` `node_id` takes (those below it, and below the schedulers
        that fall back on it), each with its subtree: the children it may speak for."""
        if not isinstance(self.spec.scheduler, RelayConfig):
            return {}
        adopted = [s for s, target in self.spec.liveness.fallback.items() if target == node_id]
        below = self._subtree(node_id).union(*(self._subtree(s) | {s} for s in adopted))
        relays = [n for n in below if self.graph.node(n).role == "scheduler"]
        return {relay: frozenset(self._subtree(relay)) for relay in relays}

    def _subtree(self, node_id: str) -> set[str]:
        """Every node below `node_id` in the tree."""
        below: set[str] = set()
        stack = [node_id]
        while stack:
            children = self.graph.children_of(stack.pop())
            below.update(children)
            stack.extend(children)
        return below

    def _peer(self, node: GraphNode) -> Actor:
        config = self.spec.peer
        assert config is not None, "RunSpec requires [peer] for gossip graphs"
        assert self.mixing is not None, "gossip graphs have mixing weights"
        trainer = self._client_trainer(node.index)
        own_seed = derived_seed(self.spec.seed, 5, node.index) if config.init == "independent" else None
        initial = self.initial_weights(own_seed)
        behaviour = self.behaviours[node.id]
        if isinstance(config, DpsgdConfig):
            row = self.mixing[node.index]
            mixing = {self.graph.nodes[j].id: float(w) for j, w in enumerate(row) if w > 0}
            return DpsgdPeer(config, trainer, mixing, initial, MONITOR, behaviour)
        seed = derived_seed(self.spec.seed, 7, node.index)
        return PairwisePeer(config, trainer, self.graph.neighbours(node.id), initial, seed, behaviour)

    def _monitor(self) -> Actor:
        config = self.spec.peer
        assert config is not None, "the monitor watches gossip peers"
        evaluator = self._evaluator()
        poll = config.eval_every_s if isinstance(config, PairwiseConfig) else None
        peers = [n.id for n in self.graph.of_role("peer")]
        return GossipMonitor(peers, evaluator.evaluate, self.spec.stop, self.recorder, poll)

    def _server(self, node_id: str) -> Actor:
        config = self.spec.server
        assert config is not None, "RunSpec requires [server] when the graph has a server"
        evaluator = self._evaluator()
        deps = ServerDeps(
            evaluator=evaluator.evaluate,
            stop=self.spec.stop,
            seed=derived_seed(self.spec.seed, 0),
            recorder=self.recorder,
            eval_every=config.eval_every,
            # Its subtree, not only its children: relays forward their children's messages as theirs.
            expected_clients=frozenset(n.id for n in self.graph.nodes) - {self.graph.root()},
            heartbeats=self.heartbeats,
            checkpoint=self.checkpointer(node_id),
            relays=self.relays_below(node_id),
            train_evaluator=self._train_evaluator(config.eval_train, config.eval_train_samples),
        )
        if isinstance(config, RoundSettings):
            config = self._cancelling(config)
        # each class in SERVERS takes (config, initial, deps); the registry types them as ServerActor
        return SERVERS[config.algorithm](config, self.initial_weights(), deps)  # type: ignore[call-arg, arg-type]

    def _train_evaluator(self, wanted: bool, samples: int | None) -> Evaluator | None:
        """Scores a model on the union of the clients' training data, or a fixed seeded sample."""
        if not wanted:
            return None
        x = torch.cat([c.x for c in self.data.clients])
        y = torch.cat([c.y for c in self.data.clients])
        if samples is not None and samples < len(y):
            generator = torch.Generator().manual_seed(derived_seed(self.spec.seed, 8))
            keep = torch.randperm(len(y), generator=generator)[:samples]
            x, y = x[keep], y[keep]
        return TorchTrainer(self._model(), x, y, TrainConfig(), 0).evaluate

    def _cancelling(self, config: R) -> R:
        """Synchronous rounds cancel late clients' work by default in simulations only."""
        if config.cancel_late is not None:
            return config
        return config.model_copy(update={"cancel_late": self.spec.mode == "sim"})

    def _client_trainer(self, index: int) -> Trainer:
        trainer = self.client_trainer(index)
        if self.submit is None:
            return trainer
        # PendingResult is a TrainResult whose fields arrive with the worker's reply (duck-typed)
        return WorkerTrainer(trainer, index, self.submit)  # type: ignore[return-value]

    def client_trainer(self, index: int) -> Trainer:
        """The in-process trainer of learner `index` (what a worker trains it with)."""
        shard = self.data.clients[index]
        config = TrainConfig.model_validate(self.spec.client.model_dump(exclude={"trainer", "device"}))
        seed = derived_seed(self.spec.seed, 1, index)
        if self.spec.client.trainer is not None:
            factory = resolve_import(self.spec.client.trainer)
            trainer: Trainer = factory(self._shared(), shard.x, shard.y, config, seed)  # the user's class
            return trainer
        return TorchTrainer(self._shared(), shard.x, shard.y, config, seed, self.device)

    def _evaluator(self) -> TorchTrainer:
        # On the clients' device: the server trains nothing, and a GPU evaluates fastest.
        return TorchTrainer(
            self._model(), self.data.test_x, self.data.test_y, TrainConfig(), 0, self.spec.client.device
        )

    def _shared(self) -> nn.Module:
        # Clients of one process train one at a time (one compute thread), so
        # they can share one model object; each task loads its weights first.
        if self._shared_model is None:
            self._shared_model = self._model()
        return self._shared_model

    def _model(self, seed: int | None = None) -> nn.Module:
        seed = self.spec.seed if seed is None else seed
        return build_model(self.spec.model, self.data.input_shape, self.data.num_classes, seed)


#: How each `[scheduler] mode` is built, keyed by its settings class: the mode is written
#: once, in the class's `Literal` (tests check that every member of the union has a builder).
SCHEDULERS: dict[type[BaseModel], Callable[[NodeBuilder, Any, GraphNode, str], Actor]] = {
    HierFavgConfig: NodeBuilder._hierfavg,
    AsyncEdgeConfig: NodeBuilder._async_edge,
    RelayConfig: NodeBuilder._relay,
}

#: The asynchronous edge scheduler of each `[scheduler.edge] algorithm`, keyed by its settings class.
ASYNC_EDGES: dict[type[BaseModel], type[FedAsyncEdge | FedBuffEdge]] = {
    FedAsyncConfig: FedAsyncEdge,
    FedBuffConfig: FedBuffEdge,
}
