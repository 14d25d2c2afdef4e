"""Shared fixtures: quiet, deterministic logging for every test."""

from __future__ import annotations

import os

import pytest

from actors.logs import configure_logging


@pytest.fixture(autouse=True, scope="session")
def _logging() -> None:
    configure_logging("warning")


@pytest.fixture(autouse=True, scope="session")
def _inline_simulations() -> None:
    # A simulation's default is a worker per core; tests that want workers say so.
    os.environ.setdefault("FEDACTORS_SIM_WORKERS", "1")
