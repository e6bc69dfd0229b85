"""BSRGAN, SwinIR and Real-ESRGAN through the path their published checkpoints take."""

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
from semfid_bench.sr_models.checkpoint_models import BSRGAN, RealESRGAN, SwinIR
from semfid_bench.sr_models.pixel_tiling import Tiling

MODELS = {
    "bsrgan": (BSRGAN, None),
    "realesrgan": (RealESRGAN, None),
    "swinir": (SwinIR, None),
    "swinir-classical": (SwinIR, "classical"),
}


@pytest.fixture(scope="module")
def lr() -> torch.Tensor:
    """A real photograph, downscaled to a small LR image of odd size."""
    photo = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")[None]
    small = F.interpolate(photo, scale_factor=0.25, mode="bicubic", antialias=True)
    return small.clamp(0, 1)[..., 5:26, 7:34]


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / F.mse_loss(a, b)))


@pytest.mark.parametrize("kind", MODELS)
def test_checkpoint_loads_and_upscales_exactly_x4(kind, checkpoint_file, lr):
    cls, variant = MODELS[kind]
    model = cls(scale=4, device="cpu", weights=str(checkpoint_file(kind)), variant=variant)
    sr = model.upscale(lr)
    assert sr.shape == (1, 3, 21 * 4, 27 * 4)
    assert sr.dtype == torch.float32 and sr.min() >= 0 and sr.max() <= 1
    assert sr.std() > 1e-3  # not a constant image


@pytest.mark.parametrize("kind", ["bsrgan", "swinir"])
def test_tiled_inference_agrees_with_whole_image(kind, checkpoint_file, lr):
    cls, variant = MODELS[kind]
    whole = cls(weights=str(checkpoint_file(kind)), variant=variant, tile=0).upscale(lr)
    tiled = cls(
        weights=str(checkpoint_file(kind)), variant=variant, tile=16, tile_overlap=6
    ).upscale(lr)
    assert tiled.shape == whole.shape
    assert _psnr(tiled, whole) > 35


def test_the_saved_weights_are_the_ones_used(checkpoint_file, lr):
    """BSRGAN's and Real-ESRGAN's key layouts of the same weights give the same network."""
    bsrgan = BSRGAN(weights=str(checkpoint_file("bsrgan", seed=7)))
    realesrgan = RealESRGAN(weights=str(checkpoint_file("realesrgan", seed=7)))
    other = RealESRGAN(weights=str(checkpoint_file("realesrgan", seed=8)))
    torch.testing.assert_close(bsrgan.upscale(lr), realesrgan.upscale(lr))
    assert (other.upscale(lr) - realesrgan.upscale(lr)).abs().max() > 1e-3
    saved = torch.load(checkpoint_file("bsrgan", seed=7), weights_only=True)
    loaded = bsrgan.descriptor.model.state_dict()
    torch.testing.assert_close(loaded["model.0.weight"], saved["conv_first.weight"])


def test_truncated_checkpoint_is_a_clear_error_naming_the_file(checkpoint_file):
    path = checkpoint_file("bsrgan")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsUnavailableError, match="Cannot read weights file") as info:
        BSRGAN(weights=str(path))
    assert str(path) in str(info.value)


def test_wrong_checkpoint_names_file_and_expected_network(checkpoint_file):
    path = checkpoint_file("swinir")
    with pytest.raises(WeightsUnavailableError, match="holds a SwinIR network") as info:
        BSRGAN(weights=str(path))
    assert str(path) in info.value.message and "BSRGAN.pth" in info.value.message


def test_foreign_state_dict_is_refused(tmp_path):
    path = tmp_path / "classifier.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match="not a checkpoint of any SR network"):
        RealESRGAN(weights=str(path))


def test_missing_weights_offline_name_file_url_and_option(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        SwinIR()
    text = str(info.value)
    assert "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth" in text
    assert "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/" in text
    assert "--set swinir.weights=PATH" in text


def test_cached_checkpoint_is_used_without_a_path(tmp_path, monkeypatch, checkpoint_file, lr):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    cached = tmp_path / "cache" / "weights" / "RealESRGAN_x4plus.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(checkpoint_file("realesrgan").read_bytes())
    assert [f() for f in RealESRGAN.weight_files().values()] == [cached]
    assert RealESRGAN().upscale(lr).shape[-2:] == (21 * 4, 27 * 4)


def test_unknown_variant_and_scale_are_refused(checkpoint_file):
    with pytest.raises(SemfidError, match="no variant 'huge'"):
        SwinIR(variant="huge", weights=str(checkpoint_file("swinir")))
    with pytest.raises(SemfidError, match="not x2"):
        BSRGAN(scale=2, weights=str(checkpoint_file("bsrgan")))


def test_fp16_runs_close_to_fp32_and_returns_float32(checkpoint_file, lr):
    full = BSRGAN(weights=str(checkpoint_file("bsrgan")))
    half = BSRGAN(weights=str(checkpoint_file("bsrgan")), half=True)
    assert half.dtype == torch.float16 and full.dtype == torch.float32
    sr = half.upscale(lr)
    assert sr.dtype == torch.float32
    assert _psnr(sr, full.upscale(lr)) > 45


def test_fp16_is_refused_where_the_network_does_not_support_it(checkpoint_file):
    with pytest.raises(SemfidError, match="fp16"):
        SwinIR(weights=str(checkpoint_file("swinir")), half=True)


def test_one_out_of_memory_changes_only_that_call(checkpoint_file, lr, monkeypatch):
    """Image A runs out of memory once and is retried in tiles; image B, next, runs whole
    as the settings say and gives exactly what a model that never ran out gives."""
    path = str(checkpoint_file("realesrgan"))
    model = RealESRGAN(weights=path, tile_overlap=4)
    model.tiling = Tiling(tile=0, overlap=4, min_tile=8, fallback_tile=16)
    forward, failures = model._forward, []

    def out_of_memory_once(x):
        if not failures:
            failures.append(tuple(x.shape))
            raise torch.OutOfMemoryError("CUDA out of memory")
        return forward(x)

    monkeypatch.setattr(model, "_forward", out_of_memory_once)
    image_a, image_b = lr, lr.flip(-1).contiguous()
    reference = RealESRGAN(weights=path, tile_overlap=4)
    sr_a = model.upscale(image_a)
    assert failures == [tuple(image_a.shape)] and model.fallbacks()
    assert "16 px tiles" in model.fallbacks()[-1]
    sr_b = model.upscale(image_b)
    assert model.fallbacks() == [] and model.tiling.tile == 0
    torch.testing.assert_close(sr_b, reference.upscale(image_b), atol=0, rtol=0)
    assert not torch.equal(sr_a, reference.upscale(image_a))  # A itself was tiled


def test_precision_and_tiling_enter_the_result_key(checkpoint_file):
    from semfid_bench.execution.plugin_execution import plugin_execution

    model = SwinIR(weights=str(checkpoint_file("swinir")), tile=32)
    assert plugin_execution(model, "cpu", tf32=False) == {
        "device": "cpu",
        "dtype": "float32",
        "tile": 32,
        "tile_overlap": 8,
        "tile_batch": 1,
    }
    model = RealESRGAN(weights=str(checkpoint_file("realesrgan")), half=True)
    assert plugin_execution(model, "cuda", tf32=True) == {
        "device": "cuda",
        "tf32": True,
        "dtype": "float16",
        "tile": 0,
        "tile_overlap": 16,
        "tile_batch": 1,
    }
