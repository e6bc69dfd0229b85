"""A results database with explanation-bearing details, on real photographs.

Three paired items (GT: 96×96 crops of scikit-image photographs; SR: the GT downscaled ×4
and upscaled back with bicubic), one with a hostile id. PSNR and the correctness class map
are computed from the images; SpLiCE and C2C details are synthetic but shaped as those
metrics store them (no CLIP or captioner runs in tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from semfid_bench.datasets.images import load_image
from semfid_bench.datasets.manifest import load_manifest, write_manifest
from semfid_bench.execution.store import CellKey, PluginKey, ResultRow, ResultsStore
from semfid_bench.metrics.correctness import Settings, classify, scores_and_details

HOSTILE = '<script>alert("id")</script>/../%2e&amp;'
PHOTOS = {"astronaut": (100, 20), "chelsea": (150, 40), HOSTILE: (300, 120)}
SPLICE = {
    "gt_concepts": [["cat", 0.41], ["whiskers", 0.2]],
    "sr_concepts": [["cat", 0.33]],
    "lost": [["whiskers", 0.27], ["<b>fur</b>", 0.05]],
    "gained": [["blur", 0.18]],
}
C2C = {"gt_caption": "A cat <img src=x onerror=alert(1)> on a rug", "sr_caption": "A blurry cat"}
METRICS = ("psnr", "splice-sym", "c2c", "improvement")


def write_pairs(folder: Path) -> Path:
    """The paired manifest (real images) the database's run recorded."""
    from skimage import data

    (folder / "gt").mkdir(parents=True)
    (folder / "sr").mkdir()
    rows = []
    for number, (item_id, (left, top)) in enumerate(PHOTOS.items()):
        photo = data.chelsea() if item_id != "astronaut" else data.astronaut()
        gt = Image.fromarray(photo).crop((left, top, left + 96, top + 96))
        lr = gt.resize((24, 24), Image.Resampling.BICUBIC)
        gt.save(folder / "gt" / f"{number}.png")
        lr.save(folder / "sr" / f"{number}-lr.png")
        lr.resize((96, 96), Image.Resampling.BICUBIC).save(folder / "sr" / f"{number}.png")
        rows.append(
            {"id": item_id, "gt": f"gt/{number}.png", "sr": f"sr/{number}.png",
             "lr": f"sr/{number}-lr.png", "model": "bicubic", "degradation": "bicubic",
             "level": 1.0}
        )  # fmt: skip
    path = folder / "pairs.jsonl"
    write_manifest(path, "explain", rows)
    return path


def psnr(gt: np.ndarray, sr: np.ndarray) -> float:
    error = np.mean((gt.astype(np.float64) - sr.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / error))


def write_results(
    db: Path, manifest: Path, registry, splice: dict | None = None, metrics=METRICS
) -> None:
    """One run over the manifest's items: a value and details per metric."""
    items = list(load_manifest(manifest))
    with ResultsStore(db) as store:
        store.start_run("run-1", {"dataset": "explain", "manifest": str(manifest)})
        store.save_metric_specs(registry.get("metric", name).spec for name in metrics)
        store.save_items("explain", items)
        rows = []
        for item in items:
            gt, sr, lr = (load_image(path) for path in (item.gt, item.sr, item.lr))
            cell = CellKey(
                "explain", item.id, "gt", "in", PluginKey("bicubic"), 1.0, 4, 0,
                PluginKey("bicubic"),
            )  # fmt: skip
            value = psnr(np.asarray(Image.open(item.gt)), np.asarray(Image.open(item.sr)))
            values = {"psnr": (value, None), "splice-sym": (0.8, splice or SPLICE)}
            values["c2c"] = (0.6, C2C)
            correctness = classify(sr, lr, gt, Settings())
            _, (details,) = scores_and_details([correctness], 0)
            values["improvement"] = (correctness.scores[0], details)
            rows += [
                ResultRow(cell, PluginKey(name, version=1), *values[name][:1], None,
                          values[name][1])
                for name in metrics
            ]  # fmt: skip
        store.add(rows, "run-1")
        store.finish_run("run-1", "finished")
