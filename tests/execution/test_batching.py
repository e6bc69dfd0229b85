"""``--batch-size N`` gives the rows of batch size 1: same keys, values within 1e-5
(relative; in practice bit-identical for the pixel metrics, see docs/scaling.md), for every
built-in pixel and perceptual metric and the interpolation and checkpoint SR models (tiny
random weights in the real layouts), on the sample photographs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry

CHECKPOINTS = Path(__file__).parents[1] / "sr_models" / "checkpoints.py"
KEY = ["item_id", "degradation", "level", "model", "model_options", "model_execution"]
KEY += ["metric", "metric_options", "metric_execution"]
PIXEL = ["psnr", "ssim", "psnr-y", "ssim-y", "lr-psnr", "lr-mae", "lr-sam", "lr-shift"]


def _checkpoints():
    spec = importlib.util.spec_from_file_location("tiny_checkpoints", CHECKPOINTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, str]:
    """Random weights in the real layouts: BSRGAN, Real-ESRGAN, SwinIR, LPIPS's AlexNet."""
    from torchvision.models import alexnet

    folder = tmp_path_factory.mktemp("weights")
    tiny = _checkpoints()
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), folder / "alexnet.pth")
    return {
        "bsrgan": str(tiny.write_checkpoint(tiny.make_rrdbnet_state("kair"), folder / "b.pth")),
        "realesrgan": str(
            tiny.write_checkpoint(
                tiny.make_rrdbnet_state("basicsr"), folder / "r.pth", "params_ema"
            )
        ),
        "swinir": str(
            tiny.write_checkpoint(tiny.make_swinir_state(True, 0), folder / "s.pth", "params_ema")
        ),
        "alexnet": str(folder / "alexnet.pth"),
    }


def _run(db: Path, manifest: Path, weights: dict[str, str], batch_size: int, **extra):
    config = RunConfig(
        models=["bicubic", "nearest", "bsrgan", "realesrgan", "swinir"],
        metrics=[*PIXEL, "lpips"],
        degradations=["bicubic"],
        levels=[1.0],
        manifest=manifest,
        device="cpu",
        batch_size=batch_size,
        options={
            "bsrgan": {"weights": weights["bsrgan"]},
            "realesrgan": {"weights": weights["realesrgan"]},
            "swinir": {"weights": weights["swinir"], "tile": 16},
            "lpips": {"alexnet_weights": weights["alexnet"]},
        },
        **extra,
    )
    with ResultsStore(db) as store:
        summary = run_benchmark(config, build_registry(), store)
        rows = store.results(include_errors=True)
    assert not summary.errors, summary.errors[:3]
    return summary, rows.sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, weights):
    """Batch 1 and batch 2 on two equal-size crops (one chunk of both items at batch 2):
    SR models see both LR images at once, metrics two of an item's five SR outputs."""
    from semfid_bench.sr_models.interpolation import InterpolationUpscaler

    folder = tmp_path_factory.mktemp("runs")
    manifest = _crops(folder)
    seen: list[int] = []
    real = InterpolationUpscaler.upscale

    def counting(self, lr, context):
        seen.append(lr.shape[0])
        assert len(context.seeds) == lr.shape[0] == len(context.items)
        return real(self, lr, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(InterpolationUpscaler, "upscale", counting)
        one = _run(folder / "one.db", manifest, weights, 1)
        one_seen = list(seen)
        seen.clear()
        many = _run(folder / "many.db", manifest, weights, 2, chunk_items=2)
    return one, many, one_seen, seen


def _crops(folder: Path) -> Path:
    """Two 96×64 crops of the sample photographs (as the suite's ``crops_manifest``)."""
    from PIL import Image

    from semfid_bench.datasets.manifest import write_manifest

    sample = Path(__file__).parents[2] / "semfid_bench" / "data" / "sample"
    rows = []
    for name in ("chelsea", "coffee"):
        with Image.open(sample / f"{name}.png") as photo:
            photo.convert("RGB").crop((100, 60, 196, 124)).save(folder / f"{name}.png")
        rows.append({"id": name, "gt": f"{name}.png"})
    write_manifest(folder / "crops.jsonl", "crops", rows)
    return folder / "crops.jsonl"


def _unbatched(summary) -> list[str]:
    """The plugins whose batch raised and which the executor ran image by image."""
    return sorted(n.split(":")[0] for n in summary.notes if "computed image by image" in n)


@pytest.mark.slow
def test_batched_rows_equal_batch_one_rows(runs):
    (one, single), (many, batched), one_seen, many_seen = runs
    assert set(one_seen) == {1} and max(many_seen) == 2  # the batched run did batch
    assert one.computed == many.computed == len(single) > 0
    assert single[KEY].equals(batched[KEY])
    assert set(single["metric"]) == {*PIXEL, "lpips"} and batched["value"].notna().all()
    a, b = single["value"].to_numpy(), batched["value"].to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_every_plugin_computes_its_batches_as_batches(runs):
    """No plugin here needed the image-by-image fallback: the pixel metrics and LPIPS get
    the item's GT reference expanded to the batch, the SR models batch across items."""
    (_, _), (many, _), _, _ = runs
    assert not _unbatched(many)
