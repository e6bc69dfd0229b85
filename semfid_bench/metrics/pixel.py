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

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference

# BT.601 limited-range luma from RGB in [0, 1], output in [0, 255] (16–235).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def rgb_to_y(images: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] → (B, 1, H, W) BT.601 limited-range Y in [16, 235].

    Three multiply-adds over single planes (a reduction over the channel axis is ~10×
    slower), written into ``out`` when given (no temporary).
    """
    red, green, blue = _Y_WEIGHTS
    out = torch.mul(images[:, :1], red, out=out)
    return out.add_(images[:, 1:2], alpha=green).add_(images[:, 2:3], alpha=blue).add_(_Y_OFFSET)


def _crop(images: torch.Tensor, border: int) -> torch.Tensor:
    return images[..., border:-border, border:-border] if border > 0 else images


def psnr(
    sr: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0
) -> torch.Tensor:
    """PSNR in dB per image. RGB images in [0, 1]; the Y convention works on [0, 255].

    Y is linear in RGB and its offset cancels, so the Y difference is the Y weights applied
    to the RGB differences, and its mean square is ``wᵀ G w`` with ``G`` the channels'
    mean products of the RGB differences: one pass over the difference serves both
    conventions, with no colour conversion of either image.
    """
    diff = torch.sub(_crop(sr, crop_border).float(), _crop(gt, crop_border).float())
    gram = _channel_gram(diff) / diff[0, 0].numel()
    if y_channel:
        weights = gram.new_tensor(_Y_WEIGHTS) / 255.0
        mean_square = torch.einsum("c,bcd,d->b", weights, gram, weights)
    else:
        mean_square = gram.diagonal(dim1=1, dim2=2).mean(dim=1)
    return (10.0 * torch.log10(1.0 / (mean_square + 1e-8))).float()


_CHUNK = 4096


def _channel_gram(diff: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, C, C) float64: Σ over pixels of each pair of channels' products.

    Float64 precision at BLAS speed, without a copy of ``diff``: each channel's rows are
    taken in blocks of about 4,096 values (contiguous, so a strided view), every block's
    C×C products are one float32 matrix product (one batched matmul per image), and the
    block sums are added in float64. Relative error ~1e-6 against all-float64 (≈ 4e-6 dB).
    """
    diff = diff.contiguous()
    height, width = diff.shape[-2:]
    rows = max(1, _CHUNK // width)
    full = height - height % rows
    grams = []
    for image in diff:
        rest = image[:, full:].reshape(image.shape[0], -1)
        gram = (rest @ rest.T).double()
        if full:  # images shorter than one block are all rest
            blocks = image[:, :full].reshape(image.shape[0], -1, rows * width).transpose(0, 1)
            gram += torch.bmm(blocks, blocks.transpose(1, 2)).sum(dim=0, dtype=torch.float64)
        grams.append(gram)
    return torch.stack(grams)


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
    """One ``sepFilter2D`` per plane, the planes spread over torch's intra-op thread count
    (OpenCV filters a plane on one thread and releases the GIL); each plane is filtered
    into the output buffer directly and the valid region returned as a view (no copy)."""
    import cv2

    half = kernel.numel() // 2
    k = kernel.to(torch.float32).numpy()
    planes = stack.detach().contiguous().reshape(-1, *stack.shape[-2:]).numpy()
    out = np.empty_like(planes)

    def blur(index: int) -> None:
        cv2.sepFilter2D(planes[index], -1, k, k, dst=out[index], borderType=cv2.BORDER_REFLECT)

    workers = min(torch.get_num_threads(), len(planes))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(blur, range(len(planes))))
    else:
        for index in range(len(planes)):
            blur(index)
    return torch.from_numpy(out).reshape(stack.shape)[..., half:-half, half:-half]


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
    # Work on the 8-bit levels themselves (0–255, exact in float32; SSIM's constants scale
    # with the data range), in float32: exact to well below 1e-5 here, at a fraction of
    # float64's cost on CPU. Only x²+y² enters SSIM (in σx²+σy²), so four statistics are
    # filtered, not five. They are written into one buffer and combined in place: on the
    # CPU, allocating and page-faulting fresh full-size temporaries costs more than the
    # arithmetic.
    sr, gt = sr.float(), gt.float()
    channels = 1 if y_channel else sr.shape[1]
    stack = sr.new_empty((sr.shape[0], 4, channels, *sr.shape[-2:]))
    x, y, squares, xy = stack.unbind(dim=1)
    for image, out in ((sr, x), (gt, y)):
        if y_channel:
            rgb_to_y(image, out=out)
        else:
            torch.mul(image, 255.0, out=out)
        out.round_()
    torch.mul(x, x, out=squares).addcmul_(y, y)
    torch.mul(x, y, out=xy)
    stats = _blur_valid(stack.flatten(1, 2), _gaussian_1d())
    mu_x, mu_y, squares, xy = stats.unflatten(1, (4, channels)).unbind(dim=1)
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    mu_xy = mu_x * mu_y
    mean_squares = mu_x.square_().addcmul_(mu_y, mu_y)
    variances = squares.sub_(mean_squares).add_(c2)
    cs = xy.sub_(mu_xy).mul_(2.0).add_(c2).div_(variances)
    if nonnegative_cs:
        cs.clamp_min_(0.0)
    luminance = mu_xy.mul_(2.0).add_(c1).div_(mean_squares.add_(c1))
    # One reduction per image: its summation order then does not depend on the batch size.
    return torch.stack([image.mean() for image in luminance.mul_(cs)])


class PixelMetric(Metric):
    """PSNR or SSIM under one convention, as a metric plugin object."""

    def __init__(
        self, function, *, y_channel: bool, crop_border: int = 0, device: torch.device | None = None
    ) -> None:
        self.function = function
        self.y_channel = y_channel
        self.crop_border = int(crop_border)

    def score(self, sr: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        reference = broadcast_reference(reference, len(sr))
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
