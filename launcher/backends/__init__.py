"""Backends that start node processes: `local`, `ssh`, `slurm` (see `base.py` for the interface)."""

from __future__ import annotations

import importlib

from launcher.backends.base import Backend, BackendError, NodeLaunch
from launcher.hosts import HostsSpec

__all__ = ["BACKENDS", "Backend", "BackendError", "NodeLaunch", "make_backend"]

# name -> "module:class"; imported on use, so one backend's imports never burden another
BACKENDS = {
    "local": "launcher.backends.local:LocalBackend",
    "ssh": "launcher.backends.ssh:SshBackend",
    "slurm": "launcher.backends.slurm:SlurmBackend",
}


def make_backend(spec: HostsSpec) -> Backend:
    """The backend the hosts file names, built from it."""
    module, _, cls = BACKENDS[spec.backend].partition(":")
    backend: type[Backend] = getattr(importlib.import_module(module), cls)
    return backend(spec)
