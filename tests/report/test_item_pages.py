"""Per-item explanation pages: which pairs are chosen, and what a page shows from the
stored details (concepts, captions, class maps), escaped and inside the report folder."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from semfid_bench.execution.store import CellKey, PluginKey, ResultRow, ResultsStore
from semfid_bench.metrics.correctness import CLASSES
from semfid_bench.plugin_api.artefacts import ClassMap, ConceptChanges
from semfid_bench.plugin_api.interfaces import ProducesArtefacts
from semfid_bench.plugin_api.registry import resolve_factory
from semfid_bench.report.explanations import explain
from semfid_bench.report.model import ReportOptions
from semfid_bench.report.publish import publish

from .report_helpers import C2C, HOSTILE, SPLICE, write_pairs, write_results


@pytest.fixture
def report(tmp_path, make_registry):
    db = tmp_path / "results.db"
    write_results(db, write_pairs(tmp_path / "pairs"), make_registry())
    out = tmp_path / "report"
    publish(db, out, ReportOptions(resamples=20, explain=3))
    return out


def _page(out: Path, item_id: str) -> str:
    index = (out / "index.html").read_text(encoding="utf-8")
    for href, text in re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', index):
        if html.unescape(text).startswith(item_id + " · "):
            return (out / unquote(html.unescape(href))).read_text(encoding="utf-8")
    raise AssertionError(f"no link to {item_id!r} in the index")


@pytest.mark.parametrize(
    "name", ["splice-sym", "splice-nonsym", "splice-nouns", "c2c", "c2i", "improvement",
             "omission", "hallucination", "semantic-omission", "clu"],
)  # fmt: skip
def test_metrics_with_details_declare_their_artefacts(make_registry, name):
    factory = resolve_factory(make_registry().get("metric", name).factory)
    assert isinstance(factory, ProducesArtefacts)


def test_pixel_metrics_declare_none(make_registry):
    factory = resolve_factory(make_registry().get("metric", "psnr").factory)
    assert not isinstance(factory, ProducesArtefacts)


def test_an_item_page_shows_scores_concepts_captions_and_the_class_map(report):
    page = _page(report, "chelsea")
    for concept, weight in SPLICE["lost"] + SPLICE["gained"]:
        assert f"<td>{html.escape(concept)}</td><td>{weight:.3f}</td>" in page
    assert "Lost (in GT − SR)" in page and "Gained (in SR − GT)" in page
    assert html.escape(C2C["gt_caption"]) in page and html.escape(C2C["sr_caption"]) in page
    for metric in ("psnr ↑", "splice-sym ↑", "c2c ↑", "improvement ↑"):
        assert f"<td>{metric}</td>" in page
    for name in CLASSES:
        assert f"{name} (" in page  # legend with each class's pixel count
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 3  # GT, SR, class map over the SR
    for src in images:
        assert Image.open(report / "items" / unquote(src)).size == (96, 96)


def test_the_class_map_colours_exactly_the_judged_locations(report, tmp_path, make_registry):
    explained = _explained(tmp_path, make_registry)
    chelsea = next(e for e in explained if e.item_id == "chelsea")
    (class_map,) = [a.artefact for a in chelsea.artefacts if isinstance(a.artefact, ClassMap)]
    cells = np.array(class_map.cells)
    page = _page(report, "chelsea")
    sr_src, map_src = re.findall(r'<img src="([^"]+)"', page)[1:]
    sr = np.asarray(Image.open(report / "items" / unquote(sr_src)).convert("RGB"), dtype=int)
    drawn = np.asarray(Image.open(report / "items" / unquote(map_src)).convert("RGB"), dtype=int)
    judged = np.kron(cells >= 0, np.ones((class_map.cell_pixels,) * 2, dtype=bool))
    top, left = ((np.array(sr.shape[:2]) - judged.shape) // 2).tolist()
    expected = np.zeros(sr.shape[:2], dtype=bool)
    expected[top : top + judged.shape[0], left : left + judged.shape[1]] = judged
    assert (cells >= 0).any() and (cells == -1).any() and top > 0
    assert ((np.abs(drawn - sr).sum(axis=-1) > 0) == expected).all()


def _explained(tmp_path, make_registry, **kwargs):
    db = tmp_path / "again.db"
    write_results(db, write_pairs(tmp_path / "again"), make_registry(), **kwargs)
    with ResultsStore(db) as store:
        results, specs = store.results(include_errors=True), store.metric_specs()
    return explain(results, specs, "psnr", make_registry(), per_cell=3)


def test_hostile_ids_and_details_are_escaped_and_files_stay_inside(report):
    page = _page(report, HOSTILE)
    pages = [p.read_text(encoding="utf-8") for p in report.rglob("*.html")]
    assert len(pages) == 4  # the index and three item pages
    for text in pages:
        assert (
            "<script>" not in text
            and "<b>" not in text
            and "onerror=alert" not in text.replace("&lt;img src=x onerror=alert(1)&gt;", "")
        )
    assert html.escape(HOSTILE) in page and html.escape("<b>fur</b>") in page
    root = report.resolve()
    for path in report.rglob("*"):
        assert path.resolve().is_relative_to(root)
    index = (report / "index.html").read_text(encoding="utf-8")
    for href in re.findall(r'href="([^"]+)"', index):
        assert (report / unquote(html.unescape(href))).is_file()
    markdown = (report / "index.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\((items/[^)]+)\)", markdown):
        assert (report / unquote(target)).is_file()


def test_the_most_changed_pairs_are_chosen_per_model_and_level(tmp_path, make_registry):
    """Per cell, the N worst by the explaining metric in its own direction."""
    registry = make_registry()
    rows, values = [], {}
    rng = np.random.default_rng(0)
    with ResultsStore(tmp_path / "r.db") as store:
        store.save_metric_specs(registry.get("metric", n).spec for n in ("psnr", "lpips"))
        for model in ("bicubic", "nearest"):
            for level in (1.0, 2.0):
                for number in range(5):
                    cell = CellKey(
                        "d", f"i{number}", "g", "h", PluginKey("blur"), level, 4, 0,
                        PluginKey(model),
                    )  # fmt: skip
                    for metric in ("psnr", "lpips"):
                        value = float(rng.uniform(0, 1))
                        values[model, level, f"i{number}", metric] = value
                        rows.append(ResultRow(cell, PluginKey(metric, version=1), value))
        store.add(rows, "run")
        results, specs = store.results(), store.metric_specs()
    frame = pd.Series(values).rename_axis(["model", "level", "item", "metric"]).unstack()
    for metric, ascending in (("psnr", True), ("lpips", False)):
        explained = explain(results, specs, metric, registry, per_cell=2)
        assert len(explained) == 8
        for (model, level), group in frame.groupby(level=["model", "level"]):
            expected = group[metric].sort_values(ascending=ascending).index
            chosen = [e for e in explained if (e.model, e.level) == (model, level)]
            assert [e.item_id for e in chosen] == [i for _, _, i in expected[:2]]
            assert [e.rank for e in chosen] == [1, 2]
            assert {s.metric for s in chosen[0].scores} == {"psnr", "lpips"}


def test_malformed_details_become_a_note_and_the_rest_still_shows(tmp_path, make_registry):
    explained = _explained(tmp_path, make_registry, splice={"lost": "cat", "gained": []})
    for explanation in explained:
        kinds = {type(a.artefact).__name__ for a in explanation.artefacts}
        assert kinds == {"Captions", "ClassMap"}
        assert any("splice-sym: its details could not be shown" in n for n in explanation.notes)
        assert not any(isinstance(a.artefact, ConceptChanges) for a in explanation.artefacts)


def test_a_page_without_its_images_says_why(tmp_path, make_registry):
    from semfid_bench.report.item_pages import write_item_pages

    explained = _explained(tmp_path, make_registry)
    links = write_item_pages(tmp_path / "out", explained[:1], {})
    page = (tmp_path / "out" / links[0][1]).read_text(encoding="utf-8")
    assert "(GT image not available)" in page and "no run recorded its manifest" in page


def test_unpaired_items_take_their_sr_image_from_the_saved_images(
    crops_manifest, make_registry, store, tmp_path
):
    from semfid_bench.datasets.images import read_rgb
    from semfid_bench.execution.runner import RunConfig, run_benchmark

    config = RunConfig(
        models=["nearest"],
        metrics=["psnr"],
        manifest=crops_manifest,
        degradations=["bicubic"],
        levels=[1.0],
        save_images=tmp_path / "saved",
    )
    assert run_benchmark(config, make_registry(), store).errors == []
    for images, shown in ((tmp_path / "saved", True), (None, False)):
        out = tmp_path / f"report-{shown}"
        publish(store.path, out, ReportOptions(resamples=20, explain=2, images=images))
        page = _page(out, "chelsea")
        srcs = re.findall(r'<img src="([^"]+)"', page)
        assert len(srcs) == (2 if shown else 1)
        assert ("run with --save-images DIR and publish with --images DIR" in page) != shown
        if shown:
            saved = tmp_path / "saved" / "crops" / "bicubic@1" / "nearest" / "chelsea.png"
            drawn = read_rgb(out / "items" / unquote(srcs[1]))
            assert (drawn == read_rgb(saved)).all()


def test_splice_details_as_the_metric_writes_them_read_back_as_concepts():
    import torch

    from semfid_bench.metrics.splice import SpliceSimilarity, _top

    words = ["cat", "dog", "rug", "sky"]
    weights = {key: torch.tensor(w) for key, w in (
        ("gt_concepts", [0.5, 0.0, 0.25, 0.0]), ("sr_concepts", [0.4, 0.0, 0.0, 0.0]),
        ("lost", [0.0, 0.0, 0.3, 0.0]), ("gained", [0.0, 0.2, 0.0, 0.1]),
    )}  # fmt: skip
    details = {key: _top(w, words, 3) for key, w in weights.items()}
    (changes,) = SpliceSimilarity.artefacts(details)
    assert [(c.name, c.weight) for c in changes.lost] == [("rug", pytest.approx(0.3))]
    assert [c.name for c in changes.gained] == ["dog", "sky"]
    assert [c.name for c in changes.gt] == ["cat", "rug"] and len(changes.sr) == 1


def test_c2i_notes_a_caption_cut_to_clips_length():
    from semfid_bench.metrics.clip_metrics import CaptionToImage

    details = {"gt_caption": "a cat", "caption_tokens": 90, "caption_truncated": True}
    (captions,) = CaptionToImage.artefacts(details)
    assert (captions.gt, captions.sr) == ("a cat", None) and "cut" in captions.note
    (captions,) = CaptionToImage.artefacts({**details, "caption_truncated": False})
    assert captions.note == ""
