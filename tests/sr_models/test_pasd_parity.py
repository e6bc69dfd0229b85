"""PASD's UNet (pixel-aware attention) and ControlNet (degradation removal module) against
the authors' own modules (golden fixture from yangxy/PASD run by
scripts/parity/pasd_reference.py on seeded tiny weights)."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.sr_models.diffusion.pasd import build_pasd_controlnet, build_pasd_unet
from semfid_bench.sr_models.diffusion.pixel_aware_attention import pixel_conditioning

from .parity import load_parity, part

#: float32 on CPU, the same weights: only summation order differs
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def reference():
    return load_parity("pasd_controlnet_unet")


@pytest.fixture(scope="module")
def reference_latents():
    return load_parity("pasd_initial_latents")


@pytest.fixture(scope="module")
def models(reference):
    return _models(*reference)


@pytest.fixture(scope="module")
def ours(reference, models):
    """(down residuals, mid residual, noise) of our modules on the fixture's inputs."""
    meta, tensors = reference
    return _run(*models, meta, part(tensors, "input"))


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


def test_degradation_removal_module_matches_the_authors(reference, models):
    _, tensors = reference
    controlnet = models[1]
    with torch.no_grad():
        embedding = controlnet.controlnet_cond_embedding(tensors["input.lr_condition"])
    torch.testing.assert_close(embedding, tensors["output.degradation_removal"], **TOLERANCE)


def test_controlnet_with_lr_condition_matches_the_authors(reference, ours):
    tensors = reference[1]
    down, mid, _ = ours
    assert len(down) == sum(k.startswith("output.controlnet_down.") for k in tensors)
    for i, residual in enumerate(down):
        torch.testing.assert_close(residual, tensors[f"output.controlnet_down.{i}"], **TOLERANCE)
    torch.testing.assert_close(mid, tensors["output.controlnet_mid"], **TOLERANCE)


def test_unet_with_pixel_aware_attention_matches_the_authors(reference, ours):
    tensors = reference[1]
    noise = ours[2]
    torch.testing.assert_close(noise, tensors["output.noise"], **TOLERANCE)


def test_the_fixture_sees_the_residual_order(reference, models, ours):
    """Handing the pixel-aware attention its residuals in another order (two same-shaped
    residuals swapped) moves the output well past the tolerance."""
    meta, tensors = reference
    x = part(tensors, "input")
    down = ours[0]
    order = list(range(len(down)))
    swaps = [(i, j) for i in order for j in order if i < j and down[i].shape == down[j].shape][:1]
    for i, j in swaps:
        order[i], order[j] = order[j], order[i]
    assert swaps
    noise = _run(*models, meta, x, residual_order=order)[2]
    assert (noise - tensors["output.noise"]).abs().amax() > 100 * TOLERANCE["atol"]


def _initial_latents(meta, tensors, added_noise_level):
    from diffusers import AutoencoderKL, UniPCMultistepScheduler

    from semfid_bench.sr_models.diffusion.pasd import PASD

    model = PASD.__new__(PASD)
    model.device, model.dtype, model.tile = torch.device("cpu"), torch.float32, 64
    model.vae = AutoencoderKL(**meta["vae_config"]).eval()
    model.vae.load_state_dict(part(tensors, "weights.vae"))
    model.vae_factor = 2 ** (len(meta["vae_config"]["block_out_channels"]) - 1)
    model.scheduler = UniPCMultistepScheduler.from_config(meta["scheduler_config"])
    model.init_with_noise, model.added_noise_level = False, added_noise_level
    model.scheduler.set_timesteps(meta["steps"])
    generator = torch.Generator("cpu").manual_seed(meta["seed"])
    with torch.no_grad():
        return model._initial_latents(tensors["input.image"], generator), model.scheduler


def test_initial_latents_match_the_authors(reference_latents):
    """The LR latent noised to the first timestep and again to ``added_noise_level`` 900,
    the same noise draws in the same order: as the authors' prepare_latents."""
    meta, tensors = reference_latents
    latents, scheduler = _initial_latents(meta, tensors, meta["added_noise_level"])
    assert torch.equal(scheduler.timesteps, tensors["timesteps"].long())
    torch.testing.assert_close(latents, tensors["output.latents"], **TOLERANCE)


def test_added_noise_level_900_is_the_last_unipc_sigma(reference_latents):
    """900 is not one of the 20 UniPC timesteps, so diffusers' add_noise falls back to the
    last step's sigma: the second noising adds about 0.22 of fresh noise (the authors'
    behaviour, kept; documented in docs/diffusion-models.md), not t=900's 0.99."""
    meta, tensors = reference_latents
    latents, scheduler = _initial_latents(meta, tensors, 900)
    assert 900 not in scheduler.timesteps
    last = int(scheduler.timesteps[-1])
    at_last, _ = _initial_latents(meta, tensors, last)
    assert torch.equal(latents, at_last)
    alpha_bar = scheduler.alphas_cumprod
    assert (1 - alpha_bar[last]).sqrt() == pytest.approx(0.22, abs=0.01)
    assert (1 - alpha_bar[900]).sqrt() == pytest.approx(0.99, abs=0.01)
