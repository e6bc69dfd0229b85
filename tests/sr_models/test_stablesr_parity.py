"""StableSR's modules against the authors' own (golden fixtures from IceClear/StableSR).

The fixtures hold the outputs of the authors' ``ResBlockDual``, ``EncoderUNetModelWT`` and
``AutoencoderKLResi`` parts on seeded tiny weights; ``scripts/parity/stablesr.py``
regenerates them. Here the same weights (same key names and shapes, same seeds) go through
our conversion into our modules, which must give the same outputs.
"""

from __future__ import annotations

import pytest
import torch

from .seeded_parity import load_fixture, seeded_state

#: float32 on CPU, same operations in another order (diffusers' fused attention, grouped
#: convolutions): agreement to ~1e-6 relative; a wrong term is off by far more.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
COMMIT = "398ee9383777e255540ea027a704c8ce1f32145b"

#: ``ResBlockDual`` parameter → diffusers ``ResnetBlock2D`` parameter (SPADE keeps its names).
RESBLOCK_KEYS = {
    "in_layers.0.": "norm1.",
    "in_layers.2.": "conv1.",
    "emb_layers.1.": "time_emb_proj.",
    "out_layers.0.": "norm2.",
    "out_layers.3.": "conv2.",
    "skip_connection.": "conv_shortcut.",
    "spade.": "spade.",
}


@pytest.mark.parametrize(
    "name",
    [
        "stablesr_spade_resblock",
        "stablesr_spade_unet",
        "stablesr_time_aware_encoder",
        "stablesr_cfw_autoencoder",
    ],
)
def test_fixture_names_its_source(name):
    source = load_fixture(name)["source"]
    assert source["repository"] == "IceClear/StableSR"
    assert source["commit"] == COMMIT
    assert source["file"] and source["function"]


def test_spade_resblock_matches_the_authors_resblockdual():
    from semfid_bench.sr_models.diffusion.stablesr_modules import add_spade, structure_conditioning

    from .tiny_diffusion import tiny_unet

    fixture = load_fixture("stablesr_spade_resblock")
    config, inputs = fixture["config"], fixture["inputs"]
    unet = tiny_unet()
    add_spade(unet, config["semb_channels"])
    resnet = unet.down_blocks[1].resnets[0]  # 32 → 64 channels, timestep embedding 128
    assert (resnet.in_channels, resnet.out_channels) == (config["channels"], 64)
    state = {}
    for key, value in seeded_state(fixture["shapes"]).items():
        prefix = next(p for p in RESBLOCK_KEYS if key.startswith(p))
        state[RESBLOCK_KEYS[prefix] + key[len(prefix) :]] = value
    resnet.load_state_dict(state, strict=True)
    with torch.no_grad(), structure_conditioning({"8": inputs["segmap"]}, unet):
        out = resnet(inputs["x"], inputs["emb"])
    torch.testing.assert_close(out, fixture["outputs"]["out"], **TOLERANCE)


def test_converted_unet_matches_the_authors_unet_model_dualcond_v2():
    """The whole tiny UNet through our converter: diffusers' UNet, SPADE on every ResNet."""
    from diffusers import UNet2DConditionModel

    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr_modules import add_spade, structure_conditioning

    fixture = load_fixture("stablesr_spade_unet")
    state = {convert.UNET + k: v for k, v in seeded_state(fixture["shapes"]).items()}
    config, converted = convert.convert_unet(state)
    unet = UNet2DConditionModel.from_config(config)
    add_spade(unet, fixture["config"]["semb_channels"])
    unet.load_state_dict(converted, strict=True)
    unet.eval()
    inputs = fixture["inputs"]
    struct = {"16": inputs["struct_16"], "8": inputs["struct_8"]}
    with torch.no_grad(), structure_conditioning(struct, unet):
        out = unet(inputs["x"], inputs["timesteps"], encoder_hidden_states=inputs["context"])
    torch.testing.assert_close(out.sample, fixture["outputs"]["out"], **TOLERANCE)


def test_time_aware_encoder_matches_the_authors_encoder_unet_model_wt():
    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr_modules import TimeAwareEncoder

    fixture = load_fixture("stablesr_time_aware_encoder")
    state = seeded_state(fixture["shapes"])
    encoder = TimeAwareEncoder(**convert.encoder_config(state)).eval()
    encoder.load_state_dict(state, strict=True)
    with torch.no_grad():
        features = encoder(fixture["inputs"]["x"], fixture["inputs"]["timesteps"])
    assert features.keys() == fixture["outputs"].keys()
    for width, expected in fixture["outputs"].items():
        torch.testing.assert_close(features[width], expected, **TOLERANCE, msg=width)


def test_cfw_autoencoder_matches_the_authors_encoder_and_decoder_mix():
    from diffusers import AutoencoderKL

    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr_modules import add_cfw, cfw_decode

    fixture = load_fixture("stablesr_cfw_autoencoder")
    config, image = convert.convert_vae(seeded_state(fixture["shapes"]))
    vae = AutoencoderKL.from_config(config)
    add_cfw(vae, fixture["config"]["fusion_w"])
    vae.load_state_dict(image, strict=True)
    vae.eval()
    inputs, outputs = fixture["inputs"], fixture["outputs"]
    with torch.no_grad():
        moments = vae.quant_conv(vae.encoder(inputs["image"]))
        decoded = cfw_decode(vae, inputs["latents"], inputs["image"])
    torch.testing.assert_close(moments, outputs["moments"], **TOLERANCE)
    torch.testing.assert_close(decoded, outputs["decoded"], **TOLERANCE)
