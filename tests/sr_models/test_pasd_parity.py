"""PASD's UNet (pixel-aware attention) and ControlNet (degradation removal module) against
the authors' own modules (golden fixture from yangxy/PASD run by
scripts/parity/pasd_reference.py on seeded tiny weights)."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.sr_models.pasd import build_pasd_controlnet, build_pasd_unet
from semfid_bench.sr_models.pixel_aware_attention import pixel_conditioning

from .parity import load_parity, part

#: float32 on CPU, the same weights: only summation order differs
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def reference():
    return load_parity("pasd_controlnet_unet")


def _models(meta, tensors):
    unet = build_pasd_unet(meta["unet_config"]).eval()
    controlnet = build_pasd_controlnet(meta["controlnet_config"]).eval()
    unet.load_state_dict(part(tensors, "weights.unet"))  # strict: the authors' keys
    controlnet.load_state_dict(part(tensors, "weights.controlnet"))
    return unet, controlnet


def _run(unet, controlnet, meta, x, residual_order=None):
    t = meta["timestep"]
    with torch.no_grad():
        down, mid = controlnet(
            x["sample"],
            t,
            encoder_hidden_states=x["text"],
            controlnet_cond=x["lr_condition"],
            conditioning_scale=meta["conditioning_scale"],
            return_dict=False,
        )
        context = down if residual_order is None else [down[i] for i in residual_order]
        with pixel_conditioning(context, unet):
            noise = unet(
                x["sample"],
                t,
                encoder_hidden_states=x["text"],
                down_block_additional_residuals=down,
                mid_block_additional_residual=mid,
                return_dict=False,
            )[0]
    return down, mid, noise


def test_degradation_removal_module_matches_the_authors(reference):
    meta, tensors = reference
    _, controlnet = _models(meta, tensors)
    with torch.no_grad():
        embedding = controlnet.controlnet_cond_embedding(tensors["input.lr_condition"])
    torch.testing.assert_close(embedding, tensors["output.degradation_removal"], **TOLERANCE)


def test_controlnet_with_lr_condition_matches_the_authors(reference):
    meta, tensors = reference
    down, mid, _ = _run(*_models(meta, tensors), meta, part(tensors, "input"))
    assert len(down) == sum(k.startswith("output.controlnet_down.") for k in tensors)
    for i, residual in enumerate(down):
        torch.testing.assert_close(residual, tensors[f"output.controlnet_down.{i}"], **TOLERANCE)
    torch.testing.assert_close(mid, tensors["output.controlnet_mid"], **TOLERANCE)


def test_unet_with_pixel_aware_attention_matches_the_authors(reference):
    meta, tensors = reference
    noise = _run(*_models(meta, tensors), meta, part(tensors, "input"))[2]
    torch.testing.assert_close(noise, tensors["output.noise"], **TOLERANCE)


def test_the_fixture_sees_the_residual_order(reference):
    """Handing the pixel-aware attention its residuals in another order (same shapes: the
    two residuals of each resolution swapped) moves the output well past the tolerance."""
    meta, tensors = reference
    models = _models(meta, tensors)
    x = part(tensors, "input")
    down = _run(*models, meta, x)[0]
    order = list(range(len(down)))
    swaps = [(i, j) for i in order for j in order if i < j and down[i].shape == down[j].shape][:1]
    for i, j in swaps:
        order[i], order[j] = order[j], order[i]
    assert swaps
    noise = _run(*models, meta, x, residual_order=order)[2]
    assert (noise - tensors["output.noise"]).abs().amax() > 100 * TOLERANCE["atol"]
