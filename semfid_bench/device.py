"""Choosing the torch device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semfid_bench.errors import SemfidError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cpu``/``cuda[:N]`` are taken as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SemfidError(
            f"Unknown device {name!r}.", hint="Use auto, cpu, cuda or cuda:N."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SemfidError(
            f"Device {name!r} was requested but CUDA is not available.",
            hint="Use --device cpu or --device auto.",
        )
    return device
