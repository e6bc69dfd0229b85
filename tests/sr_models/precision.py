"""The tolerance of half-precision runs of the tiny diffusion models against float32."""

from __future__ import annotations

import torch

#: Largest (max, mean) absolute difference from the float32 output allowed per precision,
#: for images in [0, 1] after 2 denoising steps of the tiny random models. Measured: float16
#: ≤ 0.011 / 0.0012, bfloat16 ≤ 0.08 / 0.009 (StableSR, SD x4). bfloat16 keeps 8 mantissa
#: bits to float16's 11, hence a tolerance ~8× larger.
HALF_TOLERANCE = {torch.float16: (0.02, 0.002), torch.bfloat16: (0.15, 0.015)}


def assert_close_to_float32(out: torch.Tensor, reference: torch.Tensor, dtype: torch.dtype):
    """``out`` (run in ``dtype``) is within :data:`HALF_TOLERANCE` of ``reference`` but not
    equal to it (equal would mean the run silently stayed in float32)."""
    difference = (out.float() - reference.float()).abs()
    largest, mean = HALF_TOLERANCE[dtype]
    assert difference.max() <= largest, f"{dtype}: max |Δ| {difference.max():.4f} > {largest}"
    assert difference.mean() <= mean, f"{dtype}: mean |Δ| {difference.mean():.5f} > {mean}"
    assert not torch.equal(out, reference), f"{dtype} gave the float32 output exactly"
