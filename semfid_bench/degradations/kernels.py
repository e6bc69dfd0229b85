"""Blur kernels of the BSRGAN and Real-ESRGAN degradation models, as normalised numpy arrays.

Every kernel is square with an odd side, centred on its middle pixel (except
:func:`shifted_gaussian`) and point-symmetric, so correlation and convolution agree.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import j1

# Variances below this are treated as zero width: the kernel collapses to its centre pixel.
_MIN_VARIANCE = 1e-12


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    half = (size - 1) / 2
    axis = np.arange(size, dtype=np.float64) - half
    return np.meshgrid(axis, axis)


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return (kernel / kernel.sum()).astype(np.float32)


def _mahalanobis(size: int, var_x: float, var_y: float, theta: float) -> np.ndarray:
    """xᵀ Σ⁻¹ x on the kernel grid, Σ = R(θ) diag(var_x, var_y) R(θ)ᵀ."""
    x, y = _grid(size)
    cos, sin = math.cos(theta), math.sin(theta)
    u = cos * x + sin * y  # coordinates along the rotated principal axes
    v = -sin * x + cos * y
    return u * u / max(var_x, _MIN_VARIANCE) + v * v / max(var_y, _MIN_VARIANCE)


def gaussian(size: int, var_x: float, var_y: float, theta: float = 0.0) -> np.ndarray:
    """Anisotropic Gaussian with principal variances ``var_x``, ``var_y`` rotated by θ."""
    return _normalised(np.exp(-0.5 * _mahalanobis(size, var_x, var_y, theta)))


def generalized_gaussian(
    size: int, var_x: float, var_y: float, theta: float, beta: float
) -> np.ndarray:
    """exp(-½ (xᵀΣ⁻¹x)^β): β < 1 gives heavier tails, β > 1 a flatter top (Real-ESRGAN)."""
    return _normalised(np.exp(-0.5 * _mahalanobis(size, var_x, var_y, theta) ** beta))


def plateau(size: int, var_x: float, var_y: float, theta: float, beta: float) -> np.ndarray:
    """1 / (1 + (xᵀΣ⁻¹x)^β): a flat-topped kernel with slow tails (Real-ESRGAN)."""
    return _normalised(1.0 / (1.0 + _mahalanobis(size, var_x, var_y, theta) ** beta))


def circular_sinc(size: int, cutoff: float) -> np.ndarray:
    """Ideal circular low-pass (2-D sinc) with cut-off frequency ``cutoff`` in (0, π].

    It imitates ringing and overshoot artefacts: ω·J₁(ω r) / (2π r), ω² / 4π at r = 0.
    """
    x, y = _grid(size)
    radius = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * j1(cutoff * radius) / (2 * np.pi * radius)
    kernel[radius == 0] = cutoff**2 / (4 * np.pi)
    return _normalised(kernel)


def shifted_gaussian(size: int, sigma: float, shift: float) -> np.ndarray:
    """Isotropic Gaussian whose centre sits ``shift`` pixels right of and below the middle.

    Correlating with it and then keeping every ``sf``-th pixel with ``shift = (sf - 1) / 2``
    averages each sf×sf block around its own centre (BSRGAN's blur + nearest downsampling).
    """
    x, y = _grid(size)
    exponent = ((x - shift) ** 2 + (y - shift) ** 2) / (2 * sigma**2)
    # Relative to the nearest pixel, so a narrow kernel between pixels does not underflow.
    return _normalised(np.exp(exponent.min() - exponent))


def is_identity(kernel: np.ndarray) -> bool:
    """True if (almost) all the weight is on the centre pixel, so filtering is a no-op."""
    centre = kernel.shape[0] // 2
    return bool(kernel[centre, centre] >= 1.0 - 1e-6)
