"""Regenerate tests/fixtures/parity/panopticapi_pq.json with the COCO panoptic API itself.

panopticapi is not on PyPI; fetch cocodataset/panopticapi (commit below) outside the
repository and run this script with it on the path:

    git clone https://github.com/cocodataset/panopticapi /tmp/panopticapi
    git -C /tmp/panopticapi checkout 7bb4655548f98f3fedc07bf37e9040a992b054b0
    PYTHONPATH=/tmp/panopticapi:tests python scripts/parity/panopticapi_reference.py

Inputs are tests/metrics/panoptic_parity.py's seeded (GT, prediction) maps, written as
COCO panoptic PNGs (id = R + 256 G + 256² B) with their segments_info; the API's
``pq_compute_single_core`` reads them back and its ``PQStat`` gives per-category TP, FP, FN
and IoU sums and ``pq_average`` PQ/SQ/RQ for all categories, things and stuff.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from metrics.panoptic_parity import CAR, PERSON, SKY, THINGS, parity_cases
from panopticapi.evaluation import pq_compute_single_core
from PIL import Image

COMMIT = "7bb4655548f98f3fedc07bf37e9040a992b054b0"
OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity" / "panopticapi_pq.json"


def _info(panoptic, ids) -> list[dict]:
    return [
        {
            "id": int(i),
            "category_id": panoptic.segments[i].category,
            "iscrowd": int(panoptic.segments[i].iscrowd),
            "area": int((panoptic.ids == i).sum()),
        }
        for i in sorted(ids)
    ]


def main() -> None:
    annotations = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for index, pair in enumerate(parity_cases()):
            entries = []
            for name, panoptic in zip(("gt", "pred"), pair, strict=True):
                folder = root / name
                folder.mkdir(exist_ok=True)
                ids = panoptic.ids
                rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
                Image.fromarray(rgb).save(folder / f"{index}.png")
                present = set(np.unique(ids).tolist()) - {0}
                entries.append(
                    {"image_id": index, "file_name": f"{index}.png",
                     "segments_info": _info(panoptic, present)}
                )  # fmt: skip
            annotations.append(tuple(entries))
        categories = {c: {"id": c, "isthing": int(c in THINGS)} for c in (PERSON, CAR, SKY)}
        stat = pq_compute_single_core(0, annotations, str(root / "gt"), str(root / "pred"),
                                      categories)  # fmt: skip
    per_category = {
        str(c): {k: getattr(stat.pq_per_cat[c], k) for k in ("tp", "fp", "fn", "iou")}
        for c in categories
    }
    average = {}
    for suffix, isthing in (("", None), ("_th", True), ("_st", False)):
        result, _ = stat.pq_average(categories, isthing=isthing)
        average[suffix] = {k: result[k] for k in ("pq", "sq", "rq")}
    fixture = {
        "source": {
            "repository": "cocodataset/panopticapi",
            "commit": COMMIT,
            "function": "panopticapi.evaluation.pq_compute_single_core, PQStat.pq_average",
            "inputs": "tests/metrics/panoptic_parity.py parity_cases()",
        },
        "per_category": per_category,
        "average": average,
    }
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
