"""StableSR: CompVis key layout → our modules, and a tiny end-to-end run from .ckpt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from . import stablesr_layout as layout
from .precision import assert_close_to_float32

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "stablesr_layout.json").read_text())

TINY_UNET = dict(
    model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_levels=(0,),
    context_dim=64, semb_channels=32,
)  # fmt: skip
TINY_ENCODER = dict(
    model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_levels=(0,),
    out_channels=32,
)  # fmt: skip
TINY_VAE = dict(ch=32, ch_mult=(1, 1, 1, 2), num_res_blocks=1)
TINY_TEXT = dict(width=64, layers=2, vocab=300, proj=64)


def _meta(shapes, prefix: str = "") -> dict:
    return {prefix + k: torch.empty(v, device="meta") for k, v in shapes.items()}


def _random(shapes, prefix: str = "", seed: int = 0) -> dict:
    """Random tensors in a CompVis layout; 1-d weights (norms) near 1."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in sorted(shapes.items()):
        value = torch.randn(shape, generator=generator) * 0.1
        if len(shape) == 1 and key.endswith(".weight"):
            value += 1.0
        state[prefix + key] = value
    return state


def _shapes(model) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_layout_generator_agrees_with_the_authors_code():
    """The fixture (written by hand from IceClear/StableSR's modules, see its ``source``)
    is a sample of what the layout generator produces at the released sizes."""
    generated = {
        "model.diffusion_model.": layout.unet_shapes(),
        "structcond_stage_model.": layout.encoder_shapes(),
        "first_stage_model.": layout.vae_shapes(),
        "vqgan.": layout.vae_shapes(fusion=True),
        "cond_stage_model.model.": layout.open_clip_text_shapes(),
    }
    for key, shape in FIXTURE["keys"].items():
        prefix = next(p for p in generated if key.startswith(p))
        assert generated[prefix][key[len(prefix) :]] == tuple(shape), key
    for key in FIXTURE["absent"]:
        prefix = next(p for p in generated if key.startswith(p))
        assert key[len(prefix) :] not in generated[prefix], key


@pytest.mark.slow
def test_released_unet_layout_loads_into_diffusers_unet_with_spade():
    from diffusers import UNet2DConditionModel

    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr_modules import add_spade

    config, converted = convert.convert_unet(_meta(layout.unet_shapes(), convert.UNET))
    assert config["block_out_channels"] == [320, 640, 1280, 1280]
    assert config["attention_head_dim"] == [5, 10, 20, 20]
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
        add_spade(unet, 256)
    assert {k: tuple(v.shape) for k, v in converted.items()} == _shapes(unet)
    spade = [k for k in converted if ".spade." in k]
    assert len(spade) == 8 * 22  # 8 tensors in each of 8 down, 2 mid, 12 up ResBlockDuals
    assert "up_blocks.3.resnets.2.spade.mlp_gamma.weight" in converted


def test_released_encoder_and_cfw_layouts_load_into_our_modules():
    from diffusers import AutoencoderKL

    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr_modules import TimeAwareEncoder, add_cfw

    encoder = layout.encoder_shapes()
    config = convert.encoder_config(_meta(encoder))
    with torch.device("meta"):
        assert _shapes(TimeAwareEncoder(**config)) == encoder
    vae_config, converted = convert.convert_vae(_meta(layout.vae_shapes(fusion=True)))
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(vae_config)
        add_cfw(vae)
    assert {k: tuple(v.shape) for k, v in converted.items()} == _shapes(vae)


@pytest.mark.slow
def test_released_text_tower_loads_into_clip_text_model_without_its_last_layer():
    from transformers import CLIPTextConfig, CLIPTextModel

    from semfid_bench.sr_models.diffusion import stablesr_convert as convert

    state = _meta(layout.open_clip_text_shapes(), convert.TEXT)
    config = convert.text_config(state)
    assert (config["num_hidden_layers"], config["num_attention_heads"]) == (23, 16)
    converted = convert.convert_text(state, config)
    with torch.device("meta"):
        text = CLIPTextModel(CLIPTextConfig(**config, bos_token_id=49406, eos_token_id=49407))
    expected = {f"text_model.{k}": v for k, v in _shapes(text).items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected


def test_conversion_moves_every_tensor_to_its_module():
    """On a small synthetic CompVis checkpoint, each converted tensor is the one stored
    under the matching CompVis name (SPADE follows its ResBlock; the rest is renamed)."""
    from semfid_bench.sr_models.diffusion import stablesr_convert as convert

    state = _random(layout.unet_shapes(**TINY_UNET), convert.UNET)
    _, converted = convert.convert_unet(state)
    pairs = {
        "input_blocks.1.0.spade.mlp_beta.weight": "down_blocks.0.resnets.0.spade.mlp_beta.weight",
        "input_blocks.3.0.spade.mlp_beta.bias": "down_blocks.1.resnets.0.spade.mlp_beta.bias",
        "middle_block.2.spade.mlp_shared.0.weight": "mid_block.resnets.1.spade.mlp_shared.0.weight",
        "output_blocks.0.0.spade.mlp_beta.bias": "up_blocks.0.resnets.0.spade.mlp_beta.bias",
        "output_blocks.3.0.spade.mlp_gamma.bias": "up_blocks.1.resnets.1.spade.mlp_gamma.bias",
        "output_blocks.3.0.out_layers.3.weight": "up_blocks.1.resnets.1.conv2.weight",
        "input_blocks.1.1.proj_in.weight": "down_blocks.0.attentions.0.proj_in.weight",
    }  # fmt: skip
    for ldm, ours in pairs.items():
        assert converted[ours] is state[convert.UNET + ldm]
    assert len(converted) == len(state)


def test_every_spade_follows_its_resblock():
    """With two ResBlocks per level and three levels, each ResBlock's SPADE lands in the
    diffusers ResNet that received that ResBlock's first norm (diffusers' own mapping)."""
    from semfid_bench.sr_models.diffusion import stablesr_convert as convert

    config = {**TINY_UNET, "channel_mult": (1, 2, 2), "num_res_blocks": 2}
    state = _random(layout.unet_shapes(**config), convert.UNET)
    _, converted = convert.convert_unet(state)
    where = {id(v): k for k, v in converted.items()}
    resblocks = [k[: -len(".spade.mlp_gamma.weight")] for k in state if "spade.mlp_gamma.w" in k]
    assert len(resblocks) == 3 * 2 + 2 + 3 * 3
    for block in resblocks:
        resnet = where[id(state[f"{block}.in_layers.0.weight"])].removesuffix(".norm1.weight")
        for suffix in ("mlp_shared.0.weight", "mlp_gamma.bias", "param_free_norm.weight"):
            assert where[id(state[f"{block}.spade.{suffix}"])] == f"{resnet}.spade.{suffix}"


def test_missing_keys_are_named(tmp_path):
    from semfid_bench.sr_models.diffusion.stablesr import load_cfw_vae

    state = _random(layout.vae_shapes(**TINY_VAE, fusion=True))
    del state["decoder.fusion_layer_1.encode_enc_3.conv2.bias"]
    path = tmp_path / "vqgan.ckpt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsUnavailableError, match=r"fusion_layer_1\.encode_enc_3\.conv2\.bias"):
        load_cfw_vae(path, 0.5)


def test_respaced_timesteps_follow_the_authors_space_timesteps():
    from semfid_bench.sr_models.diffusion.stablesr import respaced_timesteps

    steps = respaced_timesteps(200)
    assert len(steps) == 200 and steps[0] == 999 and steps[-1] == 0
    assert steps[-4:] == [15, 10, 5, 0]  # round(k * 999 / 199)
    assert respaced_timesteps(4) == [999, 666, 333, 0]


def _authors_space_timesteps(num_timesteps: int, section_counts: list[int]) -> set[int]:
    """``space_timesteps`` of IceClear/StableSR @398ee93
    ``scripts/sr_val_ddpm_text_T_vqganfin_oldcanvas_tile.py`` (integer-list branch)."""
    size_per = num_timesteps // len(section_counts)
    extra = num_timesteps % len(section_counts)
    start_idx = 0
    all_steps = []
    for i, section_count in enumerate(section_counts):
        size = size_per + (1 if i < extra else 0)
        frac_stride = 1 if section_count <= 1 else (size - 1) / (section_count - 1)
        cur_idx = 0.0
        taken_steps = []
        for _ in range(section_count):
            taken_steps.append(start_idx + round(cur_idx))
            cur_idx += frac_stride
        all_steps += taken_steps
        start_idx += size
    return set(all_steps)


@pytest.mark.parametrize("steps", [1, 2, 3, 7, 50, 199, 200, 333, 1000])
def test_respaced_timesteps_equal_a_copy_of_the_authors_function(steps):
    from semfid_bench.sr_models.diffusion.stablesr import respaced_timesteps

    expected = sorted(_authors_space_timesteps(1000, [steps]), reverse=True)
    assert respaced_timesteps(steps) == expected


def _authors_respaced_posterior(steps: int):
    """The authors' sampler schedule, from IceClear/StableSR @398ee93: ``register_schedule``
    ("linear": ``linspace(√0.00085, √0.012)²``), the script's respacing (``new_betas`` from
    ``alphas_cumprod`` at the used steps), then ``register_schedule(given_betas=new_betas)``'s
    posterior; in float64. Returns (used steps, alphas_cumprod, variance, coef1, coef2)."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    use = sorted(_authors_space_timesteps(1000, [steps]))
    last, new_betas = 1.0, []
    for i, alpha_cumprod in enumerate(alphas_cumprod):
        if i in use:
            new_betas.append(1 - alpha_cumprod / last)
            last = alpha_cumprod
    betas = torch.stack(new_betas)
    alphas = 1.0 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    variance = betas * (1.0 - prev) / (1.0 - alphas_cumprod)
    coef1 = betas * prev.sqrt() / (1.0 - alphas_cumprod)
    coef2 = (1.0 - prev) * alphas.sqrt() / (1.0 - alphas_cumprod)
    return use, alphas_cumprod, variance, coef1, coef2


@pytest.mark.parametrize("index", [199, 120, 1, 0])
def test_scheduler_steps_are_the_authors_respaced_posterior(index):
    """``p_sample`` of ``LatentDiffusionSRTextWT`` (eps, no clipping): x0 from eps, the
    posterior mean, plus the fixed-small standard deviation × noise except at index 0."""
    from semfid_bench.sr_models.diffusion.stablesr import ddpm_scheduler, respaced_timesteps

    use, alphas_cumprod, variance, coef1, coef2 = _authors_respaced_posterior(200)
    generator = torch.Generator().manual_seed(index)
    x, eps = torch.randn(2, 1, 4, 8, 8, generator=generator, dtype=torch.float64)
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(7))
    a = alphas_cumprod[index]
    x0 = (1 / a).sqrt() * x - (1 / a - 1).sqrt() * eps
    expected = coef1[index] * x0 + coef2[index] * x
    if index > 0:
        expected = expected + (0.5 * variance[index].clamp(min=1e-20).log()).exp() * noise

    scheduler = ddpm_scheduler()
    scheduler.set_timesteps(timesteps=respaced_timesteps(200))
    ours = scheduler.step(
        eps.float(), use[index], x.float(), generator=torch.Generator().manual_seed(7)
    ).prev_sample
    torch.testing.assert_close(ours.double(), expected, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Both released files, tiny and random, in the CompVis layout the loader reads."""
    from semfid_bench.sr_models.diffusion import stablesr_convert as convert

    root = tmp_path_factory.mktemp("stablesr")
    state = {
        **_random(layout.unet_shapes(**TINY_UNET), convert.UNET, seed=1),
        **_random(layout.encoder_shapes(**TINY_ENCODER), convert.STRUCT, seed=2),
        **_random(layout.vae_shapes(**TINY_VAE), convert.VAE, seed=3),
        **_random(layout.open_clip_text_shapes(**TINY_TEXT), convert.TEXT, seed=4),
        "betas": torch.zeros(1000),
    }
    torch.save({"state_dict": state}, root / "stablesr_000117.ckpt")
    vqgan = _random(layout.vae_shapes(**TINY_VAE, fusion=True), seed=5)
    torch.save({"state_dict": vqgan}, root / "vqgan_cfw_00011.ckpt")
    return root


@pytest.fixture(scope="module")
def lr():
    image = load_image(SAMPLE_MANIFEST.parent / "astronaut.png")
    return image[None, :, 68:84, 188:204].contiguous()


def _context(seed: int) -> UpscaleContext:
    return UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=seed)


def _model(root, **options):
    from semfid_bench.sr_models.diffusion.stablesr import StableSR

    options = {"steps": 2, "input_size": 64, **options}
    return StableSR(
        weights=str(root / "stablesr_000117.ckpt"),
        vqgan=str(root / "vqgan_cfw_00011.ckpt"),
        **options,
    )


def test_upscales_four_times_finite_and_seeded(tiny_checkpoints, lr):
    model = _model(tiny_checkpoints)
    first = model.upscale(lr, _context(5))
    again = model.upscale(lr, _context(5))
    other = model.upscale(lr, _context(6))
    assert first.shape == (1, 3, 64, 64)
    assert torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_spade_and_cfw_take_part(tiny_checkpoints, lr):
    model = _model(tiny_checkpoints, colour_fix="none")
    base = model.upscale(lr, _context(1))
    model.vqgan._stablesr_cfw.weight = 0.0
    without_cfw = model.upscale(lr, _context(1))
    assert not torch.equal(base, without_cfw)
    model.unet.down_blocks[0].resnets[0].spade.mlp_beta.weight.data.mul_(-3)
    assert not torch.equal(without_cfw, model.upscale(lr, _context(1)))


@pytest.fixture(scope="module")
def float32_output(tiny_checkpoints, lr):
    return _model(tiny_checkpoints).upscale(lr, _context(1))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_runs_close_to_float32(tiny_checkpoints, lr, float32_output, dtype):
    """``dtype=auto`` is float16 on CUDA: SPADE, the time-aware encoder and the UNet run in
    half precision with the authors' float32 group norm (issue 20 item 1), on CPU here."""
    model = _model(tiny_checkpoints, dtype=dtype)
    half = getattr(torch, dtype)
    assert model.unet.dtype == next(model.structcond.parameters()).dtype == half
    assert model.unet.down_blocks[0].resnets[0].spade.mlp_gamma.weight.dtype == half
    assert_close_to_float32(model.upscale(lr, _context(1)), float32_output, half)


def test_vae_encoder_is_not_tiled_as_the_authors_never_tile_it(tiny_checkpoints):
    """The authors encode the whole upscaled image (up to 1280 px) in one pass. Latent
    tiling must not switch on diffusers' VAE tiling (then 32 px tiles: the converted
    config lacked ``sample_size``, the authors' ``resolution`` 512; issue 14 item 3)."""
    model = _model(tiny_checkpoints, tile=4, tile_overlap=2)
    assert model.vae.config.sample_size == 512
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        latent = model._encode_image(image, torch.Generator().manual_seed(1))
        assert not model.vae.use_tiling
        moments = model.vae.quant_conv(model.vae.encoder(image * 2 - 1))
    mean, logvar = moments.chunk(2, dim=1)
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(1))
    expected = (mean + torch.exp(0.5 * logvar.clamp(-30.0, 20.0)) * eps) * 0.18215
    torch.testing.assert_close(latent, expected)


def test_pads_to_multiples_of_32_pixels_as_the_authors(tiny_checkpoints, lr):
    """16 × 24 → 64 × 96 pixels: a multiple of 32 already, so not padded (the authors pad
    to 32; 64 would add 32 reflected rows that the model sees). The 8 × 12 latent, not a
    multiple of 8, runs through the UNet whole."""
    model = _model(tiny_checkpoints)
    encoded = []
    model.vae.encoder.register_forward_pre_hook(lambda module, args: encoded.append(args[0]))
    wide = torch.cat([lr, lr.flip(-1)[..., :8]], dim=-1)
    out = model.upscale(wide, _context(0))
    assert [tuple(x.shape) for x in encoded] == [(1, 3, 64, 96)]
    assert out.shape == (1, 3, 64, 96)
    assert torch.isfinite(out).all()


def _authors_adain(content_feat, style_feat):
    """``adaptive_instance_normalization`` + ``calc_mean_std`` (eps 1e-5) of IceClear/StableSR
    @398ee93 ``scripts/wavelet_color_fix.py``, condensed."""

    def calc_mean_std(feat, eps=1e-5):
        b, c = feat.shape[:2]
        std = (feat.reshape(b, c, -1).var(dim=2) + eps).sqrt().reshape(b, c, 1, 1)
        return feat.reshape(b, c, -1).mean(dim=2).reshape(b, c, 1, 1), std

    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)
    return (content_feat - content_mean) / content_std * style_std + style_mean


def test_adain_colour_fix_runs_on_the_padded_image_in_the_authors_range(
    tiny_checkpoints, lr, monkeypatch
):
    """The authors' script fixes colours on the padded [-1, 1] decoder output against the
    padded LR image, clamps ``(x + 1) / 2``, then cuts the padding (16 × 20 → 64 × 80,
    padded to 64 × 96)."""
    from semfid_bench.sr_models.diffusion import stablesr

    calls, cfw_decode = [], stablesr.cfw_decode

    def recording_decode(vae, latents, image):
        calls.append((image, cfw_decode(vae, latents, image)))
        return calls[-1][1]

    monkeypatch.setattr(stablesr, "cfw_decode", recording_decode)
    wide = torch.cat([lr, lr.flip(-1)[..., :4]], dim=-1)
    out = _model(tiny_checkpoints).upscale(wide, _context(2))
    ((padded, decoded),) = calls
    assert padded.shape[-2:] == (64, 96)
    expected = ((_authors_adain(decoded, padded) + 1) / 2).clamp(0, 1)[..., :64, :80]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.slow  # four tiny pipeline runs
def test_images_above_vqgantile_size_are_restored_in_reseeded_blended_patches(tiny_checkpoints, lr):
    """The authors' ``--vqgantile_size`` split (``ImageSpliterTh``): 64 × 96 pixels with
    patches of 64 and stride 48 → patches at x = 0 and 32, each through the whole pipeline
    with the same seed, blended with the Gaussian weights."""
    from semfid_bench.sr_models.diffusion.latent_tiling import gaussian_weights

    model = _model(tiny_checkpoints, vqgantile_size=64, vqgantile_stride=48)
    encoded = []
    model.vae.encoder.register_forward_pre_hook(lambda module, args: encoded.append(args[0]))
    wide = torch.cat([lr, lr.flip(-1)[..., :8]], dim=-1)
    out = model.upscale(wide, _context(3))
    assert [tuple(x.shape) for x in encoded] == [(1, 3, 64, 64)] * 2
    image = encoded[0].new_zeros(1, 3, 64, 96)
    image[..., :64], image[..., 32:] = encoded
    with torch.no_grad():
        patches = [model._restore(image[..., x : x + 64], seed=3) for x in (0, 32)]
    weights = gaussian_weights(64, 64)
    total, norm = torch.zeros(1, 3, 64, 96), torch.zeros(1, 1, 64, 96)
    for x, patch in zip((0, 32), patches, strict=True):
        total[..., x : x + 64] += patch * weights
        norm[..., x : x + 64] += weights
    torch.testing.assert_close(out, total / norm)


def test_vqgantile_options_are_checked(tiny_checkpoints):
    with pytest.raises(ValueError, match="vqgantile_size must be a multiple of 32"):
        _model(tiny_checkpoints, vqgantile_size=100)
    with pytest.raises(ValueError, match="vqgantile_stride"):
        _model(tiny_checkpoints, vqgantile_size=64, vqgantile_stride=96)


@pytest.mark.slow
def test_tiled_latents_padding_and_downscaling(tiny_checkpoints):
    """An 8×8 input at input size 48 is upscaled 6×, padded to 64 pixels, denoised in
    latent tiles of 4, cropped and resized to exactly 4×."""
    model = _model(tiny_checkpoints, input_size=48, tile=4, tile_overlap=2)
    out = model.upscale(torch.rand(1, 3, 8, 8), _context(0))
    assert out.shape == (1, 3, 32, 32)
    assert torch.isfinite(out).all()


def test_offline_without_weights_names_every_file_and_option(tmp_path, monkeypatch):
    from semfid_bench.sr_models.diffusion.stablesr import StableSR

    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as error:
        StableSR()
    text = str(error.value) + str(error.value.hint)
    for needed in (
        "stablesr_000117.ckpt",
        "--set stablesr.weights=PATH",
        "vqgan_cfw_00011.ckpt",
        "--set stablesr.vqgan=PATH",
        "huggingface.co/Iceclear/StableSR",
    ):
        assert needed in text


def test_factory_options_from_the_cli_reach_the_model(tiny_checkpoints, make_registry):
    registry = make_registry()
    model = registry.create(
        "sr_model",
        "stablesr",
        scale=4,
        device=torch.device("cpu"),
        weights=str(tiny_checkpoints / "stablesr_000117.ckpt"),
        vqgan=str(tiny_checkpoints / "vqgan_cfw_00011.ckpt"),
        steps=3,
        dec_w=0.25,
        colour_fix="wavelet",
        seed=7,
    )
    assert (model.steps, model.dec_w, model.colour_fix, model.seed) == (3, 0.25, "wavelet", 7)
    assert model.vqgan._stablesr_cfw.weight == 0.25
    assert len(model.timesteps) == 3


def test_spade_modulates_the_residual_branch_before_the_skip():
    """``ResBlockDual``: skip(x) + SPADE(out_layers(in_layers(x) + emb), segmap), with SPADE
    = GroupNorm(h) * (1 + gamma) + beta, recomputed here from the layers' weights."""
    import torch.nn.functional as F

    from semfid_bench.sr_models.diffusion.stablesr_modules import add_spade, structure_conditioning

    from .tiny_diffusion import tiny_unet

    unet = tiny_unet()
    add_spade(unet, 8)
    resnet = unet.down_blocks[1].resnets[0]  # 32 → 64 channels: has a 1×1 shortcut
    torch.manual_seed(0)
    x, temb, segmap = torch.randn(1, 32, 4, 4), torch.randn(1, 128), torch.randn(1, 8, 4, 4)
    with torch.no_grad(), structure_conditioning({"4": segmap}, unet):
        out = resnet(x, temb)
        h = (
            resnet.conv1(F.silu(resnet.norm1(x)))
            + resnet.time_emb_proj(F.silu(temb))[..., None, None]
        )
        conv2 = resnet.conv2  # called through F: the module carries the SPADE hook
        h = F.conv2d(F.silu(resnet.norm2(h)), conv2.weight, conv2.bias, padding=1)
        spade = resnet.spade
        actv = F.relu(spade.mlp_shared[0](segmap))
        norm = F.group_norm(h, 32, spade.param_free_norm.weight, spade.param_free_norm.bias)
        expected = (
            resnet.conv_shortcut(x) + norm * (1 + spade.mlp_gamma(actv)) + spade.mlp_beta(actv)
        )
    torch.testing.assert_close(out, expected)


def test_cfw_with_zero_weight_is_the_plain_decoder():
    from semfid_bench.sr_models.diffusion.stablesr_modules import add_cfw, cfw_decode

    from .tiny_diffusion import tiny_vae

    vae = tiny_vae(down_blocks=4)
    add_cfw(vae, 0.0)
    torch.manual_seed(0)
    for name, param in vae.named_parameters():
        if "fusion_layer" in name:
            param.data.normal_(std=0.1)
    image, latents = torch.rand(1, 3, 32, 32) * 2 - 1, torch.randn(1, 4, 4, 4)
    with torch.no_grad():
        plain = vae.decode(latents).sample
        torch.testing.assert_close(cfw_decode(vae, latents, image), plain)
        vae._stablesr_cfw.weight = 0.5
        assert not torch.allclose(cfw_decode(vae, latents, image), plain)


def test_time_aware_encoder_features_and_ldm_timestep_embedding():
    """Features keyed by the width of every UNet level; the timestep embedding is LDM's
    ``timestep_embedding`` (cos first, then sin; max period 10000)."""
    import math

    from semfid_bench.sr_models.diffusion.stablesr_modules import TimeAwareEncoder

    torch.manual_seed(0)
    encoder = TimeAwareEncoder(model_channels=32, out_channels=32, channel_mult=(1, 1, 2, 2))
    seen = []
    encoder.time_embed[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        features = encoder(torch.randn(2, 4, 16, 16), torch.tensor([999, 5]))
    assert {k: tuple(v.shape) for k, v in features.items()} == {
        "16": (2, 32, 16, 16),
        "8": (2, 32, 8, 8),
        "4": (2, 32, 4, 4),
        "2": (2, 32, 2, 2),
    }
    freqs = torch.exp(-math.log(10000) * torch.arange(16) / 16)
    args = torch.tensor([999.0, 5.0])[:, None] * freqs
    torch.testing.assert_close(seen[0], torch.cat([torch.cos(args), torch.sin(args)], dim=1))
