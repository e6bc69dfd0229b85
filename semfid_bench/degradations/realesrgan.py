"""Real-ESRGAN's second-order degradation model at an adjustable intensity.

Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data", ICCVW 2021; parameters are the defaults of its training configuration
(``options/train_realesrgan_x4plus.yml``), written anew here with explicit generators.
``U(a, b)`` is uniform; "published" means level 1.0.

Kernels (both stages): side uniform in {7, 9, ..., 21}; with p 0.1 a circular sinc with
cut-off ``U(π/3, π)`` (``U(π/5, π)`` for sides ≥ 13); else one of isotropic / anisotropic
Gaussian, generalized Gaussian, plateau with p 0.45 / 0.25 / 0.12 / 0.03 / 0.12 / 0.03,
σ ``U(0.2, 3)`` (stage 2: ``U(0.2, 1.5)``), angle ``U(-π, π)``, shape β ``U(0.5, 4)``
(generalized) or ``U(1, 2)`` (plateau), each drawn below or above 1 with p 0.5.

1. Stage 1: blur; resize up ``U(1, 1.5)`` / down ``U(0.15, 1)`` / keep with p 0.2 / 0.7 /
   0.1 by a random interpolation (area, bilinear, bicubic); noise: p 0.5 Gaussian σ
   ``U(1, 30)/255``, else Poisson with scale ``U(0.05, 3)``, either grey with p 0.4;
   JPEG quality ``U(30, 95)``.
2. Stage 2: blur with p 0.8 (σ as above); resize to up ``U(1, 1.2)`` / down ``U(0.3, 1)``
   / keep (1) times the final LR size with p 0.3 / 0.4 / 0.3; noise: Gaussian σ
   ``U(1, 25)/255`` or Poisson scale ``U(0.05, 2.5)``; then, in random order (p 0.5 each),
   either [resize to the LR size by a random interpolation, then sinc filter with p 0.8
   (cut-off ``U(π/3, π)``), then JPEG ``U(30, 95)``] or [JPEG, then resize and sinc filter].

Simplified from the original: OpenCV resizing instead of ``torch.nn.functional.interpolate``
(the same half-pixel bilinear and bicubic; OpenCV's "area" interpolates when enlarging where
torch's repeats pixels); OpenCV's libjpeg at the rounded quality instead of the
differentiable DiffJPEG; one image at a time on the CPU instead of a GPU batch. The
training code degrades the unsharp-masked GT; ``realesrgan`` degrades the GT itself (the
image the SR output is scored against), ``realesrgan-usm`` the unsharp-masked one.

Intensity mapping, level ``t`` in [0, 1] (1 = the published model, 0 = clean antialiased
bicubic downsampling, exactly :class:`~semfid_bench.degradations.bicubic.BicubicDownscale`):

* blur: every kernel's σ × t; the sinc filters' probabilities × t (0.1·t in each stage,
  0.8·t for the final one), cut-offs as published; the stage-2 blur probability 0.8·t.
* resampling: strength, not probability, scales: stage 1 resizes by f^t and stage 2 to
  f^t × the LR size for a published draw f; in stage 2 antialiased bicubic covers the
  first 1 - t of the scale change (on a log scale), the published random interpolation
  the last t (:func:`ops.resize_at_level`).
* noise: Gaussian σ × t, Poisson scale × t; the noise type probabilities as published.
* unsharp mask (``realesrgan-usm`` only): weight 0.5·t.
* JPEG: quality ``q_t = round(100 - t·(100 - q))`` for a published draw q, range
  [100 - 70t, 100 - 5t]; quality 100 means no JPEG step.

As in :mod:`~semfid_bench.degradations.bsrgan`, each step has its own generator spawned from
the seed and every probability is applied as ``u < p·t`` on a level-independent draw u.
"""

from __future__ import annotations

import math

import numpy as np

from semfid_bench.degradations import kernels, ops
from semfid_bench.degradations.sampled import SampledDegradation, Step, quality_at

KERNEL_SIDES = tuple(range(7, 22, 2))
KERNEL_TYPES = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
KERNEL_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
_GENERALIZED_BETA = (0.5, 4.0)
_PLATEAU_BETA = (1.0, 2.0)


def _beta(rng: np.random.Generator, low: float, high: float) -> float:
    return rng.uniform(low, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, high)


def sample_kernel(
    rng: np.random.Generator, sigma_range: tuple[float, float], level: float, sinc_prob: float
) -> tuple[np.ndarray, Step]:
    """One stage's blur kernel: a sinc with p ``sinc_prob``, else a mixed Gaussian-family one."""
    side = int(rng.choice(KERNEL_SIDES))
    if rng.random() < sinc_prob:
        cutoff = rng.uniform(math.pi / 3 if side < 13 else math.pi / 5, math.pi)
        return kernels.circular_sinc(side, cutoff), Step(
            "sinc blur", {"size": side, "cutoff": cutoff}
        )
    kind = KERNEL_TYPES[int(rng.choice(len(KERNEL_TYPES), p=KERNEL_PROBS))]
    sigma_x = rng.uniform(*sigma_range)
    sigma_y, theta = sigma_x, 0.0
    if kind.endswith("aniso"):
        sigma_y, theta = rng.uniform(*sigma_range), rng.uniform(-math.pi, math.pi)
    var_x, var_y = (sigma_x * level) ** 2, (sigma_y * level) ** 2
    params = {"size": side, "sigma_x": sigma_x * level, "sigma_y": sigma_y * level, "theta": theta}
    if kind.startswith("generalized"):
        params["beta"] = beta = _beta(rng, *_GENERALIZED_BETA)
        kernel = kernels.generalized_gaussian(side, var_x, var_y, theta, beta)
    elif kind.startswith("plateau"):
        params["beta"] = beta = _beta(rng, *_PLATEAU_BETA)
        kernel = kernels.plateau(side, var_x, var_y, theta, beta)
    else:
        kernel = kernels.gaussian(side, var_x, var_y, theta)
    return kernel, Step(f"{kind} blur", params)


class RealESRGANDegradation(SampledDegradation):
    """Real-ESRGAN's two-stage blur / resize / noise / JPEG model, scaled by ``level``."""

    #: Degrade an unsharp-masked copy of the image, as Real-ESRGAN's training does.
    usm = False

    def pipeline(self, image, size, level, rng, steps):
        s = rng.spawn(10)
        t = level
        if self.usm and t > 0.0:
            steps.append(Step("unsharp mask", {"weight": 0.5 * t}))
            image = ops.unsharp_mask(image, 0.5 * t)
        image = self._blur(image, (0.2, 3.0), 1.0, 0.1 * t, t, s[0], steps, "stage 1")
        image = self._resize1(image, t, s[1], steps)
        image = self._noise(image, (1.0, 30.0), (0.05, 3.0), t, s[2], steps, "stage 1")
        image = self._jpeg(image, t, s[3], steps, "stage 1")
        image = self._blur(image, (0.2, 1.5), 0.8 * t, 0.1 * t, t, s[4], steps, "stage 2")
        image = self._resize2(image, size, t, s[5], steps)
        image = self._noise(image, (1.0, 25.0), (0.05, 2.5), t, s[6], steps, "stage 2")
        if s[7].random() < 0.5:
            image = self._final_resize_and_sinc(image, size, t, s[8], steps)
            return self._jpeg(image, t, s[9], steps, "final")
        image = self._jpeg(image, t, s[9], steps, "final")
        return self._final_resize_and_sinc(image, size, t, s[8], steps)

    @staticmethod
    def _blur(image, sigma_range, probability, sinc_prob, level, rng, steps, stage):
        if not rng.random() < probability:
            return image
        kernel, step = sample_kernel(rng, sigma_range, level, sinc_prob)
        if kernels.is_identity(kernel):
            return image
        steps.append(Step(f"{stage} {step.name}", step.params))
        return ops.filter_image(image, kernel)

    @staticmethod
    def _resize1(image, level, rng, steps):
        """The published random resize, its factor f raised to the level (f^level)."""
        direction = rng.choice(3, p=(0.2, 0.7, 0.1))
        factor = (rng.uniform(1.0, 1.5), rng.uniform(0.15, 1.0), 1.0)[direction] ** level
        interpolation = ops.INTERPOLATIONS[int(rng.integers(3))]
        size = (int(image.shape[0] * factor), int(image.shape[1] * factor))
        if size == image.shape[:2]:
            return image
        mode = ops.INTERPOLATION_NAMES[interpolation]
        steps.append(Step("stage 1 resize", {"factor": float(factor), "mode": mode}))
        return ops.resize(image, size, interpolation)

    @staticmethod
    def _resize2(image, size, level, rng, steps):
        """To f^level × the LR size; the interpolation's aliasing scaled by the level."""
        direction = rng.choice(3, p=(0.3, 0.4, 0.3))
        factor = (rng.uniform(1.0, 1.2), rng.uniform(0.3, 1.0), 1.0)[direction] ** level
        interpolation = ops.INTERPOLATIONS[int(rng.integers(3))]
        mode = ops.INTERPOLATION_NAMES[interpolation]
        params = {"factor of LR size": float(factor), "mode": mode, "aliased share": level}
        steps.append(Step("stage 2 resize", params))
        target = (int(size[0] * factor), int(size[1] * factor))
        return ops.resize_at_level(image, target, interpolation, level)

    @staticmethod
    def _noise(image, gaussian_range, poisson_range, level, rng, steps, stage):
        gaussian = rng.random() < 0.5
        grey = bool(rng.random() < 0.4)
        kind = "grey" if grey else "colour"
        if gaussian:
            sigma = rng.uniform(*gaussian_range) * level
            if sigma == 0.0:
                return image
            steps.append(Step(f"{stage} gaussian noise", {"sigma": sigma, "kind": kind}))
            return ops.gaussian_noise(image, sigma / 255.0, rng, grey=grey)
        scale = rng.uniform(*poisson_range) * level
        if scale == 0.0:
            return image
        steps.append(Step(f"{stage} poisson noise", {"scale": scale, "kind": kind}))
        return ops.poisson_noise(image, scale, rng, grey=grey)

    @staticmethod
    def _jpeg(image, level, rng, steps, stage):
        quality = quality_at(level, rng.uniform(30.0, 95.0))
        if quality >= 100:
            return image
        steps.append(Step(f"{stage} jpeg", {"quality": quality}))
        return ops.jpeg(image, quality)

    @staticmethod
    def _final_resize_and_sinc(image, size, level, rng, steps):
        interpolation = ops.INTERPOLATIONS[int(rng.integers(3))]
        if image.shape[:2] != size:
            mode = ops.INTERPOLATION_NAMES[interpolation]
            steps.append(Step("final resize", {"mode": mode}))
            image = ops.resize(image, size, interpolation)
        if rng.random() < 0.8 * level:
            side = int(rng.choice(KERNEL_SIDES))
            cutoff = rng.uniform(math.pi / 3, math.pi)
            steps.append(Step("final sinc blur", {"size": side, "cutoff": cutoff}))
            image = ops.filter_image(image, kernels.circular_sinc(side, cutoff))
        return image


class RealESRGANUSMDegradation(RealESRGANDegradation):
    """The same model applied to the unsharp-masked image (BasicSR's ``USMSharp``, weight
    0.5·level), exactly as Real-ESRGAN makes its training LR images from ``gt_usm``."""

    usm = True
