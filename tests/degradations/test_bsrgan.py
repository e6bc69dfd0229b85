"""BSRGAN specifics: the step order constraint and noise on a flat image."""

from __future__ import annotations

import numpy as np
import torch

from semfid_bench.degradations.bsrgan import BSRGANDegradation, shuffled_order


def test_downsample_2_always_precedes_downsample_3():
    orders = [shuffled_order(np.random.default_rng(seed)) for seed in range(200)]
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert all(order.index(2) < order.index(3) for order in orders)
    assert len({tuple(order) for order in orders}) > 100  # genuinely shuffled


def test_lr_noise_variance_on_a_flat_image_rises_with_level():
    flat = torch.full((3, 96, 96), 0.5)
    model = BSRGANDegradation(scale=4)
    variances = [
        np.mean([float(model.degrade(flat, level=level, seed=s).var()) for s in range(12)])
        for level in (0.0, 0.3, 0.7, 1.0)
    ]
    assert variances[0] < 1e-10
    assert variances[0] < variances[1] < variances[2] < variances[3], variances
