"""Choosing the torch device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semfid_bench.plugin_api.errors import SemfidError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cpu``/``cuda[:N]`` are taken as given.

    ``cuda:N`` must name an existing GPU and becomes the current CUDA device, so third-party
    code that calls a bare ``.cuda()`` lands on it too."""
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
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise SemfidError(
                f"Device {name!r} was requested but this machine has {count} CUDA "
                f"device(s) (cuda:0 to cuda:{count - 1}).",
                hint="Use --device cuda:N with N below the device count, or --device cuda.",
            )
        torch.cuda.set_device(device)
    return device
