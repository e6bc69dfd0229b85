"""Blur kernels: normalised, the requested widths and orientations, sinc cut-off, shifts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semfid_bench.degradations import kernels


def _moments(kernel: np.ndarray) -> tuple[float, float, float, float]:
    """Centroid (y, x) relative to the middle, and variances along y and x, in pixels."""
    y, x = np.indices(kernel.shape) - (kernel.shape[0] - 1) / 2
    cy, cx = (kernel * y).sum(), (kernel * x).sum()
    return cy, cx, (kernel * (y - cy) ** 2).sum(), (kernel * (x - cx) ** 2).sum()


@pytest.mark.parametrize(
    "kernel",
    [
        kernels.gaussian(21, 4.0, 1.0, 0.3),
        kernels.generalized_gaussian(21, 2.0, 3.0, 1.0, 0.6),
        kernels.plateau(21, 2.0, 3.0, 1.0, 1.5),
        kernels.circular_sinc(21, 1.2),
        kernels.shifted_gaussian(25, 1.5, 1.5),
    ],
)
def test_kernels_sum_to_one(kernel):
    assert kernel.dtype == np.float32
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)


def test_gaussian_has_the_requested_variances_and_angle():
    _, _, var_y, var_x = _moments(kernels.gaussian(31, 4.0, 1.0))
    assert var_x == pytest.approx(4.0, rel=1e-3) and var_y == pytest.approx(1.0, rel=1e-3)
    _, _, var_y, var_x = _moments(kernels.gaussian(31, 4.0, 1.0, math.pi / 2))
    assert var_x == pytest.approx(1.0, rel=1e-3) and var_y == pytest.approx(4.0, rel=1e-3)


def test_zero_width_is_the_identity():
    assert kernels.is_identity(kernels.gaussian(7, 0.0, 0.0))
    assert kernels.is_identity(kernels.generalized_gaussian(7, 0.0, 0.0, 0.5, 0.7))
    assert not kernels.is_identity(kernels.gaussian(7, 0.3, 0.3))


def test_shifted_gaussian_centre_moves_down_and_right():
    cy, cx, _, _ = _moments(kernels.shifted_gaussian(25, 1.0, 1.5))
    assert cy == pytest.approx(1.5, abs=1e-6) and cx == pytest.approx(1.5, abs=1e-6)


def test_generalized_beta_changes_tails_and_plateau_is_flat_topped():
    heavy = kernels.generalized_gaussian(21, 4.0, 4.0, 0.0, 0.5)
    light = kernels.generalized_gaussian(21, 4.0, 4.0, 0.0, 4.0)
    assert heavy[10, 0] / heavy[10, 10] > light[10, 0] / light[10, 10]
    plateau, gaussian = kernels.plateau(21, 4.0, 4.0, 0.0, 2.0), kernels.gaussian(21, 4.0, 4.0)
    assert plateau[10, 11] / plateau[10, 10] > gaussian[10, 11] / gaussian[10, 10]  # flatter top
    assert plateau[10, 0] / plateau[10, 10] > 100 * gaussian[10, 0] / gaussian[10, 10]  # tails


def test_sinc_passes_low_and_stops_high_frequencies():
    cutoff = math.pi / 2
    response = np.abs(np.fft.fftshift(np.fft.fft2(kernels.circular_sinc(21, cutoff), s=(128, 128))))
    frequency = np.fft.fftshift(np.fft.fftfreq(128)) * 2 * math.pi
    radius = np.hypot(*np.meshgrid(frequency, frequency))
    assert response[radius < 0.6 * cutoff].min() > 0.8
    assert response[radius > 1.4 * cutoff].max() < 0.2


def test_narrow_shifted_gaussian_between_pixels_does_not_underflow():
    kernel = kernels.shifted_gaussian(25, 0.03, 0.26)
    assert np.isfinite(kernel).all() and kernel.sum() == pytest.approx(1.0, abs=1e-6)
    assert kernel[12, 12] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("ours", "name", "args"),
    [
        (kernels.gaussian, "bivariate_Gaussian", (1.3, 2.4, 0.7)),
        (kernels.generalized_gaussian, "bivariate_generalized_Gaussian", (1.3, 2.4, -2.1, 0.6)),
        (kernels.generalized_gaussian, "bivariate_generalized_Gaussian", (2.9, 0.4, 1.0, 3.5)),
        (kernels.plateau, "bivariate_plateau", (1.3, 2.4, 0.7, 1.4)),
        (kernels.plateau, "bivariate_plateau", (0.5, 0.5, 0.0, 1.9)),
    ],
)
@pytest.mark.parametrize("size", [7, 13, 21])
def test_real_esrgan_kernels_equal_basicsr(basicsr, ours, name, args, size):
    """BasicSR takes standard deviations, ours variances; the rest is the same formula."""
    from basicsr.data import degradations

    sigma_x, sigma_y, theta, *beta = args
    theirs = getattr(degradations, name)(size, sigma_x, sigma_y, theta, *beta, isotropic=False)
    mine = ours(size, sigma_x**2, sigma_y**2, theta, *beta)
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-7)


@pytest.mark.parametrize("cutoff", [math.pi / 5, 1.1, math.pi])
def test_circular_sinc_equals_basicsr(basicsr, cutoff):
    from basicsr.data.degradations import circular_lowpass_kernel

    for size in (7, 13, 21):
        theirs = circular_lowpass_kernel(cutoff, size, pad_to=0)
        np.testing.assert_allclose(kernels.circular_sinc(size, cutoff), theirs, rtol=0, atol=1e-7)
