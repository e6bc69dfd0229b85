"""Bicubic downscaling: the classic, noise-free SR benchmark degradation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.interfaces import Degradation


def lr_size(hr: torch.Tensor, scale: int) -> tuple[int, int]:
    """(height, width) of the LR image for ``hr`` at ``scale``; the HR size must divide."""
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(f"image size {width}x{height} is not divisible by the scale {scale}")
    return height // scale, width // scale


def resize_bicubic(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of a (3, H, W) image to ``size`` = (height, width)."""
    return F.interpolate(image[None], size=size, mode="bicubic", antialias=True)[0]


class BicubicDownscale(Degradation):
    """Antialiased bicubic downscaling by ``scale`` (like MATLAB's ``imresize``).

    It has no randomness and no intensity: ``level`` and ``seed`` are accepted and ignored.
    """

    def __init__(self, scale: int = 4, device: torch.device | None = None) -> None:
        self.scale = int(scale)

    def degrade(self, hr: torch.Tensor, *, level: float = 1.0, seed: int = 0) -> torch.Tensor:
        return resize_bicubic(hr, lr_size(hr, self.scale)).clamp(0.0, 1.0)
