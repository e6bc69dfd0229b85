"""The BSRGAN degradation model at an adjustable intensity.

Zhang, Liang, Van Gool, Timofte, "Designing a Practical Degradation Model for Deep Blind
Image Super-Resolution", ICCV 2021. The whole-image ``degradation_bsrgan_variant`` is
published in CompVis/latent-diffusion (``ldm/modules/image_degradation/bsrgan.py``); its
steps are the BSRGAN authors' (``add_blur``, ``add_Gaussian_noise``, ``add_JPEG_noise`` of
cszn/BSRGAN and cszn/KAIR ``utils/utils_blindsr.py``, which publish the cropping
``degradation_bsrgan``). Written anew here with explicit generators. ``sf`` is the scale
factor; ``U(a, b)`` uniform, ``{a..b}`` uniform integers.

Published model (level 1.0):

1. x4 only, probability 0.25: pre-downsample by 2 (half the time with a random OpenCV
   interpolation, half with antialiased bicubic); ``sf`` becomes 2 for the steps below.
2. Six steps in random order, except that downsample 2 always precedes downsample 3:

   * blur (twice), each: p 0.5 anisotropic Gaussian, principal variances ``U(0, 4 + sf)``,
     angle ``U(0, π)``; else isotropic Gaussian, σ ``U(0, 2 + 0.2·sf)``; kernel side
     ``2·{2..11} + 3`` (7–25).
   * downsample 2: p 0.75 resize by ``1 / U(1, 2·sf)`` with a random interpolation
     (bilinear, bicubic, area); else blur with a 25×25 Gaussian of σ ``U(0.1, 0.6·sf)``
     shifted by ``(sf - 1) / 2`` px and keep every ``sf``-th pixel (nearest).
   * downsample 3: resize to exactly H/scale × W/scale with a random interpolation.
   * Gaussian noise, level ``{2..25}/255``: p 0.4 independent per channel, p 0.4 grey
     (one field for all channels), p 0.2 channel-correlated with covariance
     ``|(25/255)² Uᵀ D U|`` (element-wise abs, as the authors), D = diag(U(0, 1)³), U the
     orthonormal basis ``scipy.linalg.orth`` makes of a uniform random 3×3 matrix.
   * JPEG, p 0.9, quality ``{30..95}``.
3. A final JPEG, quality ``{30..95}``.

The processed camera-sensor (ISP) noise step is optional in the original and needs a camera
pipeline model that is not published with it; it is omitted, as in the released code.

Intensity mapping, level ``t`` in [0, 1] (1 = the published model, 0 = clean antialiased
bicubic downsampling, exactly :class:`~semfid_bench.degradations.bicubic.BicubicDownscale`):

* blur: every kernel's standard deviation × t (anisotropic variances × t²); kernel sizes
  and angles as published.
* resampling: strength, not probability, scales. Pre-downsample (p 0.25 at every level):
  by 2^t; downsample 2: factor f^t for a published draw f (blur + nearest: σ × t, stride
  sf^t); downsample 3: antialiased bicubic covers the first 1 - t of the scale change (on a
  log scale), the published random interpolation the last t (:func:`ops.resize_at_level`).
* noise: σ × t (the correlated covariance × t²); the noise type probabilities as published.
* JPEG: quality ``q_t = round(100 - t·(100 - q))`` for a published draw q, so its range is
  [100 - 70t, 100 - 5t]; quality 100 means no JPEG step. The in-sequence JPEG's probability
  is 0.9·t; the final JPEG always runs (unless q_t = 100).

Random numbers come from one generator per step, spawned from the seed, and every
probability is applied as ``u < p·t`` on a draw u that does not depend on t: with the same
seed, a higher level applies the same steps, and more, with proportionally larger widths.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import orth

from semfid_bench.degradations import kernels, ops
from semfid_bench.degradations.sampled import SampledDegradation, Step, quality_at

_BLUR, _BLUR2, _DOWN2, _DOWN3, _NOISE, _JPEG = range(6)
_STEPS = 6


def shuffled_order(rng: np.random.Generator) -> list[int]:
    """A random order of the six steps with downsample 2 moved before downsample 3."""
    order = [int(i) for i in rng.permutation(_STEPS)]
    first, second = order.index(_DOWN2), order.index(_DOWN3)
    if first > second:
        order[first], order[second] = order[second], order[first]
    return order


def _interpolation(rng: np.random.Generator) -> int:
    return ops.INTERPOLATIONS[int(rng.integers(len(ops.INTERPOLATIONS)))]


class BSRGANDegradation(SampledDegradation):
    """BSRGAN's shuffled blur / resampling / noise / JPEG model, scaled by ``level``."""

    def pipeline(self, image, size, level, rng, steps):
        order = shuffled_order(rng)
        streams = rng.spawn(_STEPS + 2)
        sf = self.scale
        if sf == 4:
            image, sf = self._pre_downsample(image, level, streams[_STEPS], steps)
        for index in order:
            stream = streams[index]
            if index in (_BLUR, _BLUR2):
                image = self._blur(image, sf, level, stream, steps)
            elif index == _DOWN2:
                image = self._downsample2(image, sf, level, stream, steps)
            elif index == _DOWN3:
                image = self._downsample3(image, size, level, stream, steps)
            elif index == _NOISE:
                image = self._noise(image, level, stream, steps)
            else:
                image = self._jpeg(image, level, 0.9 * level, stream, steps, "jpeg")
        return self._jpeg(image, level, 1.0, streams[_STEPS + 1], steps, "final jpeg")

    @staticmethod
    def _pre_downsample(image, level, rng, steps) -> tuple[np.ndarray, int]:
        """With p 0.25, shrink by 2^level; the later steps then use the published sf = 2."""
        if rng.random() >= 0.25:
            return image, 4
        factor = 2.0**level
        smaller = (int(image.shape[0] / factor), int(image.shape[1] / factor))
        if smaller == image.shape[:2]:
            return image, 2
        if rng.random() < 0.5:
            interpolation = _interpolation(rng)
            image = ops.resize(image, smaller, interpolation)
            mode = ops.INTERPOLATION_NAMES[interpolation]
        else:
            image = ops.bicubic_resize(image, smaller)
            mode = "antialiased bicubic"
        steps.append(Step("pre-downsample", {"factor": factor, "mode": mode}))
        return np.clip(image, 0.0, 1.0), 2

    @staticmethod
    def _blur(image, sf, level, rng, steps) -> np.ndarray:
        size = 2 * int(rng.integers(2, 12)) + 3
        if rng.random() < 0.5:
            theta = rng.random() * math.pi
            var_x, var_y = ((4.0 + sf) * level**2 * rng.random(2)).tolist()
            kernel = kernels.gaussian(size, var_x, var_y, theta)
            params = {"size": size, "var_x": var_x, "var_y": var_y, "theta": theta}
            name = "anisotropic gaussian blur"
        else:
            sigma = (2.0 + 0.2 * sf) * rng.random() * level
            kernel = kernels.gaussian(size, sigma**2, sigma**2)
            params = {"size": size, "sigma": sigma}
            name = "isotropic gaussian blur"
        if kernels.is_identity(kernel):
            return image
        steps.append(Step(name, params))
        return ops.filter_image(image, kernel)

    @staticmethod
    def _downsample2(image, sf, level, rng, steps) -> np.ndarray:
        """The published random shrink, its factor f raised to the level (f^level)."""
        if rng.random() < 0.75:
            factor = rng.uniform(1.0, 2.0 * sf) ** level
            interpolation = _interpolation(rng)
            size = (int(image.shape[0] / factor), int(image.shape[1] / factor))
            if size == image.shape[:2]:
                return image
            image = ops.resize(image, size, interpolation)
            name = ops.INTERPOLATION_NAMES[interpolation]
            steps.append(Step("downsample 2", {"factor": float(factor), "mode": name}))
        else:
            sigma = rng.uniform(0.1, 0.6 * sf) * level
            stride = float(sf) ** level
            if level == 0.0:
                return image
            kernel = kernels.shifted_gaussian(25, sigma, (stride - 1) / 2)
            image = ops.nearest_downsample(ops.filter_image(image, kernel), stride)
            steps.append(
                Step("downsample 2", {"sigma": float(sigma), "mode": f"blur+nearest x{stride:.3g}"})
            )
        return np.clip(image, 0.0, 1.0)

    @staticmethod
    def _downsample3(image, size, level, rng, steps) -> np.ndarray:
        interpolation = _interpolation(rng)
        image = ops.resize_at_level(image, size, interpolation, level)
        mode = ops.INTERPOLATION_NAMES[interpolation]
        steps.append(Step("downsample 3", {"mode": mode, "aliased share": level}))
        return np.clip(image, 0.0, 1.0)

    @staticmethod
    def _noise(image, level, rng, steps) -> np.ndarray:
        sigma = int(rng.integers(2, 26)) / 255.0 * level
        kind = rng.random()
        if level == 0.0:
            return image
        if kind > 0.6:
            steps.append(Step("gaussian noise", {"sigma": sigma * 255, "kind": "colour"}))
            return ops.gaussian_noise(image, sigma, rng, grey=False)
        if kind < 0.4:
            steps.append(Step("gaussian noise", {"sigma": sigma * 255, "kind": "grey"}))
            return ops.gaussian_noise(image, sigma, rng, grey=True)
        basis = orth(rng.random((3, 3)))
        # The authors' element-wise abs: every channel pair correlates positively (mean
        # r ≈ 0.27); without it the correlations average 0.
        covariance = np.abs((25.0 / 255.0 * level) ** 2 * basis.T @ np.diag(rng.random(3)) @ basis)
        std = float(np.sqrt(np.trace(covariance) / 3) * 255)
        steps.append(Step("gaussian noise", {"sigma": std, "kind": "correlated"}))
        return ops.correlated_noise(image, covariance, rng)

    @staticmethod
    def _jpeg(image, level, probability, rng, steps, name) -> np.ndarray:
        applies = rng.random() < probability
        quality = quality_at(level, int(rng.integers(30, 96)))
        if not applies or quality >= 100:
            return image
        steps.append(Step(name, {"quality": quality}))
        return ops.jpeg(image, quality)
