"""Consistency of an SR image with the LR image it was made from (opensr-test's
*consistency*): the SR image is brought back to LR resolution and compared with the LR.

An SR image that does not downsample back to its LR has added or removed content, however
it looks. Four numbers, each a metric of its own:

- ``lr-psnr``: PSNR (dB, RGB in [0, 1]) of downsampled SR against LR;
- ``lr-mae``: mean absolute difference (opensr-test's ``reflectance``, ``l1``);
- ``lr-sam``: mean per-pixel spectral angle in degrees between the RGB vectors
  (opensr-test's ``spectral``, ``sad``; pixels where either vector is zero are skipped);
- ``lr-shift``: length in LR pixels of the translation between downsampled SR and LR,
  by phase correlation (opensr-test's ``spatial``, ``pcc``). opensr-test reports NaN
  beyond 5 px; here the measured length is kept.

Both images lose ``border`` LR pixels on every side (opensr-test's ``border_mask`` of 16
HR pixels at ×4 is the default 4). ``resize`` says how SR reaches LR resolution:

- ``bicubic`` (default): the whole SR image downsampled exactly as the ``bicubic``
  degradation does (antialiased bicubic, clamped to [0, 1]), then cropped, so SR = GT
  gives its LR up to 8-bit rounding;
- ``opensr-test``: opensr-test's procedure, the SR cropped by ``border``·scale pixels first,
  then downsampled bilinearly (antialiased); the crop-first order changes the outermost
  LR pixels (the filter no longer sees beyond the crop).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.degradations.bicubic import resize_bicubic
from semfid_bench.metrics.lr_alignment import estimate_shift
from semfid_bench.metrics.pixel import psnr
from semfid_bench.plugin_api.interfaces import Metric

RESIZES = ("bicubic", "opensr-test")


def lr_scale(sr: torch.Tensor, lr: torch.Tensor) -> int:
    """The integer factor between SR and LR sizes; a clear error otherwise."""
    (height, width), (low_h, low_w) = sr.shape[-2:], lr.shape[-2:]
    if (
        sr.shape[0] != lr.shape[0]
        or height % low_h
        or width % low_w
        or (height // low_h != width // low_w)
    ):
        raise ValueError(
            f"SR {tuple(sr.shape)} is not an integer multiple of LR {tuple(lr.shape)} "
            "(same factor for height and width)"
        )
    return height // low_h


def crop_border(sr: torch.Tensor, lr: torch.Tensor, border: int) -> tuple[torch.Tensor, ...]:
    """SR and LR without ``border`` LR pixels on each side (``border``·scale for SR)."""
    scale = lr_scale(sr, lr)
    if border == 0:
        return sr, lr
    low_h, low_w = lr.shape[-2:]
    if 2 * border >= min(low_h, low_w):
        raise ValueError(f"LR {low_w}x{low_h} is too small for a {border}-px border")
    wide = border * scale
    return sr[..., wide:-wide, wide:-wide], lr[..., border:-border, border:-border]


def to_lr(sr: torch.Tensor, lr: torch.Tensor, resize: str, border: int) -> tuple[torch.Tensor, ...]:
    """SR brought to LR resolution as ``resize`` says, and LR, both without the border."""
    scale = lr_scale(sr, lr)
    if resize == "bicubic":
        size = tuple(lr.shape[-2:])
        down = torch.stack([resize_bicubic(image, size).clamp(0.0, 1.0) for image in sr])
        return crop_border(down, lr, border) if border else (down, lr)
    sr, lr = crop_border(sr, lr, border)
    return F.interpolate(sr, scale_factor=1.0 / scale, mode="bilinear", antialias=True), lr


def spectral_angle(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean over pixels of the angle (degrees) between RGB vectors; NaN pixels
    (a zero vector) are skipped, as opensr-test's ``nanmean`` does."""
    cosine = (x * y).sum(dim=1) / (x.norm(dim=1) * y.norm(dim=1))
    return torch.rad2deg(cosine.clamp(-1.0, 1.0).acos()).flatten(1).nanmean(dim=1)


def mean_absolute(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().flatten(1).mean(dim=1)


def shift_length(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per image: length of the translation (pixels) registering ``y`` onto ``x``."""
    lengths = [
        float(np.linalg.norm(estimate_shift(a.cpu().numpy(), b.cpu().numpy())))
        for a, b in zip(x.float(), y.float(), strict=True)
    ]
    return torch.tensor(lengths, dtype=torch.float64)


MEASURES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "psnr": psnr,
    "mae": mean_absolute,
    "sam": spectral_angle,
    "shift": shift_length,
}


class LRConsistency(Metric):
    """One consistency measure between the downsampled SR image and the LR image."""

    def __init__(self, measure: str, *, resize: str = "bicubic", border: int = 4) -> None:
        if resize not in RESIZES:
            raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
        if not isinstance(border, int) or isinstance(border, bool) or border < 0:
            raise ValueError(f"border must be a non-negative integer (LR pixels), got {border!r}")
        self.measure, self.resize, self.border = MEASURES[measure], resize, border

    def reference(self, gt, items):
        return None

    def score(self, sr: torch.Tensor, reference=None, *, lr: torch.Tensor) -> torch.Tensor:
        lr = lr.to(sr.device, torch.float32)
        down, lr = to_lr(sr.float(), lr, self.resize, self.border)
        return self.measure(down, lr).float()


def _factory(measure: str):
    def make(device=None, resize: str = "bicubic", border: int = 4) -> LRConsistency:
        return LRConsistency(measure, resize=resize, border=border)

    make.__name__ = f"make_lr_{measure}"
    return make


make_lr_psnr = _factory("psnr")
make_lr_mae = _factory("mae")
make_lr_sam = _factory("sam")
make_lr_shift = _factory("shift")
