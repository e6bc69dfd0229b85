"""Image operations shared by the randomised degradation models.

Images here are (H, W, 3) float32 RGB numpy arrays in [0, 1] (values may leave the range
between steps; every noise and JPEG step clamps). Randomness is never drawn here: callers
pass the sampled parameters, or an explicit :class:`numpy.random.Generator` for noise.
"""

from __future__ import annotations

import cv2
import numpy as np

# OpenCV interpolations the published models choose from at random.
LINEAR, CUBIC, AREA = cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA
INTERPOLATIONS: tuple[int, ...] = (LINEAR, CUBIC, AREA)
INTERPOLATION_NAMES = {LINEAR: "bilinear", CUBIC: "bicubic", AREA: "area"}


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel with ``kernel``, mirroring the border (scipy's 'mirror')."""
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def resize(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """Resize to ``size`` = (height, width) with an OpenCV interpolation (no antialiasing)."""
    height, width = max(1, size[0]), max(1, size[1])
    if (height, width) == image.shape[:2]:
        return image
    return cv2.resize(image, (width, height), interpolation=interpolation)


def bicubic_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bicubic resize (MATLAB ``imresize``), exactly as ``BicubicDownscale``."""
    import torch

    from semfid_bench.degradations.bicubic import resize_bicubic

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    return resize_bicubic(tensor, size).numpy().transpose(1, 2, 0)


def resize_at_level(
    image: np.ndarray, size: tuple[int, int], interpolation: int, level: float
) -> np.ndarray:
    """A published random-interpolation resize to ``size``, its aliasing scaled by ``level``.

    The scale change is split on a log scale: antialiased bicubic covers the first
    ``1 - level`` of it, the published (non-antialiased) ``interpolation`` the last
    ``level``. Level 1 is the published resize alone, level 0 antialiased bicubic alone.
    """
    height, width = max(1, size[0]), max(1, size[1])
    middle = tuple(
        max(1, round(target * (source / target) ** level))
        for source, target in zip(image.shape[:2], (height, width), strict=True)
    )
    if middle != image.shape[:2]:
        image = bicubic_resize(image, middle)
    return resize(image, (height, width), interpolation)


def nearest_downsample(image: np.ndarray, factor: float) -> np.ndarray:
    """Keep the pixels at 0, factor, 2·factor, … (rounded down): ``[::sf]`` for integers."""
    rows = np.floor(np.arange(0.0, image.shape[0], factor)).astype(int)
    columns = np.floor(np.arange(0.0, image.shape[1], factor)).astype(int)
    return image[rows][:, columns]


def unsharp_mask(image: np.ndarray, weight: float) -> np.ndarray:
    """BasicSR's ``usm_sharp`` (radius 51, threshold 10/255): add ``weight`` × the detail
    above a Gaussian blur (σ 8), blended in only where that detail exceeds the threshold."""
    blur = cv2.GaussianBlur(image, (51, 51), 0)
    residual = image - blur
    mask = (np.abs(residual) * 255 > 10).astype(np.float32)
    soft_mask = cv2.GaussianBlur(mask, (51, 51), 0)
    sharp = np.clip(image + weight * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * image


def gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, grey: bool
) -> np.ndarray:
    """Add white Gaussian noise of std ``sigma``; ``grey`` uses one field for all channels."""
    shape = (*image.shape[:2], 1) if grey else image.shape
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(image + noise, 0.0, 1.0)


def correlated_noise(
    image: np.ndarray, covariance: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Add Gaussian noise whose three channels have the 3×3 ``covariance``."""
    values, vectors = np.linalg.eigh(covariance)
    mixing = (vectors * np.sqrt(np.clip(values, 0.0, None))).T.astype(np.float32)
    white = rng.standard_normal((*image.shape[:2], 3), dtype=np.float32)
    return np.clip(image + white @ mixing, 0.0, 1.0)


def poisson_noise(
    image: np.ndarray, scale: float, rng: np.random.Generator, *, grey: bool
) -> np.ndarray:
    """Real-ESRGAN's Poisson (shot) noise, multiplied by ``scale``.

    As BasicSR's ``generate_poisson_noise``: the image (or its luma) is rounded to 8-bit
    levels, the photon count per unit intensity is the number of distinct levels rounded up
    to a power of two, and the noise is the Poisson draw minus the rounded image. Counting
    the distinct values of the unrounded float image instead gives up to 2^24 "levels" and
    noise ~30× too weak.
    """
    source = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None] if grey else image
    source = np.clip((source * 255.0).round(), 0, 255) / np.float32(255.0)
    levels = float(2 ** np.ceil(np.log2(len(np.unique(source)))))
    counts = rng.poisson(source.astype(np.float64) * levels)
    noise = (counts / levels).astype(np.float32) - source
    return np.clip(image + noise * np.float32(scale), 0.0, 1.0)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` with OpenCV (libjpeg, 4:2:0 chroma)."""
    pixels = np.clip(image * 255.0, 0, 255).round().astype(np.uint8)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return decoded.astype(np.float32) / 255.0
