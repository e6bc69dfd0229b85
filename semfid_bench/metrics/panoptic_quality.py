"""The set-level segmentation scores, as plain maths on label maps: PQ, mIoU and COCO AP.

Each score comes in two parts, so that a run can cache one image's work and combine any
set of images later: a per-image *statistic* (JSON-able, small) and a *reduce* over the
statistics of a set.

- **PQ** exactly as the COCO panoptic API (``panopticapi/evaluation.py``) defines it: a
  predicted and a GT segment of the same category match when their IoU is > 0.5, the IoU's
  union leaving out the prediction's pixels on VOID; crowd GT segments are never matched
  and unmatched predictions lying more than half on VOID or on a crowd region of their
  category are not false positives. Per category PQ = ΣIoU / (TP + FP/2 + FN/2),
  SQ = ΣIoU / TP, RQ = TP / (TP + FP/2 + FN/2) (so PQ = SQ·RQ), each averaged over the
  categories with any TP, FP or FN in the set.
- **mIoU** the standard confusion-matrix definition: per class TP / (TP + FP + FN) over all
  pixels of the set whose GT is not ignored, averaged over the classes present in the GT
  or the prediction.
- **AP** through pycocotools' ``COCOeval`` on RLE masks (``segm``) or boxes (``bbox``):
  AP@[.50:.95] with COCO's 101-point interpolation and area ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: The segment id of unlabelled pixels in a panoptic map (COCO's VOID).
VOID = 0
#: The label of ignored pixels in a semantic map.
IGNORE = -1


@dataclass(frozen=True)
class Segment:
    """One segment of a panoptic map: its category, and whether it is a crowd region."""

    category: int
    iscrowd: bool = False


@dataclass(frozen=True)
class Panoptic:
    """A panoptic segmentation: a map of segment ids (``VOID`` = unlabelled) and what each
    id is. Ids in the map without an entry in ``segments`` are an error, as in the API."""

    ids: np.ndarray
    segments: Mapping[int, Segment]

    def semantic(self) -> np.ndarray:
        """The map of categories, ``IGNORE`` on VOID (crowd regions keep their category)."""
        lookup = {VOID: IGNORE, **{sid: seg.category for sid, seg in self.segments.items()}}
        unique, inverse = np.unique(self.ids, return_inverse=True)
        missing = [int(u) for u in unique if int(u) not in lookup]
        if missing:
            raise ValueError(f"segment ids {missing[:5]} are in the map but not in its segments")
        return np.array([lookup[int(u)] for u in unique], dtype=np.int64)[inverse].reshape(
            self.ids.shape
        )


#: One image's PQ statistics: ``{category: [tp, fp, fn, iou_sum]}``.
PQStats = dict[int, list[float]]


def pq_statistics(gt: Panoptic, pred: Panoptic) -> PQStats:
    """TP, FP, FN and the matched IoU sum per category for one image (COCO panoptic API)."""
    if gt.ids.shape != pred.ids.shape:
        raise ValueError(f"GT map is {gt.ids.shape} but the prediction is {pred.ids.shape}")
    pred_area = _areas(pred)
    gt_area = _areas(gt)
    for name, areas, panoptic in (("GT", gt_area, gt), ("predicted", pred_area, pred)):
        unknown = sorted(set(areas) - set(panoptic.segments))
        if unknown:
            raise ValueError(f"{name} segment ids {unknown[:5]} have no segment info")
    pairs, counts = np.unique(
        np.stack([gt.ids.ravel(), pred.ids.ravel()]), axis=1, return_counts=True
    )
    overlap = {(int(g), int(p)): int(n) for (g, p), n in zip(pairs.T, counts, strict=True)}
    stats: PQStats = {}

    def add(category: int, index: int, value: float = 1.0) -> None:
        stats.setdefault(category, [0, 0, 0, 0.0])[index] += value

    gt_matched, pred_matched = set(), set()
    for (g, p), intersection in overlap.items():
        if g not in gt_area or p not in pred_area:
            continue
        g_seg, p_seg = gt.segments[g], pred.segments[p]
        if g_seg.iscrowd or g_seg.category != p_seg.category:
            continue
        union = pred_area[p] + gt_area[g] - intersection - overlap.get((VOID, p), 0)
        iou = intersection / union
        if iou > 0.5:
            add(g_seg.category, 0)
            add(g_seg.category, 3, iou)
            gt_matched.add(g)
            pred_matched.add(p)
    crowd = {}
    for g in gt_area:
        segment = gt.segments[g]
        if segment.iscrowd:
            crowd[segment.category] = g
        elif g not in gt_matched:
            add(segment.category, 2)
    for p in pred_area:
        if p in pred_matched:
            continue
        category = pred.segments[p].category
        ignored = overlap.get((VOID, p), 0)
        if category in crowd:
            ignored += overlap.get((crowd[category], p), 0)
        if ignored / pred_area[p] > 0.5:
            continue
        add(category, 1)
    return stats


def _areas(panoptic: Panoptic) -> dict[int, int]:
    """Pixel count of every non-VOID segment id present in the map."""
    ids, counts = np.unique(panoptic.ids, return_counts=True)
    return {int(i): int(n) for i, n in zip(ids, counts, strict=True) if i != VOID}


def pq_reduce(
    per_image: Iterable[Mapping[int, Sequence[float]]], things: Iterable[int] = ()
) -> dict[str, float]:
    """PQ, SQ and RQ of a set (in [0, 1]), also over thing and stuff categories apart
    (``things`` names the thing categories); ``n`` counts the categories averaged."""
    total: dict[int, np.ndarray] = {}
    for stats in per_image:
        for category, values in stats.items():
            total.setdefault(int(category), np.zeros(4))[:] += np.asarray(values, dtype=float)
    thing_set = {int(t) for t in things}
    result: dict[str, float] = {}
    for suffix, keep in (("", None), ("_th", True), ("_st", False)):
        pq = sq = rq = n = 0.0
        for category, (tp, fp, fn, iou) in total.items():
            if keep is not None and (category in thing_set) != keep:
                continue
            if tp + fp + fn == 0:
                continue
            n += 1
            denominator = tp + 0.5 * fp + 0.5 * fn
            pq += iou / denominator
            sq += iou / tp if tp else 0.0
            rq += tp / denominator
        for name, value in (("pq", pq), ("sq", sq), ("rq", rq)):
            result[f"{name}{suffix}"] = value / n if n else float("nan")
        result[f"n{suffix}"] = n
    return result


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) pixel counts, rows GT and columns prediction; GT pixels
    labelled ``IGNORE`` are left out. Labels must lie in [0, num_classes)."""
    if gt.shape != pred.shape:
        raise ValueError(f"GT map is {gt.shape} but the prediction is {pred.shape}")
    keep = gt != IGNORE
    gt, pred = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
    for name, labels in (("GT", gt), ("predicted", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} labels must lie in [0, {num_classes}), got {labels.min()}..")
    return np.bincount(gt * num_classes + pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def miou_reduce(matrices: Iterable[np.ndarray]) -> dict[str, float]:
    """mIoU and pixel accuracy of the summed confusion matrix; ``n`` counts the classes
    averaged (those in the GT or the prediction)."""
    total = None
    for matrix in matrices:
        matrix = np.asarray(matrix, dtype=np.float64)
        total = matrix.copy() if total is None else total + matrix
    if total is None or total.sum() == 0:
        return {"miou": float("nan"), "pixel_accuracy": float("nan"), "n": 0}
    tp = np.diag(total)
    union = total.sum(0) + total.sum(1) - tp
    present = union > 0
    return {
        "miou": float((tp[present] / union[present]).mean()),
        "pixel_accuracy": float(tp.sum() / total.sum()),
        "n": int(present.sum()),
    }


@dataclass(frozen=True)
class Instances:
    """One image's instances for AP: binary masks (N, H, W), categories, crowd flags (GT)
    or confidence scores (detections)."""

    masks: np.ndarray
    categories: Sequence[int]
    scores: Sequence[float] | None = None
    iscrowd: Sequence[bool] | None = None


def coco_annotations(instances: Instances) -> list[dict]:
    """COCO annotation dicts (RLE ``segmentation``, ``bbox``, ``area``, ``category_id`` and
    ``score`` or ``iscrowd``), JSON-able: one image's AP statistic for GT or detections."""
    from pycocotools import mask as mask_utils

    masks = np.asarray(instances.masks, dtype=np.uint8)
    if masks.ndim != 3 or len(masks) != len(instances.categories):
        raise ValueError("masks must be (N, H, W) with one category per mask")
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0))) if len(masks) else []
    annotations = []
    for index, rle in enumerate(rles):
        rle["counts"] = rle["counts"].decode("ascii")
        annotation = {
            "segmentation": rle,
            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "area": float(mask_utils.area(rle)),
            "category_id": int(instances.categories[index]),
        }
        if instances.scores is not None:
            annotation["score"] = float(instances.scores[index])
        else:
            crowd = instances.iscrowd[index] if instances.iscrowd is not None else False
            annotation["iscrowd"] = int(bool(crowd))
        annotations.append(annotation)
    return annotations


_UNUSED = {"segm": "bbox", "bbox": "segmentation"}
#: What COCO AP can compare: masks or boxes.
IOU_TYPES = tuple(_UNUSED)


def ap_reduce(
    per_image: Iterable[tuple[Sequence[int], list[dict], list[dict]]], iou_type: str = "segm"
) -> dict[str, float]:
    """COCO AP of a set with pycocotools: ``per_image`` holds each image's (height, width),
    GT annotations and detections (:func:`coco_annotations`). Returns AP@[.5:.95], AP50,
    AP75 and AP for small, medium and large objects, in [0, 1] (-1 where COCO has none).
    The categories are those of the annotations: COCO averages over the categories with
    GT instances, so listing others would change nothing."""
    import contextlib
    import io

    if iou_type not in _UNUSED:
        raise ValueError(f"iou_type must be one of {sorted(_UNUSED)}, got {iou_type!r}")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, gt_annotations, detections = [], [], []
    for image_id, (size, gts, dts) in enumerate(per_image, start=1):
        images.append({"id": image_id, "height": int(size[0]), "width": int(size[1])})
        for annotation in gts:
            gt_annotations.append({**annotation, "image_id": image_id})
        for annotation in dts:
            # pycocotools takes a detection's area from its box when it has one; mask AP
            # needs the mask's area (as detectron2 does, the box is left out for ``segm``).
            kept = {k: v for k, v in annotation.items() if k != _UNUSED[iou_type]}
            detections.append({**kept, "image_id": image_id})
    for index, annotation in enumerate(gt_annotations, start=1):
        annotation["id"] = index
    names = ("ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large")
    categories = {int(a["category_id"]) for a in gt_annotations + detections}
    if not gt_annotations:
        return dict.fromkeys(names, float("nan"))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {
            "images": images,
            "annotations": gt_annotations,
            "categories": [{"id": c} for c in sorted(categories)],
        }
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(detections) if detections else COCO()
        if not detections:
            coco_dt.dataset = {"images": images, "annotations": [], "categories": []}
            coco_dt.createIndex()
        evaluation = COCOeval(coco_gt, coco_dt, iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(names, (float(v) for v in evaluation.stats[:6]), strict=True))


# --- Reducers of the set-level metrics (``MetricSpec.reduce``): stats dicts → one value ---


def seg_pq(stats: Sequence[Mapping], item_ids: Sequence[str], options: Mapping) -> float:
    """PQ of a slice from ``seg-pq``'s per-item ``{"pq": {category: [tp, fp, fn, iou]}}``."""
    per_image = [{int(c): v for c, v in s["pq"].items()} for s in stats]
    return pq_reduce(per_image)["pq"]


def seg_miou(stats: Sequence[Mapping], item_ids: Sequence[str], options: Mapping) -> float:
    """mIoU of a slice from ``seg-miou``'s sparse per-item confusion matrices."""

    def dense(s: Mapping) -> np.ndarray:
        matrix = np.zeros((s["classes"], s["classes"]), dtype=np.int64)
        entries = np.asarray(s["confusion"], dtype=np.int64).reshape(-1, 3)
        np.add.at(matrix, (entries[:, 0], entries[:, 1]), entries[:, 2])
        return matrix

    return miou_reduce(dense(s) for s in stats)["miou"]


def seg_ap(stats: Sequence[Mapping], item_ids: Sequence[str], options: Mapping) -> float:
    """COCO AP@[.5:.95] of a slice from ``seg-ap``'s per-item RLE annotations."""
    per_image = [(s["size"], s["gt"], s["detections"]) for s in stats]
    return ap_reduce(per_image, options.get("iou_type", "segm"))["ap"]
