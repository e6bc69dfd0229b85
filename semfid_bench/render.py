"""Leaderboards as text: markdown, CSV, JSON and HTML for the model and metric boards.

Missing statistics are shown as "–" with the reason in a note below the table, never as a
bare NaN.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable

import pandas as pd

from semfid_bench.errors import SemfidError
from semfid_bench.escaping import markdown_table, md_text
from semfid_bench.leaderboard import LeaderboardTable, mean_ci_cell, to_markdown
from semfid_bench.specs import MetricSpec

FORMATS = ("markdown", "csv", "json", "html")
CORRELATION_COLUMNS = ("srcc", "krcc", "plcc")
METRIC_HEADER = [
    "rank",
    "metric",
    "n",
    "SRCC [95% CI]",
    "KRCC [95% CI]",
    "PLCC [95% CI]",
    "PLCC (fit)",
    "RMSE (fit)",
    "MSE (norm.)",
]
METRICS_LEGEND = (
    "Agreement with MOS, ranked by |SRCC|. Correlations are signed: a metric whose direction "
    "is opposite to the MOS's correlates negatively. CIs: percentile bootstrap over items "
    "(seeded). PLCC/RMSE (fit): after a monotone logistic mapping of the scores to MOS "
    "(so PLCC (fit) is non-negative whatever the direction). "
    "MSE (norm.): mean squared difference between the score normalised to [0, 1] (declared "
    "range, else min-max over the data) and the MOS, as the reference thesis reports it."
)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: object, digits: int = 3) -> str:
    """A statistic for a table; "–" where it is missing."""
    return "–" if _missing(value) else f"{float(value):.{digits}f}"


def with_ci(row: dict, name: str) -> str:
    if _missing(row.get(name)):
        return "–"
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if _missing(low) or _missing(high):
        return number(row[name])
    return f"{number(row[name])} [{number(low)}, {number(high)}]"


def metric_rows(
    frame: pd.DataFrame, text: Callable[[object], str] = md_text
) -> list[tuple[str, str, list[list[str]], list[str]]]:
    """Per (dataset, split): a title, the legend, table rows and numbered notes; ``text``
    shows user text (names from the database): :func:`md_text` for markdown, ``str`` for
    HTML (escaped there)."""
    sections = []
    for (dataset, split), group in frame.groupby(["dataset", "split"], sort=False):
        rows, notes = [], []
        for row in group.to_dict("records"):
            label = f"{text(row['metric'])} {row['direction']}"
            if row.get("notes"):
                notes.append(f"{text(row['metric'])}: {text(row['notes'])}")
                label += f" ({len(notes)})"
            rank = "–" if _missing(row["rank"]) else str(int(row["rank"]))
            rows.append(
                [rank, label, str(row["n"])]
                + [with_ci(row, c) for c in CORRELATION_COLUMNS]
                + [number(row["plcc_fit"]), number(row["rmse_fit"]), number(row["mse"])]
            )
        sections.append((text(f"{dataset} · split {split}"), METRICS_LEGEND, rows, notes))
    return sections


def metrics_markdown(frame: pd.DataFrame, pairwise: pd.DataFrame | None = None) -> str:
    lines = ["# semfid-bench metric leaderboard", "", METRICS_LEGEND]
    for title, _, rows, notes in metric_rows(frame):
        lines += ["", f"## {title}", "", *markdown_table(METRIC_HEADER, rows)]
        if notes:
            lines += ["", *[f"{i}. {note}" for i, note in enumerate(notes, start=1)]]
    if pairwise is not None and not pairwise.empty:
        lines += ["", "## Does metric A agree better than metric B?", "", PAIRWISE_LEGEND, ""]
        lines += markdown_table(PAIRWISE_HEADER, pairwise_rows(pairwise, md_text))
    return "\n".join(lines) + "\n"


PAIRWISE_HEADER = ["dataset · split", "A", "B", "n", "Δ|SRCC| [95% CI]", "p (bootstrap)"]
PAIRWISE_HEADER += ["p (Williams)"]
PAIRWISE_LEGEND = (
    "Δ|SRCC| = |SRCC(A)| − |SRCC(B)| on the items both scored; CI and two-sided p-value from "
    "a paired bootstrap (both metrics on the same resamples), and Williams' t-test for "
    "dependent correlations applied to the same rank correlations."
)


def pairwise_rows(pairwise: pd.DataFrame, text: Callable[[object], str]) -> list[list[str]]:
    """Table rows of the pairwise tests; ``text`` shows user text (see :func:`metric_rows`)."""
    return [
        [
            text(f"{row['dataset']} · {row['split']}"),
            text(row["metric_a"]),
            text(row["metric_b"]),
            str(row["n"]),
            f"{number(row['delta'])} [{number(row['delta_low'])}, {number(row['delta_high'])}]",
            number(row["p_value"]),
            number(row["williams_p"]),
        ]
        for row in pairwise.to_dict("records")
    ]


def models_frame(tables: list[LeaderboardTable]) -> pd.DataFrame:
    """All model leaderboards as one long frame, with the slice each row belongs to."""
    frames = [
        table.frame.assign(
            dataset=table.dataset,
            degradation=table.degradation,
            level=table.level,
            scale=table.scale,
            seed=table.seed,
            rank_by=table.rank_by,
        )
        for table in tables
    ]
    frame = pd.concat(frames, ignore_index=True)
    first = ["dataset", "degradation", "level", "scale", "seed", "rank_by"]
    return frame[first + [c for c in frame.columns if c not in first]]


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}"
    "td{text-align:right}td:nth-child(2){text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}code{background:#f3f3f3}"
)


def html_page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def models_html_body(tables: list[LeaderboardTable], specs: dict[str, MetricSpec]) -> str:
    parts = []
    for table in tables:
        metrics = table.metrics
        header = ["rank", "model", "n"] + [
            f"{m} {table.specs[m].arrow}{' ★' if m == table.rank_by else ''}" for m in metrics
        ]
        rows = []
        for row in table.frame.to_dict("records"):
            rank = "–" if _missing(row["rank"]) else str(int(row["rank"]))
            cells = [rank, row["model"], str(row["n"])]
            rows.append(
                cells + [mean_ci_cell(row[m], row[f"{m}_low"], row[f"{m}_high"]) for m in metrics]
            )
        parts.append(f"<h3>{html.escape(table.title)}</h3>{html_table(header, rows)}")
    legend = (
        "<p>Mean ± half-width of the 95% confidence interval (Student's t) over items; "
        "↑ higher is better, ↓ lower is better. Ranked by the metric marked ★.</p>"
    )
    return legend + "".join(parts)


def metrics_html_body(frame: pd.DataFrame, pairwise: pd.DataFrame | None = None) -> str:
    parts = [f"<p>{html.escape(METRICS_LEGEND)}</p>"]
    for title, _, rows, notes in metric_rows(frame, str):
        parts.append(f"<h3>{html.escape(title)}</h3>{html_table(METRIC_HEADER, rows)}")
        if notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            parts.append(f"<ol>{items}</ol>")
    if pairwise is not None and not pairwise.empty:
        parts.append("<h3>Does metric A agree better than metric B?</h3>")
        parts.append(f"<p>{html.escape(PAIRWISE_LEGEND)}</p>")
        parts.append(html_table(PAIRWISE_HEADER, pairwise_rows(pairwise, str)))
    return "".join(parts)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise SemfidError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def render_models(
    tables: list[LeaderboardTable],
    specs: dict[str, MetricSpec],
    fmt: str,
    set_level: pd.DataFrame | None = None,
) -> str:
    """The model leaderboards in ``fmt`` (markdown, csv, json or html); markdown and html
    add the set-level metrics (:func:`semfid_bench.set_metrics.set_level_boards`) below."""
    from semfid_bench.set_metrics import set_level_html, set_level_markdown

    _check_format(fmt)
    set_level = pd.DataFrame() if set_level is None else set_level
    if fmt == "markdown":
        return to_markdown(tables, specs) + set_level_markdown(set_level)
    if fmt == "csv":
        return models_frame(tables).to_csv(index=False)
    if fmt == "json":
        return models_frame(tables).to_json(orient="records", indent=1, force_ascii=False) + "\n"
    body = "<h1>semfid-bench leaderboard</h1>" + models_html_body(tables, specs)
    return html_page("semfid-bench leaderboard", body + set_level_html(set_level))


def render_metrics(frame: pd.DataFrame, fmt: str, pairwise: pd.DataFrame | None = None) -> str:
    """The metric leaderboard (and pairwise tests, where given) in ``fmt``."""
    _check_format(fmt)
    if fmt == "markdown":
        return metrics_markdown(frame, pairwise)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = {"metrics": json.loads(frame.to_json(orient="records"))}
        if pairwise is not None:
            payload["pairwise"] = json.loads(pairwise.to_json(orient="records"))
        return json.dumps(payload, indent=1, ensure_ascii=False) + "\n"
    body = "<h1>semfid-bench metric leaderboard</h1>" + metrics_html_body(frame, pairwise)
    return html_page("semfid-bench metric leaderboard", body)
