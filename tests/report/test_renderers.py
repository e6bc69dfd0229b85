"""Every renderer over one report model built from a small synthetic database: real
photograph crops, SR images with Gaussian noise under hostile model labels, hand-set MOS,
scored by PSNR (declared decimals), SSIM and a test metric without declared decimals."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from PIL import Image

from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugin_api.specs import MetricSpec, SpecError
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
from semfid_bench.report.boards import metric_decimals
from semfid_bench.report.document import Heading, leaderboard_document, publish_document
from semfid_bench.report.html import render_html
from semfid_bench.report.leaderboard import render_leaderboard
from semfid_bench.report.markdown import render_markdown
from semfid_bench.report.model import ReportOptions, build_report
from semfid_bench.report.publish import publish
from semfid_bench.report.tables import FIGURE_SPACE, MISSING

LABELS = ["<script>alert(1)</script>", "m|x\n# y", "[/]", "`b`"]
DATASET = "<b>set</b>|[/]"
RENDER = MarkdownIt("commonmark").enable("table")
NUMBER = re.compile(r"-?\d+\.\d+")


class MeanAbsoluteError(Metric):
    """Mean absolute difference in 8-bit levels: a metric with no declared decimals."""

    def __init__(self, device=None) -> None:
        self.device = device

    def score(self, sr, reference):
        return (sr - reference).abs().mean(dim=(1, 2, 3)) * 255


class TestMetrics:
    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="mae", higher_is_better=False), MeanAbsoluteError)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    rows = []
    for name in ("chelsea", "coffee", "astronaut"):
        with Image.open(SAMPLE_MANIFEST.parent / f"{name}.png") as photo:
            gt = np.asarray(photo.convert("RGB").crop((100, 60, 164, 124)), dtype=float)
        Image.fromarray(gt.astype(np.uint8)).save(folder / f"{name}.png")
        for k, label in enumerate(LABELS):
            sigma = 4.0 + 12.0 * k + rng.uniform(0, 6)
            sr = np.clip(gt + rng.normal(0, sigma, gt.shape), 0, 255).astype(np.uint8)
            Image.fromarray(sr).save(folder / f"{name}-{k}.png")
            mos = min(1.0, k / 3 + rng.uniform(-0.1, 0.1))
            item = {"id": f"{name}/{k}", "gt": f"{name}.png", "sr": f"{name}-{k}.png"}
            rows.append(item | {"model": label, "mos": max(0.0, mos), "split": "all-in"})
    write_manifest(folder / "m.jsonl", DATASET, rows)
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.register(TestMetrics(), name="test-metrics")
    config = RunConfig(
        models=[], metrics=["psnr", "ssim", "mae"], manifest=folder / "m.jsonl", device="cpu"
    )
    path = folder / "r.db"
    with ResultsStore(path) as store:
        assert run_benchmark(config, build_registry(loaded), store).errors == []
    return path


@pytest.fixture(scope="module")
def report(db):
    return build_report(db, ReportOptions(resamples=100, title="t<i>x</i>", note="n|1\n# h"))


def _cells_markdown(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip(" ") for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _numbers(rows: list[list[str]]) -> list[str]:
    return [n for row in rows for cell in row for n in NUMBER.findall(cell)]


def test_one_model_holds_every_part(report):
    assert [board.title for board in report.model_boards] == [f"{DATASET} · given-sr @ 1 · x4"]
    (board,) = report.model_boards
    assert set(board.frame["model"]) == set(LABELS)
    assert board.metrics == ["mae", "psnr", "ssim"]
    assert [b.split for b in report.agreement_boards] == ["all", "all-in"]
    assert len(report.pairwise) == 2 * 3  # three pairs of metrics per split
    assert report.runs[0].dataset == DATASET
    assert {e.model for e in report.explanations} == set(LABELS)


def test_decimals_are_fixed_per_column(report):
    (board,) = report.model_boards
    decimals = {column.label: column.decimals for column in board.columns}
    assert decimals["psnr"] == 2 and decimals["ssim"] == 4  # declared in their specs
    half = (board.frame["mae_high"] - board.frame["mae_low"]).min() / 2
    assert decimals["mae"] == 1 - int(np.floor(np.log10(half)))  # two digits of the CI
    table = _cells_markdown(render_leaderboard(report, "models", "markdown"))
    header, rows = table[0], table[1:]
    for label, places in decimals.items():
        (column,) = [i for i, h in enumerate(header) if h.startswith(label)]
        cells = [row[column].replace(FIGURE_SPACE, "") for row in rows]
        for cell in cells:
            mean, half_width = cell.split(" ± ")
            assert len(mean.split(".")[-1]) == places and len(half_width.split(".")[-1]) == places
        assert len({len(row[column]) for row in rows}) == 1  # padded: the ± line up


def test_derived_decimals_follow_the_narrowest_interval():
    spec = MetricSpec(name="m", higher_is_better=True)
    means = np.array([25.44, 24.4])
    assert metric_decimals(spec, means, means - 3.8, means + 3.8) == 1
    half = np.array([0.051, 0.3])
    assert metric_decimals(spec, means, means - half, means + half) == 3
    no_ci = np.array([np.nan, np.nan])
    assert metric_decimals(spec, np.array([0.7412, 0.6]), no_ci, no_ci) == 4
    declared = MetricSpec(name="m", higher_is_better=True, decimals=2)
    assert metric_decimals(declared, means, means - 0.001, means + 0.001) == 2
    for bad in (-1, 9, 1.5, True, "2"):
        with pytest.raises(SpecError, match="decimals must be None or an integer from 0 to 8"):
            MetricSpec(name="m", higher_is_better=True, decimals=bad)


@pytest.mark.parametrize("kind", ["models", "metrics"])
def test_markdown_and_html_show_the_same_numbers(report, kind):
    markdown = _cells_markdown(render_leaderboard(report, kind, "markdown"))
    parser = _Cells()
    parser.feed(render_leaderboard(report, kind, "html"))
    assert len(parser.rows) == len(markdown) and len(_numbers(markdown)) > 20
    assert _numbers(markdown) == _numbers(parser.rows)
    terminal = render_leaderboard(report, kind, "terminal")
    rows = [line for line in terminal.splitlines() if "│" in line]  # table rows, not prose
    assert NUMBER.findall("\n".join(rows)) == _numbers(markdown)


def test_every_format_shows_headers_with_arrows_and_ci_columns(report):
    markdown = render_leaderboard(report, "models", "markdown")
    assert "mae ↓" in markdown and "psnr ↑ ★" in markdown and "ssim ↑" in markdown
    assert "SRCC \\[95% CI\\]" in render_leaderboard(report, "metrics", "markdown")
    header = render_leaderboard(report, "models", "csv").splitlines()[0].split(",")
    for label in ("mae", "psnr", "ssim"):
        assert {f"{label}_low", f"{label}_high", f"{label}_n"} <= set(header)
    payload = json.loads(render_leaderboard(report, "metrics", "json"))
    assert {"srcc_low", "plcc_high"} <= set(payload["metrics"][0]) and payload["pairwise"]
    assert "nan" not in markdown.lower() and MISSING not in markdown


def test_hostile_labels_are_escaped_in_every_format(report):
    for kind in ("models", "metrics"):
        for page in (
            RENDER.render(render_leaderboard(report, kind, "markdown")),
            render_leaderboard(report, kind, "html"),
        ):
            assert "<script" not in page and "<b>" not in page and "<i>" not in page
            assert "<h1>" in page and page.count("<h1>") == 1  # no label made a heading
    models = RENDER.render(render_leaderboard(report, "models", "markdown"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in models and "[/]" in models
    cells = _Cells()
    cells.feed(models)
    assert {len(row) for row in cells.rows} == {6}  # a pipe in a label made no extra cell
    terminal = render_leaderboard(report, "models", "terminal")
    assert "[/]" in terminal and "<script>alert(1)</script>" in terminal


def test_pages_render_the_same_blocks(report, tmp_path):
    blocks = publish_document(report)
    markdown, page = RENDER.render(render_markdown(blocks)), render_html(blocks, "t")
    for html in (markdown, page):
        assert html.count("<table>") == 2 + 1 + 1 + 1  # two splits, pairwise, models, runs
        assert "<blockquote>" in html and "n|1 # h" in html.replace("\n", " ")
        assert "<h3>Does metric A agree better than metric B?</h3>" in html
    board_blocks = leaderboard_document(report, "models")[1:]  # the same section, one level up
    assert [b for b in board_blocks if not isinstance(b, Heading)] == [
        b for b in blocks if b in board_blocks and not isinstance(b, Heading)
    ]


def test_publish_writes_inside_its_folder_with_one_page_per_explained_pair(db, tmp_path):
    out = tmp_path / "site"
    files = publish(db, out, ReportOptions(resamples=50, explain=1))
    pages = sorted((out / "items").glob("*.html"))
    assert pages and set(pages) <= set(files)
    assert all(path.resolve().is_relative_to(out.resolve()) for path in files)
    assert {p.name for p in (out / "data").iterdir()} == {
        "models.csv",
        "metrics.csv",
        "pairwise.csv",
        "runs.csv",
    }
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(list((out / "plots").glob("*.png")))


def test_published_runs_hold_no_host_pid_or_local_folders(db, tmp_path):
    import pandas as pd

    from semfid_bench.execution.store import open_store

    with open_store(db) as store:
        stored = store.runs()
    assert {"host", "pid"} <= set(stored.columns)
    local = {json.loads(c).get("manifest") for c in stored["config"]} - {None}
    out = tmp_path / "site"
    publish(db, out, ReportOptions(resamples=20, explain=0))
    published = pd.read_csv(out / "data" / "runs.csv")
    assert not {"host", "pid"} & set(published.columns)
    shown = {json.loads(c).get("manifest") for c in published["config"]} - {None}
    assert shown == {Path(m).name for m in local} and not any("/" in m for m in shown)
