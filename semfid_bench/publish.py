"""A published report: one folder with a markdown page, a self-contained HTML page (plots
embedded), the PNG plots and the tables as CSV.

    leaderboards/NAME/index.md, index.html, plots/*.png, data/{models,metrics,pairwise,runs}.csv
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from semfid_bench.agreement import metric_agreement, pairwise_comparisons, scores_with_mos
from semfid_bench.api import open_store
from semfid_bench.errors import SemfidError
from semfid_bench.escaping import markdown_table, md_text, md_url
from semfid_bench.leaderboard import model_leaderboards, to_markdown, with_variant_labels
from semfid_bench.plots import correlation_bars, level_plots, scatter_plots
from semfid_bench.render import (
    html_page,
    html_table,
    metrics_html_body,
    metrics_markdown,
    models_frame,
    models_html_body,
)
from semfid_bench.safe_paths import path_inside
from semfid_bench.set_metrics import set_level_boards, set_level_html, set_level_markdown


@dataclass(frozen=True)
class PublishOptions:
    """How agreement statistics are computed for the report (recorded on the page)."""

    title: str = "semfid-bench report"
    note: str = ""
    rank_by: str | None = None
    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    logistic: str = "4pl"
    clu_maps: int = 4


MAPS_NOTE = (
    "Local semantic-difference maps of the pairs CLU scores lowest (blue kept, red changed), "
    "drawn over the SR image."
)
RUN_HEADER = ["run", "started", "status", "dataset", "models", "levels", "metrics", "seed"]
RUN_HEADER += ["scale", "device", "versions"]


def run_rows(runs: pd.DataFrame, text: Callable[[object], str]) -> list[list[str]]:
    """The run configuration table: what was run, with which seeds, versions and device;
    ``text`` shows user text (:func:`md_text` for markdown, ``str`` for HTML)."""
    rows = []
    for run in runs.to_dict("records"):
        config = json.loads(run["config"])
        env = config.get("environment", {})
        levels = "; ".join(
            f"{name} {', '.join(f'{lv:g}' for lv in values)}"
            for name, values in config.get("degradations", {}).items()
        )
        versions = ", ".join(
            f"{key} {env[key]}"
            for key in ("semfid_bench", "python", "torch", "numpy")
            if key in env
        )
        rows.append(
            [
                text(run["run_id"]),
                text(run["started_at"]),
                text(run["status"]),
                text(config.get("dataset", "")),
                text(", ".join(map(str, config.get("models", [])))),
                text(levels),
                text(", ".join(map(str, config.get("metrics", [])))),
                text(config.get("seed", "")),
                text(f"x{config.get('scale', '')}"),
                text(env.get("device", "")),
                text(versions),
            ]
        )
    return rows


def publish(db: str | Path, out: str | Path, options: PublishOptions | None = None) -> list[Path]:
    """Write the report for everything in ``db`` into folder ``out``; return the files."""
    options = options or PublishOptions()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SemfidError(f"--out {out} is a file; publish writes a report folder there.")
    with open_store(db) as store:
        results = store.results(include_errors=True)
        items, specs, runs = store.items(), store.metric_specs(), store.runs()
        set_level = set_level_boards(store, resamples=options.resamples, seed=options.seed)
    labelled = with_variant_labels(results)
    scored = labelled[labelled["error"].isna() & labelled["value"].notna()]
    if scored.empty:
        raise SemfidError(f"No results in {db} to publish.", hint="Run `semfid-bench run` first.")
    tables = model_leaderboards(scored, specs, options.rank_by)
    plots_dir = path_inside(out, "plots")
    plots = level_plots(scored, specs, plots_dir)
    try:
        scores = scores_with_mos(results, items)
    except SemfidError as exc:
        agreement = pairwise = None
        agreement_note = exc.message
    else:
        stats_args = {"resamples": options.resamples, "seed": options.seed}
        stats_args["confidence"] = options.confidence
        agreement = metric_agreement(results, items, specs, logistic=options.logistic, **stats_args)
        pairwise = pairwise_comparisons(results, items, **stats_args)
        agreement_note = (
            f"Bootstrap: {options.resamples} resamples, seed {options.seed}, "
            f"{options.confidence:.0%} percentile intervals; {options.logistic} logistic mapping."
        )
        plots = (
            correlation_bars(agreement, plots_dir)
            + scatter_plots(scores, agreement, plots_dir)
            + plots
        )
    maps = clu_maps(scored, plots_dir, options.clu_maps)
    data_dir = path_inside(out, "data")
    data_dir.mkdir(parents=True, exist_ok=True)
    written = [
        *plots,
        *(p for p, _ in maps),
        *_write_data(data_dir, tables, agreement, pairwise, runs, set_level),
    ]
    reports = (options, tables, specs, agreement, pairwise, agreement_note, runs, plots, set_level)
    markdown = _markdown(*reports)
    path_inside(out, "index.md").write_text(markdown + _maps_markdown(maps, out), encoding="utf-8")
    page = _html(*reports, maps)
    path_inside(out, "index.html").write_text(page, encoding="utf-8")
    return [out / "index.md", out / "index.html", *written]


def clu_maps(scored: pd.DataFrame, plots_dir: Path, limit: int) -> list[tuple[Path, str]]:
    """Copy the CLU heatmaps of the ``limit`` pairs it finds most changed into the report.

    Heatmaps exist when ``clu`` ran with ``maps_dir``; their paths are in the results'
    details. Returns (copied file, caption) pairs.
    """
    rows = scored[
        (scored.get("metric_name", scored["metric"]) == "clu") & scored["details"].notna()
    ]
    maps: list[tuple[Path, str]] = []
    for row in rows.sort_values(["value", "item_id"]).to_dict("records"):
        source = Path(str(json.loads(row["details"]).get("map", "")))
        if len(maps) == limit or source.suffix != ".png" or not source.is_file():
            continue
        target = path_inside(plots_dir, f"clu_{len(maps)}_{row['item_id']}", suffix=".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        caption = (
            f"{row['item_id']} · {row['model']} · {row['degradation']}@{row['level']:g} · "
            f"clu {row['value']:.3f}"
        )
        maps.append((target, caption))
    return maps


def _maps_markdown(maps: list[tuple[Path, str]], out: Path) -> str:
    if not maps:
        return ""
    lines = ["", "## Where the meaning changed (CLU maps)", "", MAPS_NOTE, ""]
    for path, caption in maps:
        link = md_url(path.relative_to(out).as_posix())
        lines += [f"![{md_text(caption)}]({link})", f"*{md_text(caption)}*", ""]
    return "\n".join(lines)


def _write_data(data_dir: Path, tables, agreement, pairwise, runs, set_level) -> list[Path]:
    frames = {"models": models_frame(tables), "runs": runs}
    if not set_level.empty:
        frames["set_level"] = set_level
    if agreement is not None:
        frames |= {"metrics": agreement, "pairwise": pairwise}
    paths = []
    for name, frame in frames.items():
        path = path_inside(data_dir, name, suffix=".csv")
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def _markdown(options, tables, specs, agreement, pairwise, note, runs, plots, set_level) -> str:
    base = plots[0].parent.parent if plots else Path(".")
    lines = [f"# {md_text(options.title)}", ""]
    if options.note:
        lines += [f"> {md_text(options.note)}", ""]
    lines += ["## Metrics: agreement with human MOS", ""]
    if agreement is None:
        lines.append(note)
    else:
        lines += [note, ""]
        board = metrics_markdown(agreement, pairwise)
        lines += board.split("\n", 2)[2].replace("\n## ", "\n### ").splitlines()
        lines += [""] + [_image_md(p, base) for p in plots if not p.name.startswith("levels_")]
    lines += ["", "## Models", ""]
    lines += to_markdown(tables, specs).split("\n", 2)[2].replace("\n## ", "\n### ").splitlines()
    lines += [""] + [_image_md(p, base) for p in plots if p.name.startswith("levels_")]
    lines += set_level_markdown(set_level).splitlines()
    lines += ["", "## Run configuration", "", *markdown_table(RUN_HEADER, run_rows(runs, md_text))]
    lines += ["", "Tables as CSV: `data/`. Generated by `semfid-bench publish`."]
    return "\n".join(lines) + "\n"


def _image_md(path: Path, base: Path) -> str:
    return f"![{md_text(path.stem)}]({md_url(path.relative_to(base).as_posix())})"


def _image_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _html(options, tables, specs, agreement, pairwise, note, runs, plots, set_level, maps) -> str:
    parts = [f"<h1>{html.escape(options.title)}</h1>"]
    if options.note:
        parts.append(f"<blockquote>{html.escape(options.note)}</blockquote>")
    parts.append("<h2>Metrics: agreement with human MOS</h2>")
    parts.append(f"<p>{html.escape(note)}</p>")
    if agreement is not None:
        parts.append(metrics_html_body(agreement, pairwise))
        parts += [_image_html(p) for p in plots if not p.name.startswith("levels_")]
    parts += ["<h2>Models</h2>", models_html_body(tables, specs)]
    parts += [_image_html(p) for p in plots if p.name.startswith("levels_")]
    parts.append(set_level_html(set_level))
    if maps:
        parts += ["<h2>Where the meaning changed (CLU maps)</h2>", f"<p>{MAPS_NOTE}</p>"]
        parts += [
            f"<figure>{_image_html(p)}<figcaption>{html.escape(c)}</figcaption></figure>"
            for p, c in maps
        ]
    parts += ["<h2>Run configuration</h2>", html_table(RUN_HEADER, run_rows(runs, str))]
    return html_page(options.title, "".join(parts))
