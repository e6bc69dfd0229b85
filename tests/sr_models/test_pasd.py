"""PASD: key layout against the authors' module tree, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .tiny_diffusion import CROSS_DIM, tiny_text_encoder, tiny_tokenizer, tiny_unet, tiny_vae

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "pasd_layout.json").read_text())
CHECKPOINT = "pasd/checkpoint-100000"


def _shape(template, channels: int, context: int) -> tuple[int, ...]:
    sizes = {"C": channels, "4C": 4 * channels, "8C": 8 * channels, "D": context}
    return tuple(sizes.get(s, s) for s in template)


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_unet_keys_match_the_authors_layout():
    from diffusers import UNet2DConditionModel

    from semfid_bench.sr_models.diffusion.pasd import build_pasd_unet

    config = FIXTURE["sd15_unet_config"]
    with torch.device("meta"):
        ours = _shapes(build_pasd_unet(config))
        plain = _shapes(UNet2DConditionModel.from_config(config))
    expected = {
        f"{path}.{suffix}": _shape(template, channels, context)
        for path, (channels, context) in FIXTURE["pixel_attention_paths"].items()
        for suffix, template in FIXTURE["pixel_attention_keys"].items()
    }
    assert {k: ours[k] for k in plain} == plain
    assert {k: v for k, v in ours.items() if k not in plain} == expected


@pytest.mark.parametrize("use_rrdb", [False, True])
def test_controlnet_keys_match_the_authors_layout(use_rrdb):
    from diffusers import ControlNetModel

    from semfid_bench.sr_models.diffusion.pasd import build_pasd_controlnet

    config = {
        k: v
        for k, v in FIXTURE["sd15_unet_config"].items()
        if k not in ("up_block_types", "out_channels", "sample_size")
    }
    with torch.device("meta"):
        ours = _shapes(build_pasd_controlnet({**config, "use_rrdb": use_rrdb}))
        plain = _shapes(ControlNetModel.from_config(config))
    expected = {k: tuple(v) for k, v in FIXTURE["drm_extra_keys"].items()}
    if use_rrdb:
        expected |= {k: tuple(v) for k, v in FIXTURE["rrdb_extra_keys"].items()}
    assert {k: ours[k] for k in plain} == plain
    assert {k: v for k, v in ours.items() if k not in plain} == expected


@pytest.fixture(scope="module")
def tiny_pasd(tmp_path_factory):
    """SD 1.5-like components and PASD's UNet/ControlNet, tiny, in the hub layouts:
    base/{vae,text_encoder,tokenizer,scheduler}, pasd/pasd/checkpoint-100000/{unet,controlnet}."""
    from diffusers import ControlNetModel, UniPCMultistepScheduler

    from semfid_bench.sr_models.diffusion.pixel_aware_attention import (
        DegradationRemovalModule,
        add_pixel_aware_attention,
    )

    root = tmp_path_factory.mktemp("pasd")
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(root / "base" / "tokenizer")
    tiny_text_encoder(len(tokenizer)).save_pretrained(root / "base" / "text_encoder")
    tiny_vae(down_blocks=4).save_pretrained(root / "base" / "vae")
    UniPCMultistepScheduler(beta_schedule="scaled_linear").save_pretrained(
        root / "base" / "scheduler"
    )
    unet = tiny_unet()
    add_pixel_aware_attention(unet)
    torch.manual_seed(3)
    controlnet = ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        cross_attention_dim=CROSS_DIM,
        attention_head_dim=8,
        conditioning_embedding_out_channels=(16, 16, 32, 32),
    )
    controlnet.controlnet_cond_embedding = DegradationRemovalModule(
        32, 3, (16, 16, 32, 32), use_rrdb=True
    )
    controlnet.register_to_config(return_rgbs=True, use_rrdb=True)
    for model in (unet, controlnet):  # ControlNet outputs start at zero: make them matter
        for name, param in model.named_parameters():
            if "controlnet_" in name or ("pixel_attentions" in name and "to_out" in name):
                torch.nn.init.normal_(param, std=0.1)
    unet.save_pretrained(root / "pasd" / CHECKPOINT / "unet")
    controlnet.save_pretrained(root / "pasd" / CHECKPOINT / "controlnet")
    return root


@pytest.fixture(scope="module")
def lr():
    image = load_image(SAMPLE_MANIFEST.parent / "astronaut.png")
    return image[None, :, 68:84, 188:204].contiguous()


def _context(seed: int) -> UpscaleContext:
    return UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=seed)


def _model(root, **options):
    from semfid_bench.sr_models.diffusion.pasd import PASD

    options = {
        "steps": 2,
        "process_size": 64,
        "captioner": lambda lr: ["an astronaut"] * lr.shape[0],
        **options,
    }
    return PASD(weights=str(root / "pasd"), base=str(root / "base"), **options)


@pytest.mark.slow
def test_upscales_four_times_finite_and_seeded(tiny_pasd, lr):
    model = _model(tiny_pasd)
    first = model.upscale(lr, _context(5))
    again = model.upscale(lr, _context(5))
    other = model.upscale(lr, _context(6))
    assert first.shape == (1, 3, 64, 64)
    assert torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.slow
def test_pixel_aware_attention_takes_part(tiny_pasd, lr):
    model = _model(tiny_pasd, guidance=1.0, colour_fix="none")
    base = model.upscale(lr, _context(1))
    for block in model.unet.up_blocks:
        for attention in block.pixel_attentions:
            attention.proj_out.weight.data.mul_(-2)
    assert not torch.equal(base, model.upscale(lr, _context(1)))


def test_small_inputs_are_enlarged_to_the_process_size():
    from semfid_bench.sr_models.diffusion.pasd import process_input

    out = process_input(torch.rand(1, 3, 30, 45), 4, 768)
    assert out.shape[-2:] == (768, 1152)
    assert process_input(torch.rand(1, 3, 250, 301), 4, 768).shape[-2:] == (1000, 1200)


def test_prompt_is_built_like_the_authors():
    from semfid_bench.sr_models.diffusion.pasd import PASD

    model = PASD.__new__(PASD)
    model.prompt, model.added_prompt, model.negative_prompt = "", "clean, 8k", "blurry"
    assert model.prompts("a dog") == ("a dogclean, 8k", "blurry")
    model.prompt = "photo"
    assert model.prompts("a dog")[0] == "a dog photoclean, 8k"


def test_offline_without_weights_names_every_repo_and_option(tmp_path, monkeypatch):
    from semfid_bench.sr_models.diffusion.pasd import PASD

    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError) as error:
        PASD()
    text = str(error.value)
    for needed in (
        "yangtao9009/PASD",
        "--set pasd.weights=DIR",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "--set pasd.base=DIR",
        "laion/mscoco_finetuned_CoCa-ViT-L-14-laion2B-s13B-b90k",
        "--set pasd.coca=DIR",
    ):
        assert needed in text


def test_factory_options_from_the_cli_reach_the_model(tiny_pasd, make_registry):
    """`--set pasd.KEY=VALUE` options arrive as keyword arguments of the registered factory."""
    registry = make_registry()
    model = registry.create(
        "sr_model",
        "pasd",
        scale=4,
        device=torch.device("cpu"),
        weights=str(tiny_pasd / "pasd"),
        base=str(tiny_pasd / "base"),
        captioner="none",
        steps=3,
        colour_fix="adain",
    )
    assert (model.steps, model.colour_fix, model.captioner(torch.zeros(2, 3, 8, 8))) == (
        3,
        "adain",
        ["", ""],
    )


def test_unet_without_residuals_says_how_to_call_it(tiny_pasd):
    from semfid_bench.sr_models.diffusion.diffusers_loading import load_model_folder
    from semfid_bench.sr_models.diffusion.pasd import build_pasd_unet

    unet = load_model_folder(tiny_pasd / "pasd" / CHECKPOINT / "unet", build_pasd_unet, "UNet")
    with pytest.raises(RuntimeError, match="pixel_conditioning"):
        unet(torch.zeros(1, 4, 8, 8), 10, encoder_hidden_states=torch.zeros(1, 3, CROSS_DIM))


def test_unknown_captioner_is_refused():
    from semfid_bench.sr_models.diffusion.pasd import PASD

    with pytest.raises(ValueError, match="captioner must be coca, none"):
        PASD(captioner="blip")


def test_lr_conditioning_and_its_scale_take_part(tiny_pasd):
    """The noise prediction depends on the LR condition and on ``conditioning_scale``; at
    scale 0 the UNet gets zero residuals (also as its pixel-aware attention's context, as
    the authors scale the residuals before the UNet sees them)."""
    from semfid_bench.sr_models.diffusion.pixel_aware_attention import pixel_conditioning

    model = _model(tiny_pasd)
    sample = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(7))
    cond, other_cond = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    text = model._encode_text(["an astronaut"])
    with torch.no_grad():
        base = model._predict_noise(sample, cond, t=10, text=text)
        other = model._predict_noise(sample, other_cond, t=10, text=text)
        model.conditioning_scale = 0.5
        half = model._predict_noise(sample, cond, t=10, text=text)
        model.conditioning_scale = 0.0
        off = model._predict_noise(sample, cond, t=10, text=text)
        down, mid = model.controlnet(
            sample, 10, encoder_hidden_states=text, controlnet_cond=cond, return_dict=False
        )
        zeros = [torch.zeros_like(residual) for residual in down]
        with pixel_conditioning(zeros, model.unet):
            plain = model.unet(sample, 10, encoder_hidden_states=text, return_dict=False)[0]
    assert all(residual.abs().amax() > 0 for residual in (*down, mid))
    assert (base - other).abs().amax() > 1e-5
    assert (base - half).abs().amax() > 1e-5
    assert (half - off).abs().amax() > 1e-5
    torch.testing.assert_close(off, plain, rtol=0, atol=1e-6)


def _authors_pasd_input(picture, upscale: int = 4, process_size: int = 768):
    """test_pasd.py's lines (yangxy/PASD @396f9ac, main(), control_type realisr)."""
    from torchvision import transforms

    resize_preproc = transforms.Resize(
        process_size, interpolation=transforms.InterpolationMode.BILINEAR
    )
    picture = picture.resize((picture.size[0] * upscale, picture.size[1] * upscale))
    if min(picture.size) < process_size:
        picture = resize_preproc(picture)
    return picture.resize((picture.size[0] // 8 * 8, picture.size[1] // 8 * 8))


@pytest.mark.parametrize("size", [(16, 16), (37, 50), (130, 97), (150, 202), (201, 150)])
def test_input_is_the_authors_pil_chain(size):
    """Same pixels as test_pasd.py's chain (PIL 4x, torchvision bilinear Resize to the
    process size, snap to 8), on a photograph; the former single torch bicubic resize
    differed by up to 13/255 (RMSE 0.7-1.0 levels)."""
    import numpy as np
    from PIL import Image

    from semfid_bench.datasets.images import to_tensor, to_uint8
    from semfid_bench.sr_models.diffusion.pasd import process_input

    photo = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")[:, 20 : 20 + size[0], :]
    lr = photo[None, :, :, 50 : 50 + size[1]]
    expected = to_tensor(np.array(_authors_pasd_input(Image.fromarray(to_uint8(lr[0])))))
    assert torch.equal(process_input(lr, 4, 768)[0], expected)
