"""Tiled latent inference: run a denoiser on overlapping tiles of the latent and blend.

Diffusion SR models denoise a latent as large as the output (÷ the VAE factor); on large
images one UNet call over the whole latent exhausts GPU memory. As SeeSR's and StableSR's
own samplers do, every denoising step here splits the latent into overlapping tiles, runs
the denoiser on each, and blends the predictions with Gaussian weights so that no seams
appear. Conditioning tensors that are spatially aligned with the latent (the LR image, a
ControlNet hint at pixel resolution) are cut at the matching place, scaled by their
resolution ratio to the latent.

Pixel-space tiling for feed-forward models (cut the LR image, upscale each tile, blend the
outputs) is a separate module, ``tiling.py`` (issue 6). :func:`tile_starts` and
:func:`gaussian_weights` do not depend on the space they tile, so that is where the two
should meet: one module holds them, and the other imports them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` with at least ``overlap``.

    The last tile ends exactly at ``size``, so every tile has the full length (UNets need
    sizes divisible by their downsampling factor).
    """
    if size <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


#: Variance of the blending Gaussian as a fraction of the tile size squared (σ = 0.1 × tile),
#: as in the authors' ``_gaussian_weights`` (SeeSR, PASD and StableSR share it).
TILE_VARIANCE = 0.01


def gaussian_weights(height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """(1, 1, H, W) blending weights: the authors' ``_gaussian_weights`` (cswry/SeeSR
    ``pipelines/pipeline_seesr.py``, yangxy/PASD ``pasd/pipelines/pipeline_pasd.py``,
    IceClear/StableSR ``ldm/models/diffusion/ddpm.py``), value for value. Normal densities
    with variance ``0.01 × size²``; columns centre on ``(W - 1) / 2``, rows on ``H / 2`` (half
    a pixel low: the authors' asymmetry, kept). Never zero inside a tile."""

    def axis(n: int, centre: float) -> torch.Tensor:
        x = torch.arange(n, dtype=torch.float64)
        density = torch.exp(-((x - centre) ** 2) / (n * n) / (2 * TILE_VARIANCE))
        return density / math.sqrt(2 * math.pi * TILE_VARIANCE)

    weights = axis(height, height / 2)[:, None] * axis(width, (width - 1) / 2)[None, :]
    return weights.to(device=device, dtype=dtype)[None, None]


def tiled_predict(
    predict: Callable[..., torch.Tensor],
    sample: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    spatial: Mapping[str, tuple[torch.Tensor, int]] | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """``predict(sample_tile, **spatial_tiles, **kwargs)`` over tiles of ``sample``, blended.

    :param predict: maps a (B, C, h, w) tile to a prediction of the same spatial size.
    :param tile: tile size in latent pixels; inputs no larger run in one call.
    :param spatial: name → (tensor, ratio) for conditioning aligned with ``sample`` whose
        resolution is ``ratio`` times the latent's; each is cut at the same place.
    """
    spatial = dict(spatial or {})
    height, width = sample.shape[-2:]
    if height <= tile and width <= tile:
        return predict(sample, **{k: v for k, (v, _) in spatial.items()}, **kwargs)
    th, tw = min(tile, height), min(tile, width)
    weights = gaussian_weights(th, tw, device=sample.device, dtype=torch.float32)
    total = None
    norm = torch.zeros((1, 1, height, width), device=sample.device, dtype=torch.float32)
    for y in tile_starts(height, th, overlap):
        for x in tile_starts(width, tw, overlap):
            crops = {
                name: value[..., y * r : (y + th) * r, x * r : (x + tw) * r]
                for name, (value, r) in spatial.items()
            }
            pred = predict(sample[..., y : y + th, x : x + tw], **crops, **kwargs).float()
            if total is None:
                total = torch.zeros(
                    (*pred.shape[:-2], height, width), device=pred.device, dtype=torch.float32
                )
            total[..., y : y + th, x : x + tw] += pred * weights
            norm[..., y : y + th, x : x + tw] += weights
    return (total / norm).to(sample.dtype)


class TiledUNet(torch.nn.Module):
    """A diffusers UNet that runs tiled over its sample when it exceeds ``tile``.

    A drop-in for pipelines whose UNet input holds everything spatial (the x4 upscaler
    concatenates the noisy LR image into the sample): the pipeline's own loop is kept.
    """

    def __init__(self, unet: torch.nn.Module, *, tile: int, overlap: int) -> None:
        super().__init__()
        self.unet = unet
        self.tile = int(tile)
        self.overlap = int(overlap)

    @property
    def config(self):
        return self.unet.config

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def device(self) -> torch.device:
        return self.unet.device

    def forward(self, sample: torch.Tensor, timestep, *args, return_dict: bool = False, **kwargs):
        """Same arguments as the UNet's; always returns a one-tuple (pipelines index [0])."""

        def predict(tile_sample: torch.Tensor) -> torch.Tensor:
            return self.unet(tile_sample, timestep, *args, return_dict=False, **kwargs)[0]

        result = tiled_predict(predict, sample, tile=self.tile, overlap=self.overlap)
        return (result,)
