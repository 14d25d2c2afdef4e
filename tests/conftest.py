"""Shared fixtures: quiet, deterministic logging for every test."""

from __future__ import annotations

import pytest

from actors.logs import configure_logging


@pytest.fixture(autouse=True, scope="session")
def _logging() -> None:
    configure_logging("warning")
