"""Colour correction of diffusion SR outputs towards the LR input (SeeSR, StableSR, PASD).

Diffusion SR drifts in colour; the authors match each output channel's statistics to the
(upscaled) LR image: AdaIN (per-channel mean and standard deviation) or the wavelet fix
(keep the output's high frequencies, take the LR image's low frequencies).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adain_colour_fix(
    image: torch.Tensor, reference: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Give each channel of ``image`` the mean and std of ``reference`` ((B, C, H, W) each).

    Variances are unbiased with ``eps`` added, as in the authors' ``calc_mean_std``.
    """

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.flatten(2)
        return flat.mean(2)[..., None, None], (flat.var(2) + eps).sqrt()[..., None, None]

    mean, std = stats(image.float())
    ref_mean, ref_std = stats(reference.float())
    return ((image.float() - mean) / std * ref_std + ref_mean).clamp(0.0, 1.0)


def _wavelet_blur(image: torch.Tensor, radius: int) -> torch.Tensor:
    kernel = (
        torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=image.dtype, device=image.device) / 16
    )
    kernel = kernel.expand(image.shape[1], 1, 3, 3)
    padded = F.pad(image, (radius,) * 4, mode="replicate")
    return F.conv2d(padded, kernel, groups=image.shape[1], dilation=radius)


def _wavelet_split(image: torch.Tensor, levels: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """(high frequencies, low frequencies) by an à-trous wavelet of ``levels`` levels."""
    high = torch.zeros_like(image)
    low = image
    for level in range(levels):
        blurred = _wavelet_blur(low, 2**level)
        high = high + (low - blurred)
        low = blurred
    return high, low


def wavelet_colour_fix(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """High frequencies of ``image`` plus low frequencies of ``reference`` (same size)."""
    high, _ = _wavelet_split(image.float())
    _, low = _wavelet_split(reference.float())
    return (high + low).clamp(0.0, 1.0)


def colour_fix(image: torch.Tensor, reference: torch.Tensor, method: str) -> torch.Tensor:
    """Dispatch on ``method``: ``adain``, ``wavelet`` or ``none``."""
    if method == "adain":
        return adain_colour_fix(image, reference)
    if method == "wavelet":
        return wavelet_colour_fix(image, reference)
    if method in ("none", "nofix"):
        return image
    raise ValueError(f"colour_fix must be adain, wavelet or none, not {method!r}")
