"""Every SR model kind runs through the runner on a stand-in GPU (tests/standin_device.py):
tensors that report ``cuda`` and refuse to mix with CPU ones, ``.numpy()`` without
``.cpu()``, or CPU generators drawing onto them. What passes here places everything on the
run device and brings results back the way a real GPU run needs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .ram_layout import TINY_RAM, write_tiny_dape_files
from .test_pasd import tiny_pasd  # noqa: F401 (fixture)
from .test_sd_x4_upscaler import tiny_x4_dir  # noqa: F401 (fixture)
from .test_stablesr import tiny_checkpoints  # noqa: F401 (fixture)
from .tiny_diffusion import write_tiny_seesr


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    """A one-item manifest: a 64×64 crop of the sample cat (16×16 LR at ×4)."""
    root = tmp_path_factory.mktemp("crop")
    with Image.open(SAMPLE_MANIFEST.parent / "chelsea.png") as photo:
        photo.convert("RGB").crop((140, 100, 204, 164)).save(root / "chelsea.png")
    manifest = root / "crop.jsonl"
    manifest.write_text(
        '{"format": "semfid-bench-manifest", "version": 1, "name": "crop"}\n'
        '{"id": "chelsea", "gt": "chelsea.png"}\n'
    )
    return manifest


@pytest.fixture(scope="module")
def seesr_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("seesr")
    write_tiny_seesr(root, TINY_RAM.embed_dim)
    dape = write_tiny_dape_files(root / "dape")
    return {
        "weights": root / "seesr",
        "base": root / "base",
        "ram": dape["ram.pth"],
        "dape": dape["DAPE.pth"],
        "tag_list": dape["tags.txt"],
        "tag_thresholds": dape["thresholds.txt"],
        "ram_config": dape["config.json"],
    }


@pytest.fixture
def model_options(request, checkpoint_file, tmp_path, crop):
    """``model_options(name)`` → the run options that build the tiny version of ``name``."""

    def options(name: str) -> dict:
        fixture = request.getfixturevalue
        if name in ("bsrgan", "realesrgan", "swinir"):
            return {"weights": str(checkpoint_file(name)), "tile": 8}
        if name == "precomputed":
            outputs = tmp_path / "outputs"
            outputs.mkdir()
            with Image.open(crop.parent / "chelsea.png") as gt:
                gt.resize((64, 64), Image.BICUBIC).save(outputs / "chelsea.png")
            return {"dir": str(outputs)}
        if name == "sd-x4-upscaler":
            return {"weights": str(fixture("tiny_x4_dir")), "steps": 2}
        if name == "stablesr":
            root = fixture("tiny_checkpoints")
            return {
                "weights": str(root / "stablesr_000117.ckpt"),
                "vqgan": str(root / "vqgan_cfw_00011.ckpt"),
                "steps": 2,
                "input_size": 64,
            }
        if name == "seesr":
            return {**fixture("seesr_files"), "steps": 2, "process_size": 64}
        if name == "pasd":
            root = fixture("tiny_pasd")
            return {
                "weights": str(root / "pasd"),
                "base": str(root / "base"),
                "captioner": "none",
                "steps": 2,
                "process_size": 64,
            }
        return {}

    return options


def _run(tmp_path, crop, model: str, options: dict, device: str):
    config = RunConfig(
        models=[model],
        metrics=["psnr"],
        degradations=["bicubic"],
        scale=4,
        device=device,
        seed=3,
        manifest=crop,
        options={f"model:{model}": {k: str(v) for k, v in options.items()}},
        save_images=tmp_path / f"images-{device}",
    )
    with ResultsStore(tmp_path / f"{device}.db") as store:
        summary = run_benchmark(config, build_registry(), store)
        results = store.results()
    assert not summary.errors and summary.computed == 1, summary.errors
    return results, summary


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        "bicubic",
        "nearest",
        "realesrgan",
        "swinir",
        "precomputed",
        "sd-x4-upscaler",
        "stablesr",
        "seesr",
        "pasd",
    ],
)
def test_every_sr_model_kind_runs_on_the_standin_gpu(
    model, model_options, tmp_path, crop, standin_gpu, monkeypatch
):
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    results, _ = _run(tmp_path, crop, model, model_options(model), "auto")
    execution = json.loads(results["model_execution"].iloc[0])
    assert execution["device"] == "cuda" and np.isfinite(results["value"]).all()
    assert standin_gpu.ops > 0
