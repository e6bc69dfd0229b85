"""The x4 upscaler plugin on a tiny pipeline saved in the hub layout and loaded from disk."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .precision import assert_close_to_float32
from .tiny_diffusion import tiny_text_encoder, tiny_tokenizer, tiny_unet, tiny_vae


@pytest.fixture(scope="module")
def tiny_x4_dir(tmp_path_factory):
    """A StableDiffusionUpscalePipeline with the real classes and tiny configs, saved with
    ``save_pretrained`` (the layout of stabilityai/stable-diffusion-x4-upscaler)."""
    from diffusers import DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline

    tokenizer = tiny_tokenizer()
    pipe = StableDiffusionUpscalePipeline(
        vae=tiny_vae(down_blocks=3, scaling_factor=0.08333, sample_size=64),
        text_encoder=tiny_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        unet=tiny_unet(in_channels=7, num_class_embeds=1000),
        low_res_scheduler=DDPMScheduler(beta_schedule="scaled_linear"),
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", prediction_type="v_prediction"),
        max_noise_level=350,
    )
    folder = tmp_path_factory.mktemp("x4")
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def lr():
    image = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")
    return image[None, :, 108:124, 148:164].contiguous()  # 16×16 crop of the cat's face


def _context(seed: int) -> UpscaleContext:
    return UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=seed)


def _model(folder, **options):
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler

    return SDx4Upscaler(scale=4, device="cpu", weights=str(folder), steps=2, **options)


@pytest.mark.slow
def test_upscales_four_times_finite_and_seeded(tiny_x4_dir, lr):
    model = _model(tiny_x4_dir, guidance=1.0)
    first = model.upscale(lr, _context(7))
    again = model.upscale(lr, _context(7))
    other = model.upscale(lr, _context(8))
    assert first.shape == (1, 3, 64, 64)
    assert torch.isfinite(first).all()
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    reseeded = _model(tiny_x4_dir, guidance=1.0, seed=5).upscale(lr, _context(7))
    assert not torch.equal(first, reseeded)


def test_odd_sizes_are_padded_and_cropped_back_with_guidance(tiny_x4_dir, lr):
    sr = _model(tiny_x4_dir, prompt="a cat").upscale(lr[..., :13, :15], _context(1))
    assert sr.shape == (1, 3, 52, 60)
    assert torch.isfinite(sr).all()


@pytest.mark.slow
def test_tiled_run_keeps_size_and_uses_tiles(tiny_x4_dir, lr):
    lr_tall = torch.cat([lr, lr.flip(-2)], dim=-2)  # 32×16: two tiles of 16
    whole = _model(tiny_x4_dir, guidance=1.0, tile=32).upscale(lr_tall, _context(3))
    tiled = _model(tiny_x4_dir, guidance=1.0, tile=16, tile_overlap=8).upscale(lr_tall, _context(3))
    assert tiled.shape == whole.shape == (1, 3, 128, 64)
    assert torch.isfinite(tiled).all()
    assert not torch.equal(tiled, whole)


def _unet_batches(model) -> list[int]:
    """Batch size of every UNet call ``model`` makes from now on."""
    batches = []
    model.pipe.unet.register_forward_pre_hook(lambda module, args: batches.append(len(args[0])))
    return batches


@pytest.mark.parametrize(
    ("prompt", "negative", "per_step"), [("", "", 1), ("a cat", "", 2), ("", "blur", 2)]
)
def test_guidance_pass_only_when_the_prompts_differ(tiny_x4_dir, lr, prompt, negative, per_step):
    """Equal prompts make classifier-free guidance a no-op: the UNet then sees one sample
    per step, not the (negative, positive) pair (issue 14 item 9)."""
    model = _model(tiny_x4_dir, prompt=prompt, negative_prompt=negative)
    assert model.guidance == (1.0 if per_step == 1 else 9.0)
    batches = _unet_batches(model)
    model.upscale(lr[..., :8, :8], _context(1))
    assert batches == [per_step, per_step]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_runs_close_to_float32(tiny_x4_dir, lr, dtype):
    reference = _model(tiny_x4_dir, prompt="a cat").upscale(lr, _context(1))
    model = _model(tiny_x4_dir, prompt="a cat", dtype=dtype)
    half = getattr(torch, dtype)
    assert model.pipe.unet.dtype == model.pipe.text_encoder.dtype == half
    assert_close_to_float32(model.upscale(lr, _context(1)), reference, half)


def test_offline_without_weights_names_repo_and_option(tmp_path, monkeypatch):
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler

    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError) as error:
        SDx4Upscaler(scale=4, device="cpu")
    text = str(error.value)
    assert "stabilityai/stable-diffusion-x4-upscaler" in text
    assert "--set sd-x4-upscaler.weights=DIR" in text


def test_rejects_other_scales(tiny_x4_dir):
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler

    with pytest.raises(ValueError, match="x4"):
        SDx4Upscaler(scale=2, weights=str(tiny_x4_dir))
