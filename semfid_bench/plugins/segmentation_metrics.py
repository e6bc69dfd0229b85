"""Segmentation-based semantic restoration (SeeSR Table 3): seg-pq, seg-ap, seg-miou."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_SEGMENTER = (
    "Mask2Former Swin-L COCO panoptic (facebook/mask2former-swin-large-coco-panoptic; SeeSR "
    "used OpenSeeD); mode pseudo-gt (GT image's prediction as GT) or annotations (manifest "
    "COCO panoptic PNG + segments)"
)
_MODULE = "semfid_bench.metrics.segmentation"
_REDUCERS = "semfid_bench.metrics.panoptic_quality"


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    for name, factory, convention, description, ci in (
        (
            "seg-pq",
            "PanopticQualityMetric",
            "PQ as the COCO panoptic API (IoU > 0.5, VOID and crowd ignored), mean over "
            "categories present in the set",
            "Panoptic quality of the SR image's segmentation against the GT's (set-level).",
            True,
        ),
        (
            "seg-ap",
            "InstanceAPMetric",
            "COCO AP@[.5:.95] by pycocotools over thing instances; iou_type segm (masks) or bbox",
            "Instance AP of the SR image's instances against the GT's (set-level).",
            False,
        ),
        (
            "seg-miou",
            "SemanticIoUMetric",
            "mIoU of the set's summed confusion matrix over classes in GT or prediction, "
            "VOID ignored",
            "Semantic mIoU of the SR image's segmentation against the GT's (set-level).",
            True,
        ),
    ):
        register.add(
            MetricSpec(
                name=name,
                higher_is_better=True,
                value_range=(0.0, 1.0),
                convention=f"{_SEGMENTER}; {convention}",
                description=description,
                reduce=f"{_REDUCERS}:{name.replace('-', '_')}",
                reduce_ci=ci,
            ),
            f"{_MODULE}:{factory}",
        )
