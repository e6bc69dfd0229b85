"""Diffusion models retry an image that runs out of memory with smaller tiles, for that call
only: one (fake) OOM on image A leaves image B's output unchanged, and A's rows say what the
retry changed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from semfid_bench.datasets.images import load_image
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugin_api.plugin_manager import build_registry
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .test_sd_x4_upscaler import tiny_x4_dir  # noqa: F401 (fixture)
from .test_seesr import _model as seesr_model
from .test_seesr import tiny_seesr  # noqa: F401 (fixture)
from .test_stablesr import tiny_checkpoints  # noqa: F401 (fixture)


def out_of_memory_once(function):
    """``function``, except that its first call raises ``torch.OutOfMemoryError``."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return function(*args, **kwargs)

    return wrapped


def _images():
    a = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")[None, :, 108:124, 148:164]
    b = load_image(SAMPLE_MANIFEST.parent / "coffee.png")[None, :, 100:116, 200:216]
    return a.contiguous(), b.contiguous()


def _context() -> UpscaleContext:
    return UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=4)


@pytest.mark.slow
def test_sd_x4_retries_one_image_with_a_tiled_decode_and_restores_its_settings(
    tiny_x4_dir,  # noqa: F811
    monkeypatch,
):
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler

    a, b = _images()
    clean = SDx4Upscaler(weights=str(tiny_x4_dir), steps=2).upscale(b, _context())
    model = SDx4Upscaler(weights=str(tiny_x4_dir), steps=2)
    monkeypatch.setattr(model.pipe.vae, "decode", out_of_memory_once(model.pipe.vae.decode))
    assert torch.isfinite(model.upscale(a, _context())).all()
    assert model.fallbacks() == ["out of memory; retried with tiled VAE decode"]
    assert (model.tile, model._force_vae_tiling) == (128, False)
    assert torch.equal(model.upscale(b, _context()), clean) and model.fallbacks() == []


@pytest.mark.slow
def test_controlnet_models_retry_one_image_and_restore_their_settings(
    tiny_seesr,  # noqa: F811
    monkeypatch,
):
    a, b = _images()
    clean = seesr_model(tiny_seesr).upscale(b, _context())
    model = seesr_model(tiny_seesr)
    monkeypatch.setattr(model, "_decode", out_of_memory_once(model._decode))
    model.upscale(a, _context())
    assert model.fallbacks() == ["out of memory; retried with tiled VAE decode"]
    assert (model.tile, model._force_vae_tiling) == (96, False)
    assert torch.equal(model.upscale(b, _context()), clean) and model.fallbacks() == []


def test_when_nothing_is_left_to_shrink_the_error_stands_and_settings_come_back(
    tiny_seesr,  # noqa: F811
    monkeypatch,
):
    model = seesr_model(tiny_seesr, tile=16)

    def always(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(model, "_decode", always)
    with pytest.raises(torch.OutOfMemoryError):
        model.upscale(_images()[0], _context())
    # A 64 px image has an 8 px latent: a tiled decode, then no smaller latent tile.
    assert model.fallbacks() == ["out of memory; retried with tiled VAE decode"]
    assert (model.tile, model._force_vae_tiling) == (16, False)


def test_tiles_halve_to_a_multiple_down_to_a_floor():
    from semfid_bench.sr_models.diffusion.memory_fallback import smaller_tile

    assert smaller_tile(96, 64, 8, 16) == 32  # SeeSR's tile at 512 px: the latent is 64
    assert smaller_tile(1280, 2048, 32, 32) == 640  # StableSR's CFW patches at 2048 px
    assert smaller_tile(1280, 512, 32, 32) == 256
    assert smaller_tile(16, 8, 8, 16) is None


def test_a_different_error_is_not_retried(tiny_x4_dir, monkeypatch):  # noqa: F811
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler

    model = SDx4Upscaler(weights=str(tiny_x4_dir), steps=1)

    def broken(*args, **kwargs):
        raise RuntimeError("shapes do not match")

    monkeypatch.setattr(model.pipe.vae, "decode", broken)
    with pytest.raises(RuntimeError, match="shapes"):
        model.upscale(_images()[0], _context())
    assert model.fallbacks() == []


@pytest.fixture(scope="module")
def two_crops(tmp_path_factory):
    """Items A (chelsea) then B (coffee), 64×64 each."""
    root = tmp_path_factory.mktemp("two")
    lines = ['{"format": "semfid-bench-manifest", "version": 1, "name": "two"}']
    for name, box in (("chelsea", (140, 100, 204, 164)), ("coffee", (200, 100, 264, 164))):
        with Image.open(SAMPLE_MANIFEST.parent / f"{name}.png") as photo:
            photo.convert("RGB").crop(box).save(root / f"{name}.png")
        lines.append(f'{{"id": "{name}", "gt": "{name}.png"}}')
    (root / "two.jsonl").write_text("\n".join(lines) + "\n")
    return root / "two.jsonl"


def _stablesr_run(root, manifest, out):
    options = {
        "weights": str(root / "stablesr_000117.ckpt"),
        "vqgan": str(root / "vqgan_cfw_00011.ckpt"),
        "steps": "2",
        "input_size": "64",
    }
    config = RunConfig(
        models=["stablesr"],
        metrics=["psnr"],
        degradations=["bicubic"],
        device="cpu",
        manifest=manifest,
        options={"model:stablesr": options},
        save_images=out / "images",
    )
    with ResultsStore(out / "r.db") as store:
        summary = run_benchmark(config, build_registry(), store)
        rows = store.results().set_index("item_id")
    assert not summary.errors and summary.computed == 2, summary.errors
    images = {
        name: np.asarray(Image.open(next((out / "images").rglob(f"stablesr*/{name}.png"))))
        for name in ("chelsea", "coffee")
    }
    return rows, images, summary


@pytest.mark.slow
def test_one_oom_on_image_a_leaves_image_b_unchanged_and_is_in_as_rows(
    tiny_checkpoints,  # noqa: F811
    two_crops,
    tmp_path,
    monkeypatch,
):
    """StableSR's CFW decoder runs out of memory on A: A is restored in smaller patches
    (its row says so), B exactly as in a run without the OOM."""
    from semfid_bench.sr_models.diffusion import stablesr

    _, clean, _ = _stablesr_run(tiny_checkpoints, two_crops, tmp_path / "clean")
    monkeypatch.setattr(stablesr, "cfw_decode", out_of_memory_once(stablesr.cfw_decode))
    rows, images, summary = _stablesr_run(tiny_checkpoints, two_crops, tmp_path / "oom")
    note = "SR model 'stablesr': out of memory; retried with CFW-decoder patches of 32 px"
    details = {i: rows.loc[i, "details"] for i in rows.index}
    notes = {
        i: json.loads(d)["input_notes"] if isinstance(d, str) else [] for i, d in details.items()
    }
    assert notes["coffee"] == [] and len(notes["chelsea"]) == 1
    assert notes["chelsea"][0].startswith(note)
    assert any(note in text for text in summary.notes)
    assert np.array_equal(images["coffee"], clean["coffee"])
    assert images["chelsea"].shape == clean["chelsea"].shape
