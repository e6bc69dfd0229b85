"""PQ, mIoU and AP on small synthetic label maps whose answers are worked out by hand, and
against the reference implementations (pycocotools; the COCO panoptic API when importable)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from metrics.panoptic_parity import CAR, PERSON, SKY, THINGS, parity_cases
from semfid_bench.metrics.panoptic_quality import (
    IGNORE,
    Instances,
    Panoptic,
    Segment,
    ap_reduce,
    coco_annotations,
    confusion_matrix,
    miou_reduce,
    pq_reduce,
    pq_statistics,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"


def three_categories() -> tuple[Panoptic, Panoptic]:
    """A 4x6 image; columns 0-1 a person, 2-3 sky, 4 a car, 5 VOID."""
    gt = np.zeros((4, 6), dtype=np.int64)
    gt[:, 0:2], gt[:, 2:4], gt[:, 4] = 1, 2, 3
    gt_segments = {1: Segment(PERSON), 2: Segment(SKY), 3: Segment(CAR)}
    pred = np.zeros((4, 6), dtype=np.int64)
    pred[0:3, 0:2] = 1  # person, rows 0-2 only: 6 px
    pred[:, 2:4] = 2  # sky, all of the GT sky ...
    pred[3, 0:2] = 2  # ... plus the person's bottom row: 10 px
    pred[:, 4] = 3  # the car's pixels, called a person
    pred[:, 5] = 4  # a car on the VOID column
    pred_segments = {1: Segment(PERSON), 2: Segment(SKY), 3: Segment(PERSON), 4: Segment(CAR)}
    return Panoptic(gt, gt_segments), Panoptic(pred, pred_segments)


def test_pq_by_hand():
    # person: IoU 6 / (6 + 8 - 6) = 0.75 -> TP; the car column predicted as a person is
    #   an FP of person.       PQ = 0.75 / (1 + 0.5) = 0.5, SQ = 0.75, RQ = 1 / 1.5 = 2/3
    # car: its GT segment is unmatched (FN); the "car" on VOID lies wholly on VOID, so it
    #   is no FP.              PQ = SQ = RQ = 0
    # sky: IoU 8 / (10 + 8 - 8) = 0.8 -> TP.  PQ = SQ = 0.8, RQ = 1
    gt, pred = three_categories()
    stats = pq_statistics(gt, pred)
    assert stats == {PERSON: [1, 1, 0, 0.75], CAR: [0, 0, 1, 0.0], SKY: [1, 0, 0, 0.8]}
    result = pq_reduce([stats], things=[PERSON, CAR])
    assert result["pq"] == pytest.approx((0.5 + 0 + 0.8) / 3)
    assert result["sq"] == pytest.approx((0.75 + 0 + 0.8) / 3)
    assert result["rq"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert result["pq_th"] == pytest.approx(0.25)
    assert result["pq_st"] == pytest.approx(0.8)
    assert (result["n"], result["n_th"], result["n_st"]) == (3, 2, 1)


def test_pq_sums_counts_over_images_before_averaging():
    # image 1: one person TP of IoU 1 (PQ 1); image 2: the person missed (FN) and one
    # predicted elsewhere (FP), PQ 0; image 3: two TPs of IoU 1 (PQ 1). Summed: TP 3, FP 1,
    # FN 1, IoU 3 -> PQ = 3 / (3 + 0.5 + 0.5) = 3/4, not the mean of per-image PQs (2/3).
    one = {PERSON: [1, 0, 0, 1.0]}
    two = {PERSON: [0, 1, 1, 0.0]}
    three = {PERSON: [2, 0, 0, 2.0]}
    assert pq_reduce([one, two, three])["pq"] == pytest.approx(3 / 4)


def test_pq_void_leaves_the_union_and_half_iou_is_no_match():
    gt = np.zeros((2, 4), dtype=np.int64)
    gt[:, 0:2] = 1  # a 4 px person, the right half VOID
    covering = np.ones((2, 4), dtype=np.int64)  # predicted over the person and the VOID
    # union = 8 + 4 - 4 - 4 (the prediction's VOID pixels) = 4 -> IoU 1 -> TP
    stats = pq_statistics(
        Panoptic(gt, {1: Segment(PERSON)}), Panoptic(covering, {1: Segment(PERSON)})
    )
    assert stats == {PERSON: [1, 0, 0, 1.0]}
    half = np.zeros((2, 4), dtype=np.int64)
    half[0, 0:2] = 1  # 2 of the person's 4 px: IoU exactly 0.5, which is not > 0.5
    stats = pq_statistics(Panoptic(gt, {1: Segment(PERSON)}), Panoptic(half, {1: Segment(PERSON)}))
    assert stats == {PERSON: [0, 1, 1, 0.0]}


def test_pq_crowd_regions_are_neither_matched_nor_false_positives():
    gt = np.zeros((2, 4), dtype=np.int64)
    gt[:, 0:2], gt[:, 2:4] = 1, 2  # a crowd of people left, one person right
    pred = gt.copy()  # both predicted exactly, as two person segments
    segments = {1: Segment(PERSON), 2: Segment(PERSON)}
    stats = pq_statistics(
        Panoptic(gt, {1: Segment(PERSON, iscrowd=True), 2: Segment(PERSON)}),
        Panoptic(pred, segments),
    )
    # the crowd is not an FN and the prediction on it is not an FP: PQ = 1
    assert stats == {PERSON: [1, 0, 0, 1.0]}
    # a crowd of another category does not excuse the prediction: FP
    stats = pq_statistics(
        Panoptic(gt, {1: Segment(CAR, iscrowd=True), 2: Segment(PERSON)}), Panoptic(pred, segments)
    )
    assert stats == {PERSON: [1, 1, 0, 1.0]}


def test_pq_rejects_ids_without_segment_info():
    gt, pred = three_categories()
    with pytest.raises(ValueError, match=r"predicted segment ids \[4\]"):
        pq_statistics(gt, Panoptic(pred.ids, {k: v for k, v in pred.segments.items() if k != 4}))


def test_pq_of_nothing_is_nan():
    assert math.isnan(pq_reduce([{}])["pq"])


def test_miou_by_hand():
    # GT / prediction over 6 pixels of classes 0, 1, 2; the last GT pixel is ignored.
    gt = np.array([[0, 0, 1], [1, 2, IGNORE]])
    pred = np.array([[0, 1, 1], [1, 1, 0]])
    matrix = confusion_matrix(gt, pred, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: TP 2, FP 2, FN 0 -> 2/4; class 2: 0/1
    result = miou_reduce([matrix])
    assert result["miou"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert result["pixel_accuracy"] == pytest.approx(3 / 5)
    # a class in neither GT nor prediction is not averaged: the same with 5 classes
    assert miou_reduce([confusion_matrix(gt, pred, 5)])["miou"] == pytest.approx(1 / 3)
    # summed over images, not averaged per image: a second image with class 2 right
    second = confusion_matrix(np.array([[2, 2]]), np.array([[2, 2]]), 3)
    # class 2: TP 2, FN 1 -> 2/3
    assert miou_reduce([matrix, second])["miou"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)


def test_confusion_matrix_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="predicted labels"):
        confusion_matrix(np.array([0]), np.array([3]), 3)


def box(height: int, width: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top:bottom, left:right] = 1
    return mask


def disc(size: int, centre, radius: int) -> np.ndarray:
    rows, columns = np.ogrid[:size, :size]
    inside = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius**2
    return inside.astype(np.uint8)


def test_ap_by_hand():
    # One person in GT; two detections: a perfect one (score 0.9) and a duplicate (0.8).
    # At every IoU threshold the first is a TP, the second an FP ranked after it, so the
    # precision is 1 wherever recall is reached: AP = 1. Swapping the scores ranks the FP
    # first: precision 1/2 at recall 1, so with COCO's interpolation AP = 1/2.
    gt = Instances(np.stack([box(20, 20, 2, 2, 12, 12)]), [PERSON], iscrowd=[False])
    masks = np.stack([box(20, 20, 2, 2, 12, 12), box(20, 20, 10, 10, 20, 20)])
    for scores, expected in (([0.9, 0.8], 1.0), ([0.8, 0.9], 0.5)):
        detections = Instances(masks, [PERSON, PERSON], scores=scores)
        per_image = [((20, 20), coco_annotations(gt), coco_annotations(detections))]
        for iou_type in ("segm", "bbox"):
            assert ap_reduce(per_image, iou_type)["ap"] == pytest.approx(expected)


def test_ap_equals_pycocotools_on_a_coco_file(tmp_path):
    """Our in-memory evaluation gives what pycocotools gives from JSON files on disk."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(0)
    per_image, images, gts, dts = [], [], [], []
    for image_id in (1, 2, 3):
        gt_masks, gt_cats, dt_masks, dt_cats, scores = [], [], [], [], []
        # discs, so a mask's area is not its box's, of COCO's small, medium and large
        # sizes (areas below 32², below 96², above)
        for radius in (6, 12, 25, 40, 58, 10, 30, 56):
            centre = rng.integers(30, 130, size=2)
            gt_masks.append(disc(160, centre, radius))
            gt_cats.append(int(rng.choice([PERSON, CAR])))
            shift = rng.integers(-3, 4, size=2)
            dt_masks.append(disc(160, centre + shift, radius + int(rng.integers(-2, 3))))
            dt_cats.append(gt_cats[-1] if rng.random() < 0.8 else CAR + PERSON - gt_cats[-1])
            scores.append(float(rng.random()))
        gt = coco_annotations(Instances(np.stack(gt_masks), gt_cats, iscrowd=[0] * 7 + [1]))
        dt = coco_annotations(Instances(np.stack(dt_masks), dt_cats, scores=scores))
        per_image.append(((160, 160), gt, dt))
        images.append({"id": image_id, "height": 160, "width": 160})
        gts += [{**a, "image_id": image_id, "id": len(gts) + i + 1} for i, a in enumerate(gt)]
        dts += [{k: v for k, v in a.items() if k != "bbox"} | {"image_id": image_id} for a in dt]
    categories = [{"id": PERSON, "name": "person"}, {"id": CAR, "name": "car"}]
    gt_file, dt_file = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_file.write_text(json.dumps({"images": images, "annotations": gts, "categories": categories}))
    dt_file.write_text(json.dumps(dts))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_file))
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(str(dt_file)), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    ours = ap_reduce(per_image, "segm")
    assert all(0 < value < 1 for value in ours.values())
    names = ("ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large")
    assert [ours[k] for k in names] == pytest.approx(evaluation.stats[:6])


def test_ap_without_detections_is_zero_and_without_gt_nan():
    gt = coco_annotations(Instances(np.stack([box(8, 8, 0, 0, 4, 4)]), [PERSON]))
    assert ap_reduce([((8, 8), gt, [])])["ap"] == 0.0
    assert math.isnan(ap_reduce([((8, 8), [], [])])["ap"])


def test_pq_equals_the_coco_panoptic_api():
    """Seeded random maps scored by ours and, once, by the COCO panoptic API's own
    ``pq_compute_single_core`` (fixture written by scripts/parity/panopticapi_reference.py):
    identical TP/FP/FN, IoU sums per category and PQ/SQ/RQ for all, things and stuff."""
    fixture = json.loads((FIXTURES / "panopticapi_pq.json").read_text())
    assert fixture["source"]["repository"] == "cocodataset/panopticapi"
    ours = [pq_statistics(gt, pred) for gt, pred in parity_cases()]
    summed = {}
    for stats in ours:
        for category, values in stats.items():
            before = summed.get(category, [0] * 4)
            summed[category] = [a + b for a, b in zip(before, values, strict=True)]
    for category, expected in fixture["per_category"].items():
        tp, fp, fn, iou = summed.get(int(category), [0, 0, 0, 0.0])
        assert (tp, fp, fn) == (expected["tp"], expected["fp"], expected["fn"])
        assert iou == pytest.approx(expected["iou"])
    mine = pq_reduce(ours, things=list(THINGS))
    for suffix, theirs in fixture["average"].items():
        for key in ("pq", "sq", "rq"):
            assert mine[f"{key}{suffix}"] == pytest.approx(theirs[key])
