"""SeeSR and PASD in float16 and bfloat16 on CPU, within the stated tolerance of float32
(issue 20's dtype matrix; StableSR and SD x4 have theirs in their own test files)."""

from __future__ import annotations

import pytest
import torch

from . import test_pasd, test_seesr
from .precision import assert_close_to_float32
from .test_pasd import tiny_pasd  # noqa: F401  (fixture)
from .test_seesr import tiny_seesr  # noqa: F401  (fixture)

MODELS = {"seesr": (test_seesr, "tiny_seesr"), "pasd": (test_pasd, "tiny_pasd")}


@pytest.fixture(scope="module")
def float32_outputs():
    return {}


@pytest.mark.slow  # ~25 s per model and dtype on 2 cores
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_half_precision_runs_close_to_float32(request, float32_outputs, name, dtype):
    tests, fixture = MODELS[name]
    root = request.getfixturevalue(fixture)
    lr = tests.lr.__wrapped__()
    if name not in float32_outputs:
        float32_outputs[name] = tests._model(root).upscale(lr, tests._context(1))
    model = tests._model(root, dtype=dtype)
    half = getattr(torch, dtype)
    assert model.unet.dtype == model.controlnet.dtype == half
    out = model.upscale(lr, tests._context(1))
    assert_close_to_float32(out, float32_outputs[name], half)
