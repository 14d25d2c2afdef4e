"""A trainer that kills its own worker process in client 3's second task (as an OOM kill would)."""

from __future__ import annotations

import os
import signal

from actors.client.local_sgd import TrainResult
from actors.client.trainer import TorchTrainer
from actors.statedict import StateDict
from sims.build import derived_seed

RUN_SEED = 7  # the seed of tests.sims.workers.topologies
DYING_CLIENT_SEED = derived_seed(RUN_SEED, 1, 3)  # client 3's, as the builder derives it


class DyingTrainer(TorchTrainer):
    def fit_task(self, weights: StateDict, epochs: int | None, number: int) -> tuple[StateDict, TrainResult]:
        if self.seed == DYING_CLIENT_SEED and number == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit_task(weights, epochs, number)
