"""Bicubic downscaling: the classic, noise-free SR benchmark degradation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semfid_bench.interfaces import Degradation


class BicubicDownscale(Degradation):
    """Antialiased bicubic downscaling by ``scale`` (like MATLAB's ``imresize``).

    It has no randomness and no intensity: ``level`` and ``seed`` are accepted and ignored.
    """

    def __init__(self, scale: int = 4, device: torch.device | None = None) -> None:
        self.scale = int(scale)

    def degrade(self, hr: torch.Tensor, *, level: float = 1.0, seed: int = 0) -> torch.Tensor:
        height, width = hr.shape[-2:]
        if height % self.scale or width % self.scale:
            raise ValueError(
                f"image size {width}x{height} is not divisible by the scale {self.scale}"
            )
        size = (height // self.scale, width // self.scale)
        lr = F.interpolate(hr[None], size=size, mode="bicubic", antialias=True)
        return lr[0].clamp(0.0, 1.0)
