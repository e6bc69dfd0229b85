"""Image operations: noise statistics, JPEG blockiness, blur and resize behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from semfid_bench.degradations import kernels, ops
from semfid_bench.degradations.sampled import quality_at


@pytest.fixture
def photo(photographs) -> np.ndarray:
    return np.ascontiguousarray(photographs["astronaut"].permute(1, 2, 0).numpy())


def _blockiness(image: np.ndarray) -> float:
    """Mean luma jump across 8-px block borders divided by the mean jump inside blocks."""
    luma = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    jumps = np.abs(np.diff(luma, axis=1))
    columns = np.arange(jumps.shape[1])
    return float(jumps[:, columns % 8 == 7].mean() / jumps[:, columns % 8 != 7].mean())


def test_jpeg_blockiness_rises_as_quality_falls(photo):
    values = [_blockiness(ops.jpeg(photo, quality)) for quality in (95, 70, 50, 30)]
    assert values == sorted(values) and values[-1] > 1.2 * values[0], values


def test_jpeg_quality_mapping_is_monotone_and_anchored():
    assert quality_at(1.0, 30) == 30 and quality_at(1.0, 95) == 95
    assert quality_at(0.0, 30) == 100
    qualities = [quality_at(level, 30) for level in np.linspace(0, 1, 11)]
    assert qualities == sorted(qualities, reverse=True)


def test_gaussian_noise_has_the_requested_std_and_grey_is_shared():
    flat = np.full((200, 200, 3), 0.5, np.float32)
    rng = np.random.default_rng(0)
    colour = ops.gaussian_noise(flat, 10 / 255, rng, grey=False) - 0.5
    grey = ops.gaussian_noise(flat, 10 / 255, rng, grey=True) - 0.5
    assert colour.std() == pytest.approx(10 / 255, rel=0.02)
    assert np.corrcoef(colour[..., 0].ravel(), colour[..., 1].ravel())[0, 1] < 0.05
    assert np.array_equal(grey[..., 0], grey[..., 1])


def test_correlated_noise_has_the_requested_covariance():
    covariance = np.array([[4.0, 2.0, 0.0], [2.0, 3.0, 1.0], [0.0, 1.0, 2.0]]) * 1e-4
    flat = np.full((300, 300, 3), 0.5, np.float32)
    noise = ops.correlated_noise(flat, covariance, np.random.default_rng(0)) - 0.5
    assert np.allclose(np.cov(noise.reshape(-1, 3).T), covariance, atol=1e-5)


def test_poisson_noise_is_signal_dependent():
    ramp = np.repeat(np.linspace(0.05, 0.95, 256, dtype=np.float32), 256).reshape(256, 256, 1)
    image = np.repeat(ramp, 3, axis=2)
    noise = ops.poisson_noise(image, 1.0, np.random.default_rng(0), grey=False) - image
    assert abs(noise.mean()) < 1e-3
    assert noise[200:].std() > 1.5 * noise[:56].std()  # brighter rows are noisier


class _GlobalNumpy:
    """A stand-in generator that draws from numpy's global state, as BasicSR does."""

    @staticmethod
    def poisson(lam):
        return np.random.poisson(lam)

    @staticmethod
    def standard_normal(shape, dtype):
        return np.random.randn(*shape).astype(dtype)


@pytest.fixture
def blurred_photo(photo) -> np.ndarray:
    """A real photograph after blur and resize: float values off the 8-bit grid."""
    blurred = ops.filter_image(photo, kernels.gaussian(13, 2.0, 2.0))
    return np.ascontiguousarray(ops.resize(blurred, (160, 160), ops.AREA))


@pytest.mark.parametrize("grey", [False, True])
def test_poisson_noise_equals_basicsr(basicsr, blurred_photo, grey):
    """Same draws → the same array as BasicSR's ``random_add_poisson_noise`` step."""
    from basicsr.data.degradations import add_poisson_noise

    np.random.seed(3)
    ours = ops.poisson_noise(blurred_photo, 1.7, _GlobalNumpy(), grey=grey)
    np.random.seed(3)
    if grey:  # BasicSR's luma is cv2's BGR2GRAY of a BGR image
        bgr = np.ascontiguousarray(blurred_photo[..., ::-1])
        theirs = add_poisson_noise(bgr, scale=1.7, gray_noise=True)[..., ::-1]
    else:
        theirs = add_poisson_noise(blurred_photo, scale=1.7, gray_noise=False)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grey", [False, True])
def test_gaussian_noise_equals_basicsr(basicsr, blurred_photo, grey):
    from basicsr.data.degradations import add_gaussian_noise

    np.random.seed(4)
    ours = ops.gaussian_noise(blurred_photo, 12.0 / 255.0, _GlobalNumpy(), grey=grey)
    np.random.seed(4)
    theirs = add_gaussian_noise(blurred_photo, sigma=12.0, gray_noise=grey)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_poisson_noise_strength_on_a_blurred_photograph(basicsr, blurred_photo):
    """Absolute strength: ~256 photons per unit, std ≈ sqrt(mean / 256), as BasicSR's."""
    from basicsr.data.degradations import generate_poisson_noise

    ours = ops.poisson_noise(blurred_photo, 1.0, np.random.default_rng(0), grey=False)
    ours_std = float((ours - blurred_photo)[8:-8, 8:-8].std())
    np.random.seed(0)
    theirs_std = float(generate_poisson_noise(blurred_photo, 1.0)[8:-8, 8:-8].std())
    assert ours_std == pytest.approx(theirs_std, rel=0.03)
    assert ours_std == pytest.approx(np.sqrt(blurred_photo.mean() / 256), rel=0.1)


def test_blur_reduces_high_frequency_energy(photo):
    def high_frequency_energy(image: np.ndarray) -> float:
        return float((np.diff(image, axis=0) ** 2).mean() + (np.diff(image, axis=1) ** 2).mean())

    weak = ops.filter_image(photo, kernels.gaussian(15, 0.5, 0.5))
    strong = ops.filter_image(photo, kernels.gaussian(15, 4.0, 4.0))
    energies = [high_frequency_energy(x) for x in (photo, weak, strong)]
    assert energies[0] > energies[1] > energies[2]


def test_resize_gives_the_requested_size_and_keeps_same_size_untouched(photo):
    for mode in ops.INTERPOLATIONS:
        assert ops.resize(photo, (37, 51), mode).shape == (37, 51, 3)
    assert ops.resize(photo, photo.shape[:2], ops.CUBIC) is photo
    assert ops.bicubic_resize(photo, (96, 96)).shape == (96, 96, 3)


def test_resize_at_level_runs_from_antialiased_bicubic_to_the_published_resize(photo):
    for mode in ops.INTERPOLATIONS:
        published = ops.resize(photo, (60, 50), mode)
        assert np.array_equal(ops.resize_at_level(photo, (60, 50), mode, 1.0), published)
    clean = ops.bicubic_resize(photo, (60, 50))
    assert np.array_equal(ops.resize_at_level(photo, (60, 50), ops.LINEAR, 0.0), clean)
    errors = [
        float(np.abs(ops.resize_at_level(photo, (60, 50), ops.LINEAR, t) - clean).mean())
        for t in (0.3, 0.7, 1.0)
    ]
    assert 0 < errors[0] < errors[1] < errors[2], errors


def test_nearest_downsample_is_striding_for_integers_and_identity_at_one(photo):
    assert np.array_equal(ops.nearest_downsample(photo, 4.0), photo[::4, ::4])
    assert np.array_equal(ops.nearest_downsample(photo, 1.0), photo)
    height, width = photo.shape[:2]
    assert ops.nearest_downsample(photo, 1.5).shape[:2] == (-(-height * 2 // 3), -(-width * 2 // 3))
