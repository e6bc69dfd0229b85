"""dataset select on the bundled sample: band, blur filter, balance, ranking and seed."""

from __future__ import annotations

import shutil
from collections import Counter

import cv2
import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.images import read_rgb
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.study.selection import (
    SelectionCriteria,
    laplacian_variance,
    normalise,
    select_from_run,
    write_selection,
)

MODELS, LEVELS = ("bicubic", "nearest"), (0.3, 1.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """4 sample photographs × bsrgan at 2 levels × 2 models = 16 pairs, images saved."""
    root = tmp_path_factory.mktemp("run")
    config = RunConfig(
        models=list(MODELS),
        metrics=["psnr", "ssim"],
        degradations=["bsrgan"],
        levels=list(LEVELS),
        device="cpu",
        save_images=root / "images",
    )
    registry = build_registry(make_plugin_manager(load_entry_points=False))
    with ResultsStore(root / "r.db") as store:
        assert not run_benchmark(config, registry, store).errors
        values = store.results().pivot_table(
            index=["item_id", "model", "level"], columns="metric", values="value"
        )
    return root, values


def pid(item: str, model: str, level: float) -> str:
    return f"{item}/{model}/bsrgan@{level:g}"


def select(run, **criteria):
    root, _ = run
    options = {"metrics": ("psnr", "ssim"), "band": (0.0, 1.0), "drop_blurriest": 0.0}
    return select_from_run(root / "r.db", root / "images", SelectionCriteria(**options | criteria))


def chosen(selection) -> list[str]:
    return list(selection[0].pairs["pair_id"])


def sharpness_by_hand(path) -> float:
    """Variance of the 4-neighbour Laplacian with reflect-101 borders (OpenCV's default)."""
    grey = cv2.cvtColor(read_rgb(path), cv2.COLOR_RGB2GRAY).astype(float)
    return float(ndimage.laplace(grey, mode="mirror").var())


def test_band_keeps_exactly_the_pairs_whose_normalised_scores_are_inside(run):
    _, values = run
    scaled = (values - values.min()) / (values.max() - values.min())
    inside = scaled[(scaled >= 0.3).all(axis=1) & (scaled <= 0.9).all(axis=1)]
    expected = {pid(*key) for key in inside.index}
    assert 0 < len(expected) < len(values)  # the band matters on this data
    selection = select(run, band=(0.3, 0.9))
    assert set(chosen(selection)) == expected
    assert selection[0].counts == {
        "cells": 16,
        "candidates": 16,
        "in_band": len(expected),
        "after_blur_filter": len(expected),
        "selected": len(expected),
    }


def test_lower_is_better_metrics_are_flipped():
    import pandas as pd

    values = pd.Series([1.0, 2.0, 5.0], name="lpips")
    assert list(normalise(values, False)) == [1.0, 0.75, 0.0]
    assert list(normalise(values, True)) == [0.0, 0.25, 1.0]
    with pytest.raises(SemfidError, match="same value"):
        normalise(pd.Series([2.0, 2.0], name="x"), True)


def test_blur_filter_drops_the_least_sharp_fraction(run):
    kept = select(run, drop_blurriest=0.5)[0].pairs
    assert len(kept) == 8
    everything = select(run)[0].pairs
    sharp = {
        p: sharpness_by_hand(sr)
        for p, sr in zip(everything["pair_id"], everything["sr"], strict=True)
    }
    dropped = set(sharp) - set(kept["pair_id"])
    assert min(sharp[p] for p in kept["pair_id"]) >= max(sharp[p] for p in dropped)
    some = everything["sr"].iloc[0]
    assert laplacian_variance(some) == pytest.approx(sharpness_by_hand(some))


def test_blur_by_a_scored_metric_drops_its_worst_values(run):
    _, values = run
    kept = chosen(select(run, blur_by="psnr", drop_blurriest=0.25))
    worst = {pid(*key) for key in values["psnr"].nsmallest(4).index}
    assert len(kept) == 12 and not worst & set(kept)


@pytest.mark.parametrize("count", [4, 6, 8])
def test_draw_is_balanced_across_models_and_levels(run, count):
    pairs = select(run, count=count)[0].pairs
    groups = Counter(zip(pairs["model"], pairs["level"], strict=True))
    assert len(pairs) == count
    assert set(groups) == {(m, lv) for m in MODELS for lv in LEVELS}
    assert max(groups.values()) - min(groups.values()) <= 1


def test_seed_decides_the_draw_and_the_split(run, tmp_path):
    first = select(run, count=4, seed=3)
    again = select(run, count=4, seed=3)
    assert chosen(first) == chosen(again)
    assert any(chosen(select(run, count=4, seed=s)) != chosen(first) for s in range(4, 9))
    for out in ("a.jsonl", "b.jsonl"):
        selection, manifest, source = select(run, count=8, seed=3)
        write_selection(selection, manifest, tmp_path / out, source)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_split_is_by_gt_image(run):
    pairs = select(run, test_fraction=0.25)[0].pairs
    per_item = pairs.groupby("item_id")["split"].nunique()
    assert (per_item == 1).all()
    assert sorted(pairs.groupby("item_id")["split"].first()) == ["test", "train", "train", "train"]


def test_rank_by_keeps_the_lowest(run):
    _, values = run
    lowest = [pid(*key) for key in values["psnr"].nsmallest(3).index]
    assert chosen(select(run, rank_by="psnr", lowest=3)) == lowest


def test_pairs_without_a_saved_image_are_left_out(run, tmp_path):
    root, _ = run
    images = tmp_path / "images"
    shutil.copytree(root / "images", images)
    (images / "sample" / "bsrgan@0.3" / "nearest" / "coffee.png").unlink()
    selection, _, _ = select_from_run(
        root / "r.db", images, SelectionCriteria(metrics=("psnr",), band=(0, 1), drop_blurriest=0)
    )
    assert selection.counts["candidates"] == 15
    assert pid("coffee", "nearest", 0.3) not in set(selection.pairs["pair_id"])


def test_unscored_metric_is_a_clear_error(run):
    with pytest.raises(SemfidError, match="'lpips' was not scored") as info:
        select(run, metrics=("ssim", "lpips"))
    assert "--metrics including lpips" in info.value.hint


def test_cli_writes_a_manifest_recording_every_criterion(run, tmp_path):
    import json

    root, _ = run
    out = tmp_path / "pairs" / "pairs.jsonl"
    args = ["dataset", "select", "--db", str(root / "r.db"), "--images", str(root / "images")]
    args += ["--out", str(out), "--metrics", "psnr,ssim", "--band", "0.1,0.95", "--count", "5"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    header = json.loads(out.read_text().splitlines()[0])["selection"]
    assert header["criteria"] == {
        "metrics": ["psnr", "ssim"],
        "band": [0.1, 0.95],
        "blur_by": "laplacian",
        "drop_blurriest": 0.6,
        "count": 5,
        "rank_by": None,
        "lowest": None,
        "test_fraction": 0.2,
        "seed": 0,
    }
    assert header["counts"]["selected"] == 5 and header["source"]["dataset"] == "sample"
    manifest = load_manifest(out, allow_outside_paths=True)
    assert len(manifest) == 5
    for item in manifest:
        assert item.paired and item.degradation == "bsrgan" and item.model in MODELS
        assert item.sr == root / "images" / "sample" / f"bsrgan@{item.level:g}" / item.model / (
            item.id.split("/")[0] + ".png"
        )
        assert np.array_equal(read_rgb(item.gt).shape, read_rgb(item.sr).shape)


@pytest.mark.parametrize(
    ("band", "message"),
    [("0.8,0.6", "0 <= low <= high <= 1"), ("0.6", "expected LOW,HIGH"), ("a,b", "LOW,HIGH")],
)
def test_bad_band_is_a_clear_error(band, message, tmp_path):
    args = ["dataset", "select", "--images", str(tmp_path), "--out", str(tmp_path / "p.jsonl")]
    result = CliRunner().invoke(app, [*args, "--band", band, "--db", str(tmp_path / "r.db")])
    assert isinstance(result.exception, SemfidError) and message in result.exception.message


def test_missing_database_is_named(tmp_path):
    with pytest.raises(SemfidError, match=r"Results database not found: .*nope\.db"):
        select_from_run(tmp_path / "nope.db", tmp_path, SelectionCriteria())
    assert not (tmp_path / "nope.db").exists()


def test_band_accepts_a_dash():
    from semfid_bench.commands.dataset import _low_high

    def band(text):
        return _low_high(text, "--band", "0.6,0.8")

    assert band("0.6-0.8") == band("0.6,0.8") == (0.6, 0.8)
