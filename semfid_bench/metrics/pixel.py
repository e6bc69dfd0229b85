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

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.interfaces import Metric

# BT.601 limited-range luma from RGB in [0, 1], output in [0, 255] (16–235).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def _luma_combination(images: torch.Tensor, scale: float) -> torch.Tensor:
    """(B, 3, H, W) → (B, H, W): Σ_c scale·weight_c·channel_c, as three in-place
    multiply-adds over single planes (a reduction over the channel axis is ~10× slower)."""
    red, green, blue = (scale * weight for weight in _Y_WEIGHTS)
    out = images[:, 0] * red
    return out.add_(images[:, 1], alpha=green).add_(images[:, 2], alpha=blue)


def rgb_to_y(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] → (B, 1, H, W) BT.601 limited-range Y in [16, 235]."""
    return _luma_combination(images, 1.0).add_(_Y_OFFSET)[:, None]


def _crop(images: torch.Tensor, border: int) -> torch.Tensor:
    return images[..., border:-border, border:-border] if border > 0 else images


def psnr(
    sr: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """PSNR in dB per image. RGB images in [0, 1]; the Y convention works on [0, 255].

    Y is linear in RGB and its offset cancels, so the Y difference is the Y weights applied
    to the RGB differences: no colour conversion of either image is needed.
    """
    sr, gt = _crop(sr, crop_border).float(), _crop(gt, crop_border).float()
    if y_channel:
        diff = _luma_combination(sr, 1.0 / 255.0).sub_(_luma_combination(gt, 1.0 / 255.0))
    else:
        diff = sr - gt
    return (10.0 * torch.log10(1.0 / (_mean_square(diff) + 1e-8))).float()


_CHUNK = 4096


def _mean_square(diff: torch.Tensor) -> torch.Tensor:
    """Per-image mean of ``diff``², float64 precision at BLAS speed.

    The difference is reshaped into chunks of 4,096 values; each chunk's sum of squares is
    a dot product (one batched matmul, no squared copy), and the chunk sums are added in
    float64. Relative error ~1e-6 against an all-float64 computation (≈ 4e-6 dB).
    """
    diff = diff.reshape(diff.shape[0], -1)
    count = diff.shape[1]
    if count % _CHUNK:
        diff = F.pad(diff, (0, _CHUNK - count % _CHUNK))
    chunks = diff.reshape(-1, 1, _CHUNK)
    sums = torch.bmm(chunks, chunks.transpose(1, 2)).reshape(diff.shape[0], -1)
    return sums.sum(dim=1, dtype=torch.float64) / count


_WINDOW = 11


def _gaussian_1d(size: int = _WINDOW, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    kernel = torch.exp(-(x**2) / (2.0 * sigma**2))
    return kernel / kernel.sum()


def _blur_valid(stack: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, 'valid' region, applied to every channel of ``stack``.

    On the CPU OpenCV's SIMD ``sepFilter2D`` runs it ~20× faster than torch's depthwise
    convolution; elsewhere (and when gradients are needed) torch convolves.
    """
    if stack.device.type == "cpu" and not stack.requires_grad:
        return _blur_valid_opencv(stack, kernel)
    return _blur_valid_torch(stack, kernel)


def _blur_valid_torch(stack: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    channels = stack.shape[1]
    k = kernel.to(stack)
    horizontal = k.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = k.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(stack, horizontal, groups=channels)
    return F.conv2d(out, vertical, groups=channels)


def _blur_valid_opencv(stack: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    import cv2

    *lead, height, width = stack.shape
    half = kernel.numel() // 2
    k = kernel.to(torch.float64).numpy()
    planes = stack.detach().contiguous().reshape(-1, height, width).numpy()
    out = np.empty((len(planes), height - 2 * half, width - 2 * half), planes.dtype)
    for plane, target in zip(planes, out, strict=True):
        filtered = cv2.sepFilter2D(plane, -1, k, k, borderType=cv2.BORDER_REFLECT)
        target[...] = filtered[half:-half, half:-half]
    return torch.from_numpy(out).reshape(*lead, *out.shape[1:])


def ssim(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    y_channel: bool = False,
    crop_border: int = 0,
    nonnegative_cs: bool = True,
) -> torch.Tensor:
    """Mean SSIM per image (channels averaged for RGB).

    ``nonnegative_cs`` clamps the contrast-structure term at 0 as pyiqa does (the metric
    plugins' convention, used by the thesis); BasicSR and Wang's MATLAB code do not clamp.
    """
    sr, gt = _crop(sr, crop_border), _crop(gt, crop_border)
    if min(sr.shape[-2:]) < _WINDOW:
        height, width = sr.shape[-2:]
        raise ValueError(
            f"SSIM needs images of at least {_WINDOW}×{_WINDOW} px after removing a "
            f"{crop_border}-px border; got {width}×{height}"
        )
    # Work in [0, 1] (SSIM is scale-invariant with C1, C2 scaled alike): float32 stays exact
    # to well below 1e-5 here, at a fraction of float64's cost on CPU. The five statistics
    # are written into one buffer and combined in place: on the CPU, allocating and
    # page-faulting fresh full-size temporaries costs more than the arithmetic.
    sr, gt = sr.float(), gt.float()
    channels = 1 if y_channel else sr.shape[1]
    stack = sr.new_empty((sr.shape[0], 5, channels, *sr.shape[-2:]))
    x, y, xx, yy, xy = stack.unbind(dim=1)
    for image, out in ((sr, x), (gt, y)):
        out.copy_(rgb_to_y(image) if y_channel else image.mul(255.0))
        out.round_().div_(255.0)
    torch.mul(x, x, out=xx)
    torch.mul(y, y, out=yy)
    torch.mul(x, y, out=xy)
    stats = _blur_valid(stack.flatten(1, 2), _gaussian_1d())
    mu_x, mu_y, xx, yy, xy = stats.unflatten(1, (5, channels)).unbind(dim=1)
    c1, c2 = 0.01**2, 0.03**2
    mu_xy = mu_x * mu_y
    mu_x.square_()
    mu_y.square_()
    variances = xx.sub_(mu_x).add_(yy).sub_(mu_y).add_(c2)
    cs = xy.sub_(mu_xy).mul_(2.0).add_(c2).div_(variances)
    if nonnegative_cs:
        cs.clamp_min_(0.0)
    luminance = mu_xy.mul_(2.0).add_(c1).div_(mu_x.add_(mu_y).add_(c1))
    return luminance.mul_(cs).mean(dim=(1, 2, 3))


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
