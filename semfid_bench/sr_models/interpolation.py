"""Interpolation upscalers: the baselines every learned SR model has to beat."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext


class InterpolationUpscaler(SRModel):
    """Upscale by ``scale`` with a torch interpolation mode (``bicubic``, ``nearest``...)."""

    def __init__(
        self, scale: int = 4, mode: str = "bicubic", device: torch.device | None = None
    ) -> None:
        self.scale = int(scale)
        self.mode = mode

    def upscale(self, lr: torch.Tensor, context: UpscaleContext | None = None) -> torch.Tensor:
        kwargs = {} if self.mode in ("nearest", "nearest-exact") else {"align_corners": False}
        sr = F.interpolate(lr, scale_factor=self.scale, mode=self.mode, **kwargs)
        return sr.clamp(0.0, 1.0)
