"""Seeded LR/SR/HR triples shared by scripts/parity/opensr_test_reference.py and the
parity tests of the LR-consistency and correctness metrics: random images and
scikit-image photographs, ×4, every image on 8-bit levels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SCALE = 4
SIDE = 128


def _levels(image: torch.Tensor) -> torch.Tensor:
    return image.clamp(0, 1).mul(255).round().div(255)


def _photo(name: str) -> torch.Tensor:
    from skimage import data

    array = getattr(data, name)()[: SIDE * 2 : 2, 100 : 100 + SIDE * 2 : 2]
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float() / 255


def _down(hr: torch.Tensor) -> torch.Tensor:
    size = (hr.shape[-2] // SCALE, hr.shape[-1] // SCALE)
    return F.interpolate(hr[None], size=size, mode="bicubic", antialias=True)[0]


def _up(lr: torch.Tensor) -> torch.Tensor:
    return F.interpolate(lr[None], scale_factor=SCALE, mode="bicubic")[0]


def cases() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """name → (LR (3, 32, 32), SR (3, 128, 128), HR (3, 128, 128)), floats in [0, 1]."""
    rng = np.random.default_rng(2026)

    def noise(shape, sigma):
        return torch.from_numpy(rng.normal(0, sigma, shape)).float()

    out = {}
    smooth = F.interpolate(torch.from_numpy(rng.random((1, 3, 16, 16))).float(), size=SIDE,
                           mode="bicubic")[0]  # fmt: skip
    random_hr = _levels(0.2 + 0.6 * smooth + noise((3, SIDE, SIDE), 0.05))
    random_lr = _levels(_down(random_hr) + noise((3, SIDE // SCALE, SIDE // SCALE), 0.01))
    out["random"] = (random_lr, _levels(_up(random_lr) + noise((3, SIDE, SIDE), 0.08)), random_hr)
    for name, shift in (("astronaut", 0), ("chelsea", 2), ("coffee", 1)):
        hr = _levels(_photo(name))
        lr = _levels(_down(hr))
        sr = 0.5 * _up(lr) + 0.5 * hr + noise((3, SIDE, SIDE), 0.02)
        out[name] = (lr, _levels(torch.roll(sr, (shift, -shift), dims=(1, 2))), hr)
    patched = out["coffee"][2].clone()
    patched[:, 48:80, 40:72] = _levels(torch.from_numpy(rng.random((3, 32, 32))).float())
    out["coffee-patch"] = (out["coffee"][0], patched, out["coffee"][2])
    return out
