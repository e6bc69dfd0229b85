"""seg-pq, seg-ap and seg-miou end to end on a tiny random Mask2Former of the real class,
in both modes, on a real photograph (skimage's astronaut)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semfid_bench.datasets.images import to_uint8
from semfid_bench.datasets.manifest import FORMAT, load_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.metrics import panoptic_quality as reducers
from semfid_bench.metrics.panoptic_quality import confusion_matrix, pq_statistics
from semfid_bench.metrics.segmentation import (
    Categories,
    InstanceAPMetric,
    PanopticQualityMetric,
    SemanticIoUMetric,
    annotated,
)
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import DeclaresWeights
from semfid_bench.report.set_level import set_level_boards

SIZE = 64
# The random network is not confident enough for Mask2Former's evaluation thresholds
# (object score 0.8, overlap 0.8); these let its segments through.
LOOSE = {"threshold": 0.0, "overlap_threshold": 0.0}


@pytest.fixture(scope="module")
def photo() -> tuple[torch.Tensor, torch.Tensor]:
    """The astronaut at 64x64 (GT) and the same image slightly blurred (the "SR" image, on
    which the tiny model finds some of the GT's segments and misses others)."""
    import skimage.data
    from PIL import ImageFilter

    gt = Image.fromarray(skimage.data.astronaut()).resize((SIZE, SIZE), Image.BICUBIC)
    sr = gt.filter(ImageFilter.GaussianBlur(0.5))

    def tensor(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)

    return tensor(gt), tensor(sr)


def metrics(folder: Path, **options) -> dict:
    options = {"weights": str(folder), **LOOSE, **options}
    return {
        "seg-pq": PanopticQualityMetric(**options),
        "seg-ap": InstanceAPMetric(**options),
        "seg-miou": SemanticIoUMetric(**options),
    }


def reduce(name: str, stats: list[dict], options: dict | None = None) -> float:
    return getattr(reducers, name.replace("-", "_"))(stats, ["x"] * len(stats), options or {})


def test_the_gt_against_itself_scores_one(tiny_mask2former, photo):
    gt, _ = photo
    found = metrics(tiny_mask2former)
    things = found["seg-pq"].categories.things
    reference = found["seg-pq"].reference(gt[None], [None])[0]
    categories = {s.category for s in reference.panoptic.segments.values()}
    assert categories & things and categories - things  # things and stuff segments
    for name in ("seg-pq", "seg-miou"):
        metric = found[name]
        stats = metric.item_stats(gt[None], metric.reference(gt[None], [None]))
        assert reduce(name, stats) == pytest.approx(1.0)
    # the GT's instances are its panoptic thing segments, the detections its 12
    # top-scoring thing (query, class) pairs
    metric = found["seg-ap"]
    (stats,) = metric.item_stats(gt[None], metric.reference(gt[None], [None]))
    assert len(stats["gt"]) == len(
        [s for s in reference.panoptic.segments.values() if s.category in things]
    )
    assert {d["category_id"] for d in stats["detections"]} <= things
    assert 0 <= reduce("seg-ap", [stats], {"iou_type": "segm"}) <= 1


def test_box_ap_keeps_boxes_only(tiny_mask2former, photo):
    gt, sr = photo
    boxes = InstanceAPMetric(weights=str(tiny_mask2former), iou_type="bbox", **LOOSE)
    masks = InstanceAPMetric(weights=str(tiny_mask2former), **LOOSE)
    (box_stats,) = boxes.item_stats(sr[None], boxes.reference(gt[None], [None]))
    (mask_stats,) = masks.item_stats(sr[None], masks.reference(gt[None], [None]))
    for key in ("gt", "detections"):
        assert box_stats[key] and all("segmentation" not in a for a in box_stats[key])
        stripped = [{k: v for k, v in a.items() if k != "segmentation"} for a in mask_stats[key]]
        assert box_stats[key] == stripped
    options = {"iou_type": "bbox"}
    assert reduce("seg-ap", [box_stats], options) == reduce("seg-ap", [mask_stats], options)


def test_each_stuff_class_is_one_segment(tiny_mask2former, photo):
    """Repeated stuff queries fuse into one segment per class: each segment of the
    processor's unfused output lies in one segment of ours, of its class (transformers'
    own fusing gives colliding ids on this model, so a class loses its pixels)."""
    gt, _ = photo
    metric = metrics(tiny_mask2former)["seg-pq"]
    segmenter = metric.segmenter
    panoptic = segmenter.segment(gt).panoptic
    things = metric.categories.things
    stuff = [s.category for s in panoptic.segments.values() if s.category not in things]
    assert stuff and len(stuff) == len(set(stuff))
    assert set(np.unique(panoptic.ids)) - {0} == set(panoptic.segments)
    processor = segmenter._processor
    with torch.no_grad():
        outputs = segmenter._load()(**processor(images=[to_uint8(gt)], return_tensors="pt"))
    unfused = processor.post_process_panoptic_segmentation(
        outputs,
        threshold=0.0,
        overlap_mask_area_threshold=0.0,
        label_ids_to_fuse=set(),
        target_sizes=[(SIZE, SIZE)],
    )[0]
    labels = {s["id"]: s["label_id"] for s in unfused["segments_info"]}
    assert len(labels) > len(panoptic.segments)  # some were fused
    for sid, label in labels.items():
        (ours,) = np.unique(panoptic.ids[unfused["segmentation"].numpy() == sid])
        assert panoptic.segments[int(ours)].category == label


def write_annotation(folder: Path, gt: torch.Tensor, metric) -> Path:
    """The segmenter's own panoptic prediction of the GT, written as a COCO panoptic PNG
    with COCO category ids, in a manifest."""
    panoptic = metric.segmenter.segment(gt).panoptic
    ids = panoptic.ids
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "panoptic.png")
    Image.fromarray((gt.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        folder / "gt.png"
    )
    coco = metric.categories.ids
    segments = [
        {"id": sid, "category_id": coco[s.category], "iscrowd": 0}
        for sid, s in panoptic.segments.items()
    ]
    row = {"id": "astronaut", "gt": "gt.png", "panoptic": "panoptic.png", "segments": segments}
    path = folder / "manifest.jsonl"
    header = {"format": FORMAT, "version": 1, "name": "annotated"}
    path.write_text("\n".join(json.dumps(r) for r in (header, row)) + "\n")
    return path


def test_annotations_mode_reads_what_pseudo_gt_mode_predicts(tiny_mask2former, photo, tmp_path):
    """With the GT's panoptic prediction written as its annotation, both modes give the
    same PQ and AP statistics on a degraded image, and mIoU scores the SR image's semantic
    map against that panoptic map's categories: the PNG decoding and the category mapping
    are right."""
    gt, sr = photo
    pseudo = metrics(tiny_mask2former)
    (item,) = load_manifest(write_annotation(tmp_path, gt, pseudo["seg-pq"]))
    annotated_metrics = metrics(tiny_mask2former, mode="annotations")
    for name in ("seg-pq", "seg-ap"):
        metric = annotated_metrics[name]
        from_annotation = metric.item_stats(sr[None], metric.reference(None, [item]))
        predicted = pseudo[name].item_stats(sr[None], pseudo[name].reference(gt[None], [item]))
        assert from_annotation == predicted
    metric = annotated_metrics["seg-miou"]
    (stats,) = metric.item_stats(sr[None], metric.reference(None, [item]))
    segmenter = pseudo["seg-pq"].segmenter
    expected = confusion_matrix(
        segmenter.segment(gt).panoptic.semantic(), segmenter.segment(sr).semantic, 133
    )
    assert stats["classes"] == 133
    rows, columns = np.nonzero(expected)
    assert stats["confusion"].tolist() == [
        [r, c, expected[r, c]] for r, c in zip(rows, columns, strict=True)
    ]
    (stats,) = annotated_metrics["seg-pq"].item_stats(
        sr[None], annotated_metrics["seg-pq"].reference(None, [item])
    )
    counts = np.array(list(stats["pq"].values()))
    assert (counts[:, :3].sum(axis=0) > 0).all()  # TPs, FPs and FNs
    assert 0 < reduce("seg-pq", [stats]) < 1


def test_annotations_are_decoded_into_the_label_space(tmp_path):
    """A 2x3 PNG: ids 1 (COCO person, label 0), 2 (a crowd of people), 0 VOID and 300
    (COCO category 200, rug-merged, the last label 132)."""
    ids = np.array([[1, 1, 2], [0, 300, 300]])
    rgb = np.stack([ids % 256, ids // 256, ids // 65536], -1).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    Image.new("RGB", (3, 2)).save(tmp_path / "g.png")
    segments = [
        {"id": 1, "category_id": 1},
        {"id": 2, "category_id": 1, "iscrowd": 1},
        {"id": 300, "category_id": 200},
    ]
    row = {"id": "a", "gt": "g.png", "panoptic": "p.png", "segments": segments}
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"format": FORMAT, "version": 1}) + "\n" + json.dumps(row) + "\n"
    )
    (item,) = load_manifest(tmp_path / "m.jsonl")
    truth = annotated(item, Categories.load())
    assert truth.semantic.tolist() == [[0, 0, 0], [-1, 132, 132]]
    # instances: the person and the crowd (things); the rug is stuff
    assert truth.instances.categories == [0, 0]
    assert truth.instances.iscrowd == [False, True]
    assert truth.instances.masks.sum(axis=(1, 2)).tolist() == [2, 1]
    # a prediction equal to the annotation matches the person; the crowd is ignored
    assert pq_statistics(truth.panoptic, truth.panoptic) == {0: [1, 0, 0, 1.0], 132: [1, 0, 0, 1.0]}


def test_annotation_errors_name_the_item(tmp_path, tiny_mask2former):
    Image.new("RGB", (3, 2)).save(tmp_path / "g.png")
    Image.fromarray(np.full((2, 3, 3), (5, 0, 0), np.uint8)).save(tmp_path / "p.png")
    rows = [
        {"id": "plain", "gt": "g.png"},
        {"id": "stray", "gt": "g.png", "panoptic": "p.png", "segments": []},
        {"id": "unknown", "gt": "g.png", "panoptic": "p.png",
         "segments": [{"id": 5, "category_id": 91}]},
    ]  # fmt: skip
    (tmp_path / "m.jsonl").write_text(
        "\n".join(json.dumps(r) for r in [{"format": FORMAT, "version": 1}, *rows]) + "\n"
    )
    plain, stray, unknown = load_manifest(tmp_path / "m.jsonl")
    metric = metrics(tiny_mask2former, mode="annotations")["seg-pq"]
    with pytest.raises(ValueError, match="item 'plain' has no panoptic annotation"):
        metric.reference(None, [plain])
    with pytest.raises(ValueError, match=r"item 'stray': .*p.png holds segment ids \[5\]"):
        metric.reference(None, [stray])
    with pytest.raises(ValueError, match=r"item 'unknown': category ids \[91\]"):
        metric.reference(None, [unknown])


def test_options_are_checked(tiny_mask2former, tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        PanopticQualityMetric(mode="gt")
    with pytest.raises(ValueError, match="iou_type must be one of"):
        InstanceAPMetric(iou_type="keypoints")
    (tmp_path / "four.json").write_text(json.dumps([{"id": i, "isthing": 1} for i in range(4)]))
    metric = PanopticQualityMetric(
        weights=str(tiny_mask2former), categories=str(tmp_path / "four.json")
    )
    with pytest.raises(SemfidError, match=r"predicts 133 labels but .*four\.json lists 4"):
        metric.segmenter.segment(torch.zeros(3, 8, 8))


def test_offline_without_weights_names_the_repo_and_the_option(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    assert isinstance(PanopticQualityMetric, DeclaresWeights)
    (lookup,) = PanopticQualityMetric.weight_files().values()
    for attempt in (
        lookup,
        lambda: PanopticQualityMetric().reference(torch.zeros(1, 3, 8, 8), [None]),
    ):
        with pytest.raises(WeightsUnavailableError) as caught:
            attempt()
        assert "facebook/mask2former-swin-large-coco-panoptic" in str(caught.value)
        assert "--set NAME.weights=PATH for each of seg-pq" in str(caught.value)


def test_weight_files_takes_a_local_folder(tiny_mask2former):
    (lookup,) = SemanticIoUMetric.weight_files(weights=str(tiny_mask2former)).values()
    assert lookup() == tiny_mask2former


def test_through_the_runner(crops_manifest, make_registry, store, tiny_mask2former):
    options = {"weights": str(tiny_mask2former), **LOOSE}
    config = RunConfig(
        models=["bicubic"],
        metrics=["seg-pq", "seg-ap", "seg-miou"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        options={name: options for name in ("seg-pq", "seg-ap", "seg-miou")},
    )
    registry = make_registry()
    summary = run_benchmark(config, registry, store)
    assert not summary.errors
    boards = set_level_boards(store, registry, resamples=20)
    assert set(boards["n_items"]) == {2} and boards["error"].isna().all()
    assert ((boards["value"] >= 0) & (boards["value"] <= 1)).all()
    # the mode is part of the key
    options = [json.loads(o) for o in store.item_stats()["metric_options"]]
    assert len(options) == 6 and {o["mode"] for o in options} == {"pseudo-gt"}
