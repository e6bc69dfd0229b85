"""PSNR and SSIM, batched in torch, under the conventions SR papers and pyiqa use.

Two conventions are provided, each named in the metric's spec:

- RGB: all three channels, no crop (pyiqa ``psnr`` / ``ssimc``).
- Y: luma of limited-range BT.601 YCbCr (16–235), as BasicSR reports it in SR papers
  (pyiqa with ``test_y_channel=True, color_space='ycbcr'``), with ``crop_border`` pixels
  removed on each side.

SSIM follows Wang et al. (2004) with an 11×11 Gaussian window (σ = 1.5), valid
convolution, data quantised to 8-bit levels first (MATLAB and pyiqa do the same).
The window is separable, so it runs as two 1-D convolutions: the 2-D window that pyiqa
uses is the outer product of the same 1-D kernel, so the values agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semfid_bench.interfaces import Metric

# BT.601 limited-range luma from RGB in [0, 1], output in [0, 255] (16–235).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def rgb_to_y(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] → (B, 1, H, W) BT.601 limited-range Y in [16, 235]."""
    weights = images.new_tensor(_Y_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True) + _Y_OFFSET


def _crop(images: torch.Tensor, border: int) -> torch.Tensor:
    return images[..., border:-border, border:-border] if border > 0 else images


def psnr(
    sr: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """PSNR in dB per image. RGB images in [0, 1]; the Y convention works on [0, 255]."""
    sr, gt = _crop(sr, crop_border), _crop(gt, crop_border)
    if y_channel:
        sr, gt = rgb_to_y(sr.double()) / 255.0, rgb_to_y(gt.double()) / 255.0
    mse = _mean_squared_error(sr, gt)
    return (10.0 * torch.log10(1.0 / (mse + 1e-8))).float()


_CHUNK = 4096


def _mean_squared_error(sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-image MSE in float64 precision at BLAS speed.

    The difference is reshaped into chunks of 4,096 values; each chunk's sum of squares is
    a dot product (one batched matmul, no squared copy), and the chunk sums are added in
    float64. Relative error ~1e-6 against an all-float64 computation (≈ 4e-6 dB).
    """
    diff = (sr - gt).reshape(sr.shape[0], -1)
    count = diff.shape[1]
    if count % _CHUNK:
        diff = F.pad(diff, (0, _CHUNK - count % _CHUNK))
    chunks = diff.reshape(-1, 1, _CHUNK)
    sums = torch.bmm(chunks, chunks.transpose(1, 2)).reshape(sr.shape[0], -1)
    return sums.sum(dim=1, dtype=torch.float64) / count


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    kernel = torch.exp(-(x**2) / (2.0 * sigma**2))
    return kernel / kernel.sum()


def _blur_valid(stack: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, 'valid' region, applied to every channel of ``stack``."""
    channels = stack.shape[1]
    k = kernel.to(stack)
    horizontal = k.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = k.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(stack, horizontal, groups=channels)
    return F.conv2d(out, vertical, groups=channels)


def ssim(
    sr: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """Mean SSIM per image (channels averaged for RGB)."""
    sr, gt = _crop(sr, crop_border), _crop(gt, crop_border)
    if y_channel:
        x, y = rgb_to_y(sr).round(), rgb_to_y(gt).round()
    else:
        x, y = (sr * 255.0).round(), (gt * 255.0).round()
    # Work in [0, 1] (SSIM is scale-invariant with C1, C2 scaled alike): float32 stays exact
    # to well below 1e-5 here, at a fraction of float64's cost on CPU.
    x, y = x.float() / 255.0, y.float() / 255.0
    c1, c2 = 0.01**2, 0.03**2
    channels = x.shape[1]
    stats = _blur_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), _gaussian_1d())
    mu_x, mu_y, xx, yy, xy = stats.split(channels, dim=1)
    mu_xy, mu_xx, mu_yy = mu_x * mu_y, mu_x * mu_x, mu_y * mu_y
    cs = ((2.0 * (xy - mu_xy) + c2) / ((xx - mu_xx) + (yy - mu_yy) + c2)).clamp_min(0.0)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs
    return ssim_map.mean(dim=(1, 2, 3))


class PixelMetric(Metric):
    """PSNR or SSIM under one convention, as a metric plugin object."""

    def __init__(
        self, function, *, y_channel: bool, crop_border: int = 0, device: torch.device | None = None
    ) -> None:
        self.function = function
        self.y_channel = y_channel
        self.crop_border = int(crop_border)

    def score(self, sr: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if sr.shape != reference.shape:
            raise ValueError(
                f"SR {tuple(sr.shape)} and GT {tuple(reference.shape)} differ in shape"
            )
        return self.function(sr, reference, y_channel=self.y_channel, crop_border=self.crop_border)


def make_psnr(device: torch.device | None = None, crop_border: int = 0) -> PixelMetric:
    return PixelMetric(psnr, y_channel=False, crop_border=crop_border)


def make_psnr_y(device: torch.device | None = None, crop_border: int = 4) -> PixelMetric:
    return PixelMetric(psnr, y_channel=True, crop_border=crop_border)


def make_ssim(device: torch.device | None = None, crop_border: int = 0) -> PixelMetric:
    return PixelMetric(ssim, y_channel=False, crop_border=crop_border)


def make_ssim_y(device: torch.device | None = None, crop_border: int = 4) -> PixelMetric:
    return PixelMetric(ssim, y_channel=True, crop_border=crop_border)
