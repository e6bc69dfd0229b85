"""CLU: maps that find replaced regions, the metric plugin and its heatmaps."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from semfid_bench.learned.clu import CLUConfig
from semfid_bench.learned.recipes import train_model
from semfid_bench.learned.training import TrainOptions, changed_iou

from .synthetic import make_pairs


def test_changed_iou_counts_the_changed_region():
    masks = torch.ones(1, 1, 4, 4)
    masks[..., :2, :] = 0.0  # top half changed
    predicted = torch.ones(1, 1, 4, 4)
    predicted[..., :1, :] = 0.0  # top quarter predicted changed
    assert changed_iou(predicted, masks).item() == pytest.approx(0.5)
    assert changed_iou(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4)).item() == 1.0


@pytest.fixture(scope="module")
def trained_clu(tmp_path_factory):
    from semfid_bench.learned.backbones import backbone_config

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("clu")
    manifest = make_pairs(folder / "data", 160, size=48, noise=0.02, seed=2)
    config = CLUConfig(
        backbone=backbone_config("clip-rn50", None, layers=(1, 1, 1, 1), width=8),
        decoder_width=16,
        input_size=48,
        finetune=True,
    )
    options = TrainOptions(epochs=12, lr=3e-3, batch_size=8, seed=0, patience=12)
    trained = train_model(manifest, config, options, out=folder / "clu")
    torch.set_num_threads(before)
    return trained


@pytest.mark.slow
def test_trained_maps_find_replaced_regions_better_than_a_constant_map(trained_clu):
    metrics = trained_clu.record["metrics"]
    test = metrics["test"]
    print(
        f"test IoU untrained {metrics['test_untrained']['iou']:.3f}, constant "
        f"{test['iou_constant']:.3f}, trained {test['iou']:.3f}"
    )
    assert test["iou"] > test["iou_constant"] + 0.1
    assert test["iou"] > metrics["test_untrained"]["iou"]


@pytest.mark.slow
def test_clu_metric_scores_map_means_and_writes_readable_heatmaps(
    trained_clu, make_registry, tmp_path
):
    from semfid_bench.datasets.images import load_image
    from semfid_bench.datasets.manifest import Item

    maps_dir = tmp_path / "maps"
    metric = make_registry().create(
        "metric",
        "clu",
        device=torch.device("cpu"),
        checkpoint=str(trained_clu.config_path),
        maps_dir=str(maps_dir),
    )
    folder = trained_clu.config_path.parent / "data"
    gt = load_image(folder / "gt" / "p150.png")[None]
    sr = load_image(folder / "sr" / "p150.png")[None]
    reference = metric.reference(gt, [Item(id="p150", gt=folder / "gt" / "p150.png")])
    score = metric.score(sr, reference)
    written = sorted(maps_dir.glob("p150-*.png"))
    same = metric.score(gt, reference)
    assert score.shape == (1,) and 0.0 <= float(score) <= 1.0
    assert float(same) > float(score)  # nothing changed scores as more faithful
    assert len(written) == 1 and len(list(maps_dir.glob("p150-*.png"))) == 2
    heatmap = np.asarray(Image.open(written[0]).convert("RGB"))
    assert heatmap.shape == (48, 48, 3)
    mask = np.asarray(Image.open(folder / "mask" / "p150.png")) < 128
    red_minus_blue = heatmap[..., 0].astype(int) - heatmap[..., 2].astype(int)
    assert red_minus_blue[mask].mean() > red_minus_blue[~mask].mean() + 50


@pytest.mark.slow
def test_published_report_shows_the_most_changed_clu_maps(
    trained_clu, make_registry, store, tmp_path
):
    from semfid_bench.datasets.manifest import write_manifest
    from semfid_bench.execution.runner import RunConfig, run_benchmark
    from semfid_bench.report.model import ReportOptions
    from semfid_bench.report.publish import publish

    data = trained_clu.config_path.parent / "data"
    manifest = tmp_path / "pairs.jsonl"
    ids = ["p150", "p151", "p152"]
    rows = [
        {"id": i, "gt": str(data / "gt" / f"{i}.png"), "sr": str(data / "sr" / f"{i}.png")}
        for i in ids
    ]
    write_manifest(manifest, "pairs", rows)
    options = {
        "clu": {"checkpoint": str(trained_clu.config_path), "maps_dir": str(tmp_path / "maps")}
    }
    config = RunConfig(
        models=[],
        metrics=["clu"],
        manifest=manifest,
        options=options,
        device="cpu",
        allow_outside_paths=True,
    )
    assert run_benchmark(config, make_registry(), store).errors == []
    publish(store.path, tmp_path / "report", ReportOptions(maps=2))

    scores = store.results().set_index("item_id")["value"]
    most_changed = sorted(ids, key=lambda i: scores[i])[:2]
    page = (tmp_path / "report" / "index.md").read_text()
    assert "## Where the meaning changed (maps)" in page
    for rank, item_id in enumerate(most_changed):
        copied = tmp_path / "report" / "plots" / f"map_clu_{rank}_{item_id}.png"
        assert f"plots/{copied.name}" in page
        assert np.asarray(Image.open(copied).convert("RGB")).shape == (48, 48, 3)
    assert "<figcaption>" in (tmp_path / "report" / "index.html").read_text()
    # the item pages show the same maps, found through clu's declared artefacts
    pages = sorted((tmp_path / "report" / "items").glob("*.html"))
    assert [p.name.split("-", 1)[1] for p in pages] == [f"{i}.html" for i in most_changed]
    for page in pages:
        text = page.read_text()
        assert "<h2>Map (clu" in text  # the label names its checkpoint and maps_dir
        details = store.results().set_index("item_id")["details"]
        source = details[page.stem.split("-", 1)[1]]
        drawn = re.findall(r'<img src="([^"]+)" alt="map"', text)
        heatmap = np.asarray(Image.open(json.loads(source)["map"]).convert("RGB"))
        assert (np.asarray(Image.open(page.parent / drawn[0]).convert("RGB")) == heatmap).all()
