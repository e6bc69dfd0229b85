"""The runner hands metrics that declare ``needs_lr`` the LR the cell used: degraded,
given (``lr`` in the manifest) or a paired item's; the others never see it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from semfid_bench.datasets.images import load_image, save_image
from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.metrics.correctness import Settings, classify
from semfid_bench.metrics.lr_consistency import LRConsistency

METRICS = ["psnr", "lr-mae", "lr-shift", "hallucination"]


def photo(tmp_path, name="coffee"):
    from skimage import data

    array = getattr(data, name)()[40:168, 120:248]
    Image.fromarray(np.ascontiguousarray(array)).save(tmp_path / f"{name}.png")
    return f"{name}.png"


def run(tmp_path, make_registry, store, rows, **config):
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, "lrtest", rows)
    config = RunConfig(metrics=METRICS, manifest=manifest, save_images=tmp_path / "out", **config)
    summary = run_benchmark(config, make_registry(), store)
    results = store.results()
    return summary, {row["metric"]: row for row in results.to_dict("records")}


def expected(lr, sr, gt) -> dict[str, float]:
    """The numbers computed directly from the images the run saved (or was given)."""
    return {
        "lr-mae": float(LRConsistency("mae").score(sr[None], None, lr=lr[None])[0]),
        "lr-shift": float(LRConsistency("shift").score(sr[None], None, lr=lr[None])[0]),
        "hallucination": classify(sr, lr, gt, Settings()).scores[2],
    }


def check(rows, want):
    for name, value in want.items():
        assert not isinstance(rows[name]["error"], str), rows[name]["error"]
        assert rows[name]["value"] == pytest.approx(value, rel=1e-6, abs=1e-9), name


def test_degraded_lr_reaches_the_lr_metrics(tmp_path, make_registry, store):
    gt = photo(tmp_path)
    summary, rows = run(
        tmp_path, make_registry, store, [{"id": "c", "gt": gt}],
        models=["bicubic"], degradations=["bsrgan"], levels=[0.5],
    )  # fmt: skip
    assert not summary.errors
    folder = tmp_path / "out" / "lrtest" / "bsrgan@0.5"
    lr, sr = load_image(folder / "LR" / "c.png"), load_image(folder / "bicubic" / "c.png")
    assert lr.shape[-1] == 32  # native LR size, not upsampled
    check(rows, expected(lr, sr, load_image(tmp_path / gt)))
    assert set(json.loads(rows["hallucination"]["details"])) >= {"improvement", "omission", "map"}


def test_given_lr_reaches_the_lr_metrics(tmp_path, make_registry, store):
    gt = photo(tmp_path)
    given = torch.nn.functional.avg_pool2d(load_image(tmp_path / gt)[None], 4)[0]
    save_image(given, tmp_path / "lr.png")
    summary, rows = run(
        tmp_path, make_registry, store, [{"id": "c", "gt": gt, "lr": "lr.png"}],
        models=["bicubic"],
    )  # fmt: skip
    assert not summary.errors
    sr = load_image(tmp_path / "out" / "lrtest" / "given-lr@1" / "bicubic" / "c.png")
    check(rows, expected(load_image(tmp_path / "lr.png"), sr, load_image(tmp_path / gt)))


def test_paired_items_use_their_lr_or_get_a_clear_error_row(tmp_path, make_registry, store):
    gt = photo(tmp_path)
    hr = load_image(tmp_path / gt)
    save_image(torch.nn.functional.avg_pool2d(hr[None], 4)[0], tmp_path / "lr.png")
    save_image((hr + 0.03 * torch.randn_like(hr)).clamp(0, 1), tmp_path / "sr.png")
    rows = [
        {"id": "with", "gt": gt, "sr": "sr.png", "lr": "lr.png", "model": "m"},
        {"id": "without", "gt": gt, "sr": "sr.png", "model": "n"},
    ]
    summary, _ = run(tmp_path, make_registry, store, rows, models=["bicubic"])
    results = store.results(include_errors=True)
    have = {r["metric"]: r for r in results.query("item_id == 'with'").to_dict("records")}
    check(have, expected(load_image(tmp_path / "lr.png"), load_image(tmp_path / "sr.png"), hr))
    lacking = results.query("item_id == 'without'").set_index("metric")
    assert not isinstance(lacking.loc["psnr", "error"], str)  # psnr does not need the LR
    for name in METRICS[1:]:
        assert "this paired item has none: add an 'lr' path" in lacking.loc[name, "error"]
    assert len(summary.errors) == 3
