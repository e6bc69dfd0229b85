"""Regenerate the BSRGAN parity fixtures by running the authors' degradation code.

The reference is ``ldm/modules/image_degradation/bsrgan.py`` of CompVis/latent-diffusion
(where ``degradation_bsrgan_variant`` is published; its ``add_Gaussian_noise`` is the same
code as cszn/KAIR ``utils/utils_blindsr.py``). Check it out at the pinned commit OUTSIDE
this repository and pass its root:

    git clone https://github.com/CompVis/latent-diffusion /work/refs/latent-diffusion
    git -C /work/refs/latent-diffusion checkout a506df5756472e2ebaf9078affdde2c4f1502cd4
    python scripts/parity/bsrgan_reference.py --latent-diffusion /work/refs/latent-diffusion

Three shims make the 2022 code run today, without changing what it computes: an empty
``albumentations`` module (imported, unused by these functions), ``scipy.finfo`` (an alias
of ``numpy.finfo`` that SciPy dropped) and ``interp2d``, removed from SciPy 1.14, as the
bilinear grid interpolation it performs in ``shift_pixel``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import scipy.interpolate
from skimage import data

COMMIT = "a506df5756472e2ebaf9078affdde2c4f1502cd4"
MODULE = "ldm/modules/image_degradation/bsrgan.py"
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity"
# The GT of the level-1.0 fixture: a 192×192 crop of skimage's astronaut (x4 → 48×48).
CROP = (slice(100, 292), slice(150, 342))
SEEDS = 200
COVARIANCES = 300


def _interp2d(x, y, z):
    """SciPy's removed ``interp2d(x, y, z)`` (linear, points inside the grid)."""
    grid = scipy.interpolate.RegularGridInterpolator((y, x), z)

    def evaluate(x1, y1):
        yy, xx = np.meshgrid(y1, x1, indexing="ij")
        return grid(np.stack([yy, xx], axis=-1))

    return evaluate


def load_reference(root: Path):
    sys.modules.setdefault("albumentations", types.ModuleType("albumentations"))
    scipy.interpolate.interp2d = _interp2d
    scipy.finfo = np.finfo
    sys.path.insert(0, str(root))
    from ldm.modules.image_degradation import bsrgan

    return bsrgan


def psnr_of_bicubic_upsampling(lr: np.ndarray, gt: np.ndarray) -> float:
    """PSNR (dB) of the 8-bit LR enlarged with OpenCV bicubic, against the 8-bit GT."""
    up = cv2.resize(lr, gt.shape[1::-1], interpolation=cv2.INTER_CUBIC).astype(np.float64)
    return float(10 * np.log10(255.0**2 / np.mean((up - gt.astype(np.float64)) ** 2)))


def correlated_noise_fixture(bsrgan) -> dict:
    """Inter-channel correlations of the covariances ``add_Gaussian_noise`` samples from."""
    recorded = []
    original = np.random.multivariate_normal

    def recording(mean, cov, size=None, *args, **kwargs):
        recorded.append(np.asarray(cov, dtype=np.float64))
        return original(mean, cov, size, *args, **kwargs)

    np.random.multivariate_normal = recording
    try:
        seed = 0
        while len(recorded) < COVARIANCES:
            random.seed(seed)
            np.random.seed(seed)
            bsrgan.add_Gaussian_noise(np.full((4, 4, 3), 0.5, np.float32))
            seed += 1
    finally:
        np.random.multivariate_normal = original
    correlations = []
    for cov in recorded:
        std = np.sqrt(np.diag(cov))
        corr = cov / np.outer(std, std)
        correlations.append([round(float(corr[i, j]), 5) for i, j in ((0, 1), (0, 2), (1, 2))])
    return {
        "source": {
            "repository": "CompVis/latent-diffusion",
            "commit": COMMIT,
            "function": f"{MODULE}:add_Gaussian_noise (channel-correlated branch)",
        },
        "what": "correlation coefficients (r01, r02, r12) of the covariance passed to "
        "np.random.multivariate_normal, one row per draw; seeds 0.. of random and np.random",
        "correlations": correlations,
    }


def level_one_fixture(bsrgan) -> dict:
    """Per-seed PSNR of ``degradation_bsrgan_variant`` x4 outputs on a real photograph."""
    gt = np.ascontiguousarray(data.astronaut()[CROP])
    values = []
    for seed in range(SEEDS):
        random.seed(seed)
        np.random.seed(seed)
        lr = bsrgan.degradation_bsrgan_variant(gt, sf=4)["image"]
        values.append(round(psnr_of_bicubic_upsampling(lr, gt), 4))
    return {
        "source": {
            "repository": "CompVis/latent-diffusion",
            "commit": COMMIT,
            "function": f"{MODULE}:degradation_bsrgan_variant (sf=4)",
        },
        "what": "PSNR (dB) of the 8-bit LR enlarged by cv2 INTER_CUBIC vs the 8-bit GT, "
        "GT = skimage.data.astronaut()[100:292, 150:342], seeds 0..199 of random and np.random",
        "crop": [[CROP[0].start, CROP[0].stop], [CROP[1].start, CROP[1].stop]],
        "psnr": values,
    }


def kernels_fixture(bsrgan) -> dict:
    """Blur kernels from the reference's own constructors, at a few parameter sets."""
    anisotropic = [(7, 0.3, 4.1, 1.3), (15, 2.2, 0.6, 2.9), (25, 7.5, 3.0, 0.4)]
    isotropic = [(9, 0.8), (17, 2.6)]
    shifted = [(0.5, 2), (1.5, 4), (2.4, 4)]
    out = {
        "source": {
            "repository": "CompVis/latent-diffusion",
            "commit": COMMIT,
            "function": f"{MODULE}:anisotropic_Gaussian, fspecial('gaussian'), shift_pixel",
        },
        "anisotropic": [],
        "isotropic": [],
        "shifted": [],
    }
    for size, theta, l1, l2 in anisotropic:
        kernel = bsrgan.anisotropic_Gaussian(ksize=size, theta=theta, l1=l1, l2=l2)
        out["anisotropic"].append(
            {
                "size": size,
                "theta": theta,
                "l1": l1,
                "l2": l2,
                "kernel": np.round(kernel, 10).tolist(),
            }
        )
    for size, sigma in isotropic:
        kernel = bsrgan.fspecial("gaussian", size, sigma)
        out["isotropic"].append(
            {"size": size, "sigma": sigma, "kernel": np.round(kernel, 10).tolist()}
        )
    for sigma, sf in shifted:  # as downsample 2's blur + nearest branch builds it
        kernel = bsrgan.shift_pixel(bsrgan.fspecial("gaussian", 25, sigma), sf)
        kernel = kernel / kernel.sum()
        out["shifted"].append({"sigma": sigma, "sf": sf, "kernel": np.round(kernel, 10).tolist()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent-diffusion", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=FIXTURES)
    args = parser.parse_args()
    bsrgan = load_reference(args.latent_diffusion)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, fixture in (
        ("bsrgan_correlated_noise.json", correlated_noise_fixture(bsrgan)),
        ("bsrgan_level1_psnr.json", level_one_fixture(bsrgan)),
        ("bsrgan_kernels.json", kernels_fixture(bsrgan)),
    ):
        (args.out / name).write_text(json.dumps(fixture, indent=1) + "\n")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
