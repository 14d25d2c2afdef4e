"""Checking, before anything starts, that the devices a topology names exist here."""

from __future__ import annotations

import torch

from sims.errors import DeviceError
from topologies.spec import RunSpec


def check_devices(spec: RunSpec) -> None:
    """Refuse a CUDA device this machine does not have (`[client] device`, `[sim] devices`).

    Workers on other hosts check their own when they start (`[sim] hosts`).

    Raises:
        DeviceError: CUDA is asked for and absent, or the GPU index is out of range.
    """
    named = [("client.device", spec.client.device)]
    if spec.sim.hosts is None:
        named += [(f"sim.devices[{i}]", device) for i, device in enumerate(spec.sim.devices)]
    for field, device in named:
        check_device(field, device)


def check_device(field: str, device: str) -> None:
    """Refuse `device` (named by `field`) if this machine lacks it.

    Raises:
        DeviceError: as `check_devices`.
    """
    if not device.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise DeviceError(field, device, "CUDA is not available here (no GPU, or a CPU-only torch build)")
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(field, device, f"this machine has {count} GPU(s): cuda:0 to cuda:{count - 1}")
