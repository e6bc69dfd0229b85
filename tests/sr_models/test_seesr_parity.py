"""SeeSR's UNet and ControlNet against the authors' own modules (golden fixture from
cswry/SeeSR run by scripts/parity/seesr_reference.py on seeded tiny weights)."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.sr_models.diffusion.image_cross_attention import image_conditioning
from semfid_bench.sr_models.diffusion.seesr import build_seesr_controlnet, build_seesr_unet

from .parity import load_parity, part

#: float32 on CPU, the same weights: only summation order differs
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def reference():
    return load_parity("seesr_controlnet_unet")


@pytest.fixture(scope="module")
def models(reference):
    return _models(*reference)


@pytest.fixture(scope="module")
def ours(reference, models):
    """(down residuals, mid residual, noise, UNet alone) of our modules on the inputs."""
    meta, tensors = reference
    return _run(*models, meta, part(tensors, "input"))


def _models(meta, tensors):
    unet = build_seesr_unet(meta["unet_config"]).eval()
    controlnet = build_seesr_controlnet(meta["controlnet_config"]).eval()
    unet.load_state_dict(part(tensors, "weights.unet"))  # strict: the authors' keys
    controlnet.load_state_dict(part(tensors, "weights.controlnet"))
    return unet, controlnet


def _run(unet, controlnet, meta, x, scale=None):
    t = meta["timestep"]
    with torch.no_grad(), image_conditioning(x["image_embeds"], unet, controlnet):
        down, mid = controlnet(
            x["sample"],
            t,
            encoder_hidden_states=x["text"],
            controlnet_cond=x["lr_condition"],
            conditioning_scale=meta["conditioning_scale"] if scale is None else scale,
            return_dict=False,
        )
        noise = unet(
            x["sample"],
            t,
            encoder_hidden_states=x["text"],
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
            return_dict=False,
        )[0]
        alone = unet(x["sample"], t, encoder_hidden_states=x["text"], return_dict=False)[0]
    return down, mid, noise, alone


def test_controlnet_with_lr_condition_matches_the_authors(reference, ours):
    tensors = reference[1]
    down, mid, _, _ = ours
    assert len(down) == sum(k.startswith("output.controlnet_down.") for k in tensors)
    for i, residual in enumerate(down):
        torch.testing.assert_close(residual, tensors[f"output.controlnet_down.{i}"], **TOLERANCE)
    torch.testing.assert_close(mid, tensors["output.controlnet_mid"], **TOLERANCE)


def test_unet_with_image_cross_attention_matches_the_authors(reference, ours):
    tensors = reference[1]
    _, _, noise, alone = ours
    torch.testing.assert_close(alone, tensors["output.unet_alone"], **TOLERANCE)
    torch.testing.assert_close(noise, tensors["output.noise"], **TOLERANCE)


def test_the_fixture_sees_every_input(reference, models):
    """Each input (LR condition, its scale, the image embeddings) moves the output by far
    more than the tolerance, so the comparisons above can fail."""
    meta, tensors = reference
    x = part(tensors, "input")
    expected = tensors["output.noise"]
    variants = [
        (x | {"lr_condition": x["lr_condition"].flip(-1)}, None),
        (x | {"image_embeds": x["image_embeds"].flip(1) * 0.5}, None),
        (x, 1.0),
    ]
    for inputs, scale in variants:
        noise = _run(*models, meta, inputs, scale)[2]
        assert (noise - expected).abs().amax() > 100 * TOLERANCE["atol"]
