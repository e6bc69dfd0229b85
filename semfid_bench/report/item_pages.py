"""One HTML page per explained pair, inside the report folder (it works offline as one
folder): GT and SR thumbnails side by side, every score, and each artefact the metrics
produced (concepts lost and gained, captions, maps drawn over the SR image).

    REPORT/items/NNN-<item id>.html, REPORT/items/img/<content hash>.png, NNN-map-K.png

Images: the GT from the run's manifest; the SR image from the manifest for a paired item,
else from the run's ``--save-images`` folder (``images``) if given. A missing or unreadable
image is a note on the page, never a failed report. All user text is escaped and every
file name goes through :func:`~semfid_bench.safe_paths.path_inside`.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from PIL import Image

from semfid_bench.datasets.images import decode_rgb
from semfid_bench.datasets.manifest import Item, load_manifest
from semfid_bench.execution.runner import saved_image_path
from semfid_bench.plugin_api.artefacts import Artefact, Captions, ClassMap, ConceptChanges, MapImage
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.report.explanations import Explanation, MetricArtefact
from semfid_bench.report.html import html_page, html_table
from semfid_bench.safe_paths import path_inside

THUMBNAIL = 256
"""Thumbnails' longest side in pixels (smaller images are shown enlarged, pixelated)."""
CLASS_COLOURS = ((26, 152, 80), (69, 117, 180), (215, 48, 39), (152, 78, 163), (255, 127, 0))
STYLE = (
    ".pair{display:flex;gap:1em;flex-wrap:wrap}.pair figure{margin:0}"
    ".pair img{width:256px;image-rendering:pixelated;border:1px solid #ccc}"
    ".swatch{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .3em}"
    ".notes{color:#8a4b00}td:first-child{text-align:left}"
)


def run_manifests(runs: pd.DataFrame) -> dict[str, dict[str, Item] | str]:
    """Per dataset, the items of the manifest its latest run recorded (paths outside the
    manifest's folder allowed: the run already read them), or why it cannot be read."""
    manifests: dict[str, dict[str, Item] | str] = {}
    for config in reversed(runs["config"].tolist()):
        record = json.loads(config)
        dataset, path = record.get("dataset"), record.get("manifest")
        if not path or dataset in manifests:
            continue
        try:
            manifest = load_manifest(path, allow_outside_paths=True)
        except SemfidError as exc:
            manifests[dataset] = f"its manifest cannot be read: {exc.message}"
            continue
        manifests[dataset] = {item.id: item for item in manifest}
    return manifests


def write_item_pages(
    report_dir: Path,
    explanations: list[Explanation],
    manifests: Mapping[str, Mapping[str, Item] | str],
    images: Path | None = None,
) -> list[tuple[str, str]]:
    """Write one page per explanation under ``report_dir/items``; return (link text,
    path relative to ``report_dir``) per page, in order. ``manifests`` maps dataset →
    item id → item, or why there are none (see :func:`run_manifests`); ``images`` is the
    run's ``--save-images`` folder."""
    report_dir = Path(report_dir)
    links = []
    for number, explanation in enumerate(explanations, start=1):
        name = f"{number:03d}-{explanation.item_id}"
        page = path_inside(report_dir, "items", name, suffix=".html")
        page.parent.mkdir(parents=True, exist_ok=True)
        body = _page_body(report_dir, f"{number:03d}", explanation, manifests, images)
        page.write_text(html_page(explanation.title, body), encoding="utf-8")
        chosen = explanation.score(explanation.chosen_by)
        value = "" if chosen is None or chosen.value is None else f" {chosen.value:.4g}"
        links.append(
            (f"{explanation.title} · {explanation.chosen_by}{value}", _relative(page, report_dir))
        )
    return links


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _href(path: str) -> str:
    """A relative file path as an attribute value: percent-encoded (file names hold ``%``
    from :func:`~semfid_bench.safe_paths.encode_part`), then HTML-escaped."""
    return html.escape(quote(path, safe="/"))


def _page_body(
    root: Path,
    stem: str,
    explanation: Explanation,
    manifests: Mapping[str, Mapping[str, Item] | str],
    images: Path | None,
) -> str:
    notes = list(explanation.notes)
    items = manifests.get(explanation.dataset, "no run recorded its manifest")
    if isinstance(items, str):
        notes.append(f"No images: dataset {explanation.dataset}: {items}.")
        gt_source = sr_source = None
    else:
        item = items.get(explanation.item_id)
        gt_source, sr_source = _sources(explanation, item, images, notes)
    gt = _thumbnail(root, gt_source, "GT", notes)
    sr = _thumbnail(root, sr_source, "SR", notes)
    sr_size = _size(sr_source) if sr is not None else None
    chosen = explanation.score(explanation.chosen_by)
    parts = [
        f"<style>{STYLE}</style>",
        '<p><a href="../index.html">← report</a></p>',
        f"<h1>{html.escape(explanation.title)}</h1>",
        "<p>"
        + html.escape(
            f"Dataset {explanation.dataset}, x{explanation.scale}, seed {explanation.seed}. "
            f"Number {explanation.rank} of its model and level by {explanation.chosen_by} "
            f"{chosen.arrow if chosen else ''}."
        )
        + "</p>",
        '<div class="pair">',
        _figure(gt, "GT", root),
        _figure(sr, "SR", root),
        "</div>",
        "<h2>Scores</h2>",
        html_table(["metric", "score"], [_score_row(s) for s in explanation.scores]),
    ]
    for index, shown in enumerate(explanation.artefacts):
        parts.append(_artefact_html(root, f"{stem}-map-{index}", shown, sr, sr_size, notes))
    if notes:
        entries = "".join(f"<li>{html.escape(n)}</li>" for n in dict.fromkeys(notes))
        parts.append(f'<h2>Notes</h2><ul class="notes">{entries}</ul>')
    return "".join(parts)


def _sources(explanation: Explanation, item: Item | None, images: Path | None, notes: list):
    if item is None:
        notes.append(
            f"Item {explanation.item_id} is not in the run's manifest (moved or edited since):"
            " no images."
        )
        return None, None
    if item.paired:
        return item.gt, item.sr
    if images is None:
        notes.append(
            "SR image not shown: run with --save-images DIR and publish with --images DIR."
        )
        return item.gt, None
    saved = saved_image_path(
        images,
        explanation.dataset,
        explanation.degradation,
        explanation.level,
        explanation.model,
        explanation.item_id,
    )
    if not saved.is_file():
        notes.append(f"SR image not found in the --images folder: {saved}")
        return item.gt, None
    return item.gt, saved


def _thumbnail(root: Path, source: Path | None, what: str, notes: list) -> Path | None:
    """A PNG thumbnail of ``source`` in ``items/img``, named by the source's content (an
    image shown on several pages is stored once) and decoded, so any input format ends up
    as a plain PNG; or None with a note."""
    if source is None:
        return None
    try:
        data = Path(source).read_bytes()
        image = Image.fromarray(decode_rgb(data, source))
    except (OSError, ValueError) as exc:
        notes.append(f"{what} image {source} could not be read: {exc}")
        return None
    name = hashlib.sha256(data).hexdigest()[:16]
    target = path_inside(root, "items", "img", name, suffix=".png")
    if not target.is_file():
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    return target


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _figure(path: Path | None, caption: str, root: Path) -> str:
    if path is None:
        return f"<figure><p>({html.escape(caption)} image not available)</p></figure>"
    src = _href(_relative(path, root / "items"))
    return (
        f'<figure><img src="{src}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _score_row(score) -> list[str]:
    if score.error is not None:
        return [f"{score.metric} {score.arrow}", f"error: {score.error}"]
    value = "–" if score.value is None else f"{score.value:.4g}"
    return [f"{score.metric} {score.arrow}", value]


def _artefact_html(
    root: Path,
    stem: str,
    shown: MetricArtefact,
    sr: Path | None,
    sr_size: tuple[int, int] | None,
    notes: list,
) -> str:
    artefact: Artefact = shown.artefact
    source = html.escape(", ".join(shown.metrics))
    if isinstance(artefact, ConceptChanges):
        rows = [
            ("Lost (in GT − SR)", artefact.lost),
            ("Gained (in SR − GT)", artefact.gained),
            ("GT's concepts", artefact.gt),
            ("SR's concepts", artefact.sr),
        ]
        tables = "".join(
            f"<div><h3>{html.escape(title)}</h3>"
            + html_table(["concept", "weight"], [[c.name, f"{c.weight:.3f}"] for c in concepts])
            + "</div>"
            for title, concepts in rows
            if concepts
        )
        shown = f'<div class="pair">{tables}</div>' if tables else "<p>No concept was active.</p>"
        return f"<h2>Concepts ({source})</h2>{shown}"
    if isinstance(artefact, Captions):
        lines = [["GT", artefact.gt]] + ([["SR", artefact.sr]] if artefact.sr is not None else [])
        note = f"<p>{html.escape(artefact.note)}</p>" if artefact.note else ""
        return f"<h2>Captions ({source})</h2>{html_table(['image', 'caption'], lines)}{note}"
    if isinstance(artefact, MapImage):
        copied = _thumbnail(root, artefact.path, f"{source} map", notes)
        figure = f'<div class="pair">{_figure(copied, "map", root)}</div>'
        return f"<h2>Map ({source})</h2><p>{html.escape(artefact.legend)}</p>{figure}"
    overlay = _class_overlay(root, stem, artefact, sr, sr_size)
    swatches = " ".join(
        f'<span class="swatch" style="background:rgb{_colour(k)}"></span>'
        f"{html.escape(name)} ({artefact.counts[k]})"
        for k, name in enumerate(artefact.classes)
    )
    return (
        f"<h2>Class map ({source})</h2><p>{html.escape(artefact.legend)}</p><p>{swatches}</p>"
        + '<div class="pair">'
        + _figure(overlay, "class map over the SR image" if sr else "class map", root)
        + "</div>"
    )


def _colour(index: int) -> tuple[int, int, int]:
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def _class_overlay(
    root: Path, stem: str, artefact: ClassMap, sr: Path | None, sr_size: tuple[int, int] | None
) -> Path:
    """The class map's colours over the SR thumbnail (grey without one): centred at its
    cells' size in SR pixels, or stretched over the image."""
    cells = np.array(artefact.cells)
    colours = np.zeros((*cells.shape, 4), dtype=np.uint8)
    for k in range(len(artefact.classes)):
        colours[cells == k] = (*_colour(k), 150)
    layer = Image.fromarray(colours, "RGBA")
    if sr is None:
        height = THUMBNAIL * cells.shape[0] // cells.shape[1]
        base = Image.new("RGBA", (THUMBNAIL, height), "grey")
    else:
        with Image.open(sr) as opened:
            base = opened.convert("RGBA")
    size, offset = base.size, (0, 0)
    if artefact.cell_pixels is not None and sr_size is not None:
        shrink = base.size[0] / sr_size[0]
        full = [n * artefact.cell_pixels for n in reversed(cells.shape)]
        size = tuple(round(min(f, s) * shrink) for f, s in zip(full, sr_size, strict=True))
        offset = tuple((b - n) // 2 for b, n in zip(base.size, size, strict=True))
    canvas = Image.new("RGBA", base.size, (0, 0, 0, 0))
    canvas.paste(layer.resize(size, Image.Resampling.NEAREST), offset)
    target = path_inside(root, "items", "img", stem, suffix=".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.alpha_composite(base, canvas).convert("RGB").save(target)
    return target
