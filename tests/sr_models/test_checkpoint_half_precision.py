"""Checkpoint models (``half``: fp16, the default on CUDA) run in float16 on CPU with tiny
random checkpoints of the real architectures, within a stated tolerance of float32."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

#: Largest (max, mean) |Δ| from float32 for images in [0, 1]. Measured on these tiny random
#: RRDBNets: 0.0005 / 0.00002 (float16 keeps 11 mantissa bits; a feed-forward network does
#: not compound errors over steps as a sampler does). SwinIR has no fp16 (spandrel says it
#: does not support it): it stays float32 on CUDA too.
TOLERANCE = (0.005, 0.0005)


def test_swinir_stays_float32_on_cuda(checkpoint_file, standin_gpu):
    from semfid_bench.sr_models.checkpoint_models import SwinIR

    model = SwinIR(device="cuda", weights=str(checkpoint_file("swinir")))
    assert model.dtype == torch.float32


@pytest.mark.parametrize("kind", ["bsrgan", "realesrgan"])
def test_half_precision_is_close_to_float32(kind, checkpoint_file):
    from semfid_bench.sr_models import checkpoint_models as published

    model_class = {"bsrgan": published.BSRGAN, "realesrgan": published.RealESRGAN}[kind]
    lr = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")[None, :, 108:124, 148:164]
    context = UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=0)
    weights = str(checkpoint_file(kind))
    full = model_class(device="cpu", weights=weights).upscale(lr, context)
    model = model_class(device="cpu", weights=weights, half=True)
    assert model.dtype == torch.float16
    assert next(model.descriptor.model.parameters()).dtype == torch.float16
    half = model.upscale(lr, context)
    difference = (half - full).abs()
    print(f"{kind}: max {difference.max():.5f} mean {difference.mean():.6f}")
    assert half.dtype == torch.float32 and not torch.equal(half, full)
    assert difference.max() <= TOLERANCE[0] and difference.mean() <= TOLERANCE[1]
