"""Segmentation-based semantic restoration: ``seg-pq``, ``seg-ap`` and ``seg-miou``.

SeeSR (Table 3) runs a COCO-trained segmenter on SR images of COCO-Val and scores panoptic
quality, instance AP and semantic mIoU against the ground truth. SeeSR used OpenSeeD,
which ``transformers`` does not ship; here the segmenter is Mask2Former with the Swin-L
backbone trained on COCO panoptic (``facebook/mask2former-swin-large-coco-panoptic``, the
strongest COCO panoptic model in ``transformers``; option ``model`` takes another hub id,
``weights`` a local folder, ``revision`` a hub commit). One network gives all three tasks,
through its image processor's ``post_process_panoptic_segmentation`` (thresholds of
Mask2Former's own evaluation: object score 0.8, overlap 0.8), ``…_instance_…`` (the 100
top-scoring query-class pairs, thing classes only, as Mask2Former evaluates instances on a
panoptic model) and ``…_semantic_…``.

Two modes, named in the effective options and so in every result key:

- ``annotations`` (SeeSR's protocol): the GT is the manifest's COCO panoptic annotation
  (``panoptic`` PNG + ``segments``). Its semantic map gives every segment its category
  (VOID ignored); its instances are its thing segments (crowd ones as ``iscrowd``).
- ``pseudo-gt``: the GT is the segmenter's own prediction on the GT image, so the score
  says how much of the GT's segmentation survives SR, on any dataset.

Each metric is set-level: per item it stores small statistics (TP/FP/FN and IoU sums per
category, a sparse confusion matrix, RLE instances), reduced per slice by the functions in
:mod:`semfid_bench.metrics.panoptic_quality`. The three metrics of one configuration
share one loaded model and its last predictions (:func:`shared_segmenter`), so an image is
segmented once, not once per metric.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semfid_bench.datasets.images import to_uint8
from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.panoptic_quality import (
    IOU_TYPES,
    Instances,
    Panoptic,
    Segment,
    coco_annotations,
    confusion_matrix,
    pq_statistics,
)
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.interfaces import SetMetric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.weights import hf_snapshot

DEFAULT_MODEL = "facebook/mask2former-swin-large-coco-panoptic"
MODES = ("pseudo-gt", "annotations")
#: How many predictions a segmenter remembers (the GT and the SR image being scored).
_REMEMBERED = 4


@dataclass(frozen=True)
class Categories:
    """The segmenter's label space: the COCO category id and thing flag of each label, in
    label order (a COCO panoptic model's label i is its i-th category by id)."""

    ids: tuple[int, ...]
    things: frozenset[int]
    """Labels (not category ids) of thing categories."""
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Categories:
        """COCO panoptic's 133 categories, or a JSON file of a ``categories`` list
        (``{"id", "isthing"}`` objects, or a COCO file that holds one)."""
        if path is None:
            source = "COCO panoptic categories (semfid_bench/data/coco_panoptic_categories.json)"
            text = resources.files("semfid_bench").joinpath("data/coco_panoptic_categories.json")
            entries = json.loads(text.read_text())
        else:
            source = str(path)
            try:
                entries = json.loads(Path(path).expanduser().read_text())
            except (OSError, ValueError) as exc:
                raise SemfidError(f"Cannot read categories file {path}: {exc}") from exc
        if isinstance(entries, dict):
            entries = entries.get("categories")
        ok = isinstance(entries, list) and all(
            isinstance(e, dict) and isinstance(e.get("id"), int) and e.get("isthing", 0) in (0, 1)
            for e in entries
        )
        if not ok or not entries:
            raise SemfidError(
                f"{source} holds no list of categories with integer 'id' and 'isthing' 0/1.",
                hint="Pass a COCO panoptic categories list, e.g. panoptic_val2017.json.",
            )
        ordered = sorted(entries, key=lambda e: e["id"])
        things = frozenset(i for i, e in enumerate(ordered) if e.get("isthing", 0) == 1)
        return cls(tuple(e["id"] for e in ordered), things, source)

    def label_of(self) -> dict[int, int]:
        """COCO category id → label."""
        return {category: label for label, category in enumerate(self.ids)}


@dataclass(frozen=True)
class Segmentation:
    """One image segmented, in the segmenter's label space: panoptic segments, the
    semantic map (``IGNORE`` where unlabelled) and thing instances (scored for
    predictions, crowd flags for annotations)."""

    panoptic: Panoptic
    semantic: np.ndarray
    instances: Instances


class Mask2FormerSegmenter:
    """A transformers Mask2Former (loaded on first use) and its image processor's
    post-processing for the three tasks."""

    def __init__(
        self,
        device: torch.device | str | None,
        *,
        model: str,
        weights: str | None,
        revision: str | None,
        categories: Categories,
        threshold: float,
        mask_threshold: float,
        overlap_threshold: float,
    ) -> None:
        self.device = torch.device(device or "cpu")
        self.model_id, self.weights, self.revision = model, weights, revision
        self.categories = categories
        self.threshold = float(threshold)
        self.mask_threshold = float(mask_threshold)
        self.overlap_threshold = float(overlap_threshold)
        self._model = None
        self._processor = None
        self._remembered: OrderedDict[str, Segmentation] = OrderedDict()

    def _load(self):
        if self._model is None:
            from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

            folder = weight_lookup(self.model_id, self.weights, self.revision)()
            self._processor = AutoImageProcessor.from_pretrained(folder)
            model = Mask2FormerForUniversalSegmentation.from_pretrained(folder)
            labels = model.config.num_labels
            if labels != len(self.categories.ids):
                raise SemfidError(
                    f"{self.model_id} predicts {labels} labels but "
                    f"{self.categories.source} lists {len(self.categories.ids)} categories.",
                    hint="Pass categories=PATH: a JSON list of the model's categories, "
                    "one per label, in label order by id.",
                )
            self._model = model.to(self.device).eval()
        return self._model

    def segment(self, image: torch.Tensor) -> Segmentation:
        """One (3, H, W) image in [0, 1] segmented at its own size; the last few results
        are remembered by content, so metrics sharing this segmenter segment once."""
        pixels = to_uint8(image)
        key = hashlib.sha256(pixels.tobytes() + repr(pixels.shape).encode()).hexdigest()
        if key in self._remembered:
            self._remembered.move_to_end(key)
            return self._remembered[key]
        result = self._segment(pixels)
        self._remembered[key] = result
        while len(self._remembered) > _REMEMBERED:
            self._remembered.popitem(last=False)
        return result

    @torch.inference_mode()
    def _segment(self, pixels: np.ndarray) -> Segmentation:
        model = self._load()
        processor = self._processor
        size = [tuple(pixels.shape[:2])]
        inputs = processor(images=[pixels], return_tensors="pt").to(self.device)
        outputs = model(**inputs)
        panoptic = processor.post_process_panoptic_segmentation(
            outputs,
            threshold=self.threshold,
            mask_threshold=self.mask_threshold,
            overlap_mask_area_threshold=self.overlap_threshold,
            label_ids_to_fuse=set(),
            target_sizes=size,
        )[0]
        semantic = processor.post_process_semantic_segmentation(outputs, target_sizes=size)[0]
        instances = processor.post_process_instance_segmentation(
            outputs,
            threshold=0.0,
            mask_threshold=self.mask_threshold,
            overlap_mask_area_threshold=self.overlap_threshold,
            target_sizes=size,
            return_binary_maps=True,
        )[0]
        return Segmentation(
            _panoptic(panoptic, self.categories.things),
            semantic.cpu().numpy().astype(np.int64),
            _things(instances, self.categories.things, size[0]),
        )


def _panoptic(result: dict, things: frozenset[int]) -> Panoptic:
    """A post-processed panoptic result (ids from 1; 0 or -1 unlabelled) as a
    :class:`Panoptic`, the segments of each stuff class fused into one.

    The fusing is done here, not by ``label_ids_to_fuse``: transformers' fusing (5.x)
    resets its id counter to a fused segment's id when that class recurs, so the next new
    segment takes an id already in use and two classes share it.
    """
    ids = result["segmentation"].cpu().numpy().astype(np.int64)
    ids[ids < 0] = 0
    table = np.arange(int(ids.max()) + 1)
    segments: dict[int, Segment] = {}
    first_of_stuff: dict[int, int] = {}
    for info in result["segments_info"]:
        sid, label = int(info["id"]), int(info["label_id"])
        if label not in things:
            fused = first_of_stuff.setdefault(label, sid)
            table[sid] = fused
            sid = fused
        segments[sid] = Segment(label)
    return Panoptic(table[ids], segments)


def _things(result: dict, things: frozenset[int], size: tuple[int, int]) -> Instances:
    """The thing instances of a post-processed instance result (binary maps)."""
    info = result["segments_info"]
    keep = [i for i, s in enumerate(info) if s["label_id"] in things]
    masks = result["segmentation"].cpu().numpy() if info else np.zeros((0, *size))
    return Instances(
        masks[keep].astype(np.uint8).reshape(len(keep), *size),
        [int(info[i]["label_id"]) for i in keep],
        scores=[float(info[i]["score"]) for i in keep],
    )


def weight_lookup(model: str, weights: str | None, revision: str | None) -> Callable[[], Path]:
    """The hub folder lookup of a segmenter (for the metric and ``prefetch``)."""
    patterns = ["*.json", "*.safetensors"]
    return lambda: hf_snapshot(
        model,
        weights,
        option="--set NAME.weights=PATH for each of seg-pq, seg-ap, seg-miou that runs (a "
        "folder with config.json, preprocessor_config.json and model.safetensors)",
        revision=revision,
        allow_patterns=patterns,
    )


_SEGMENTERS: dict[tuple, Mask2FormerSegmenter] = {}


def shared_segmenter(device: torch.device | str | None, **config: Any) -> Mask2FormerSegmenter:
    """One segmenter per configuration and device, shared by the metrics that use it."""
    categories = Categories.load(config.pop("categories"))
    key = (str(torch.device(device or "cpu")), categories, *sorted(config.items()))
    if key not in _SEGMENTERS:
        _SEGMENTERS[key] = Mask2FormerSegmenter(device, categories=categories, **config)
    return _SEGMENTERS[key]


def annotated(item: Item, categories: Categories) -> Segmentation:
    """The GT of ``item`` from its manifest annotation, in the segmenter's label space."""
    from PIL import Image

    if item.panoptic is None:
        raise ValueError(
            f"item {item.id!r} has no panoptic annotation: mode=annotations needs "
            "'panoptic' and 'segments' in its manifest line (or use mode=pseudo-gt)"
        )
    with Image.open(item.panoptic) as png:
        rgb = np.asarray(png.convert("RGB"), dtype=np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    label_of = categories.label_of()
    unknown = sorted({s.category_id for s in item.segments} - set(label_of))
    if unknown:
        raise ValueError(
            f"item {item.id!r}: category ids {unknown[:5]} are not among the "
            f"{len(label_of)} categories of {categories.source}"
        )
    segments = {s.id: Segment(label_of[s.category_id], s.iscrowd) for s in item.segments}
    stray = sorted(set(np.unique(ids).tolist()) - {0} - set(segments))
    if stray:
        raise ValueError(
            f"item {item.id!r}: {item.panoptic} holds segment ids {stray[:5]} that its "
            "'segments' do not list"
        )
    panoptic = Panoptic(ids, segments)
    thing_ids = [sid for sid, s in segments.items() if s.category in categories.things]
    instances = Instances(
        np.stack([ids == sid for sid in thing_ids]).astype(np.uint8)
        if thing_ids
        else np.zeros((0, *ids.shape), np.uint8),
        [segments[sid].category for sid in thing_ids],
        iscrowd=[segments[sid].iscrowd for sid in thing_ids],
    )
    return Segmentation(panoptic, panoptic.semantic(), instances)


def as_ground_truth(prediction: Segmentation, things: frozenset[int]) -> Segmentation:
    """A prediction used as pseudo ground truth: its panoptic thing segments become its
    instances (so GT instances are defined as in ``annotations`` mode)."""
    panoptic = prediction.panoptic
    thing_ids = [sid for sid, s in panoptic.segments.items() if s.category in things]
    thing_ids = [sid for sid in thing_ids if (panoptic.ids == sid).any()]
    instances = Instances(
        np.stack([panoptic.ids == sid for sid in thing_ids]).astype(np.uint8)
        if thing_ids
        else np.zeros((0, *panoptic.ids.shape), np.uint8),
        [panoptic.segments[sid].category for sid in thing_ids],
        iscrowd=[False] * len(thing_ids),
    )
    return Segmentation(panoptic, prediction.semantic, instances)


class SegmentationMetric(SetMetric):
    """Base of ``seg-pq``, ``seg-ap`` and ``seg-miou``: the GT segmentation as the
    reference, one statistics dict per SR image (``task`` says which)."""

    task = ""
    name = ""

    @classmethod
    def weight_files(
        cls,
        model: str = DEFAULT_MODEL,
        weights: str | None = None,
        revision: str | None = None,
        **_: object,
    ) -> dict[str, Callable[[], Path]]:
        """The segmenter's hub repository (for ``prefetch`` and ``doctor``)."""
        return {model: weight_lookup(model, weights, revision)}

    def __init__(
        self,
        device: torch.device | str | None = None,
        *,
        mode: str = "pseudo-gt",
        model: str = DEFAULT_MODEL,
        weights: str | None = None,
        revision: str | None = None,
        categories: str | None = None,
        threshold: float = 0.8,
        mask_threshold: float = 0.5,
        overlap_threshold: float = 0.8,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"{self.name}: mode must be one of {list(MODES)}, got {mode!r}")
        self.mode = mode
        self.segmenter = shared_segmenter(
            device,
            model=model,
            weights=weights,
            revision=revision,
            categories=categories,
            threshold=threshold,
            mask_threshold=mask_threshold,
            overlap_threshold=overlap_threshold,
        )
        self.categories = self.segmenter.categories

    def reference(self, gt: torch.Tensor | None, items: Sequence[Item]) -> list[Segmentation]:
        """The GT segmentation of each item: annotated, or predicted on the GT image."""
        if self.mode == "annotations":
            return [annotated(item, self.categories) for item in items]
        if gt is None:
            raise ValueError(f"{self.name} in mode pseudo-gt needs the GT images")
        things = self.categories.things
        return [as_ground_truth(self.segmenter.segment(image), things) for image in gt]

    def item_stats(
        self, sr: torch.Tensor, reference: list[Segmentation], **_: Any
    ) -> list[dict[str, Any]]:
        """One statistics dict per SR image against its GT segmentation (``reference``:
        one GT's for every SR image, or one per SR image)."""
        stats = []
        for image, truth in zip(sr, broadcast_reference(reference, len(sr)), strict=True):
            if tuple(image.shape[-2:]) != truth.semantic.shape:
                raise ValueError(
                    f"SR image is {image.shape[-1]}x{image.shape[-2]} but its GT segmentation "
                    f"is {truth.semantic.shape[1]}x{truth.semantic.shape[0]}"
                )
            stats.append(self._statistics(self.segmenter.segment(image), truth))
        return stats

    def _statistics(self, prediction: Segmentation, truth: Segmentation) -> dict[str, Any]:
        raise NotImplementedError


class PanopticQualityMetric(SegmentationMetric):
    """``seg-pq``: TP, FP, FN and matched IoU sum per category (COCO panoptic API)."""

    task, name = "pq", "seg-pq"

    def _statistics(self, prediction: Segmentation, truth: Segmentation) -> dict[str, Any]:
        stats = pq_statistics(truth.panoptic, prediction.panoptic)
        return {"pq": {str(category): values for category, values in stats.items()}}


class SemanticIoUMetric(SegmentationMetric):
    """``seg-miou``: the image's confusion matrix, stored sparse (GT, prediction, count)."""

    task, name = "miou", "seg-miou"

    def _statistics(self, prediction: Segmentation, truth: Segmentation) -> dict[str, Any]:
        classes = len(self.categories.ids)
        matrix = confusion_matrix(truth.semantic, prediction.semantic, classes)
        gt, pred = np.nonzero(matrix)
        return {
            "classes": classes,
            "confusion": np.stack([gt, pred, matrix[gt, pred]], axis=1).astype(np.int64),
        }


class InstanceAPMetric(SegmentationMetric):
    """``seg-ap``: the image's GT instances and detections as COCO RLE annotations."""

    task, name = "ap", "seg-ap"

    def __init__(
        self,
        device: torch.device | str | None = None,
        *,
        mode: str = "pseudo-gt",
        iou_type: str = "segm",
        model: str = DEFAULT_MODEL,
        weights: str | None = None,
        revision: str | None = None,
        categories: str | None = None,
        threshold: float = 0.8,
        mask_threshold: float = 0.5,
        overlap_threshold: float = 0.8,
    ) -> None:
        """``iou_type``: ``segm`` (mask AP, SeeSR's instance segmentation column) or
        ``bbox`` (box AP of the masks' boxes, its object detection column)."""
        if iou_type not in IOU_TYPES:
            raise ValueError(f"seg-ap: iou_type must be one of {list(IOU_TYPES)}, got {iou_type!r}")
        self.iou_type = iou_type
        super().__init__(
            device,
            mode=mode,
            model=model,
            weights=weights,
            revision=revision,
            categories=categories,
            threshold=threshold,
            mask_threshold=mask_threshold,
            overlap_threshold=overlap_threshold,
        )

    def _statistics(self, prediction: Segmentation, truth: Segmentation) -> dict[str, Any]:
        def annotations(instances: Instances) -> list[dict]:
            found = coco_annotations(instances)
            if self.iou_type == "bbox":  # boxes only: far smaller statistics than RLE masks
                found = [{k: v for k, v in a.items() if k != "segmentation"} for a in found]
            return found

        return {
            "size": list(truth.semantic.shape),
            "gt": annotations(truth.instances),
            "detections": annotations(prediction.instances),
        }
