"""The one place the harness asks which device it runs on.

Training records ``detect().kind`` and ``.name`` in every ``TrainResult``; the cost estimate,
the out-of-memory message and the GPU check name the device through the same function, so
a run never describes one machine in two ways.

torch is imported inside the functions: importing it takes seconds, and a caller that only
formats or reads results (the report, ``python -m qa_models.evaluate``) never needs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Kind = Literal["cuda", "mps", "cpu"]

MPS_NAME = "mps (Apple GPU)"
"""The display name of Apple's GPU: torch offers no product name for it."""


@dataclass(frozen=True)
class Device:
    """What a run trains on, as data."""

    kind: Kind
    """"cuda", "mps" or "cpu": what readers branch on (never the display name)."""
    name: str
    """For people: "NVIDIA H100 80GB HBM3", "mps (Apple GPU)" or "cpu (2 cores)"."""
    index: int | None = None
    """The CUDA ordinal; None off CUDA."""


def has_cuda() -> bool:
    """True when a CUDA GPU is visible (the harness computes on CUDA or on the CPU)."""
    import torch

    return torch.cuda.is_available()


def cpu() -> Device:
    """The host CPU; its name counts the cores, since that is what bounds a CPU run's speed."""
    return Device("cpu", f"cpu ({os.cpu_count()} cores)")


def detect(index: int = 0) -> Device:
    """CUDA GPU ``index`` when CUDA is visible, else Apple's GPU when MPS is, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.cuda.get_device_name(index), index)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return Device("mps", MPS_NAME)
    return cpu()


def torch_device() -> str:
    """Where the harness puts tensors: "cuda" or "cpu". MPS is detected and recorded but not
    computed on: the Trainer is told ``use_cpu`` whenever CUDA is absent, and the model must
    sit where the Trainer's batches go."""
    return "cuda" if has_cuda() else "cpu"


def host_memory_bytes() -> int:
    """The machine's RAM in bytes."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001 - psutil missing or unreadable: sysconf is always there on Linux/macOS
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def memory_bytes(device: Device) -> int:
    """Memory a run on ``device`` can use: the GPU's total for CUDA, else the host RAM (MPS
    shares it with the CPU)."""
    if device.kind == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    return host_memory_bytes()


__all__ = ["Device", "Kind", "MPS_NAME", "cpu", "detect", "has_cuda", "host_memory_bytes", "memory_bytes", "torch_device"]
