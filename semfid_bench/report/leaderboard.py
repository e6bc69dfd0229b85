"""``semfid-bench leaderboard``'s output: the model or metric boards of a report in one
format."""

from __future__ import annotations

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.report import data
from semfid_bench.report.document import leaderboard_document
from semfid_bench.report.html import render_html
from semfid_bench.report.markdown import render_markdown
from semfid_bench.report.model import Report
from semfid_bench.report.terminal import render_terminal

KINDS = ("models", "metrics")
FORMATS = ("markdown", "terminal", "csv", "json", "html")
PARTS = {"models": ("models",), "metrics": ("agreement", "pairwise")}
"""The parts of the report (:func:`~semfid_bench.report.model.build_report`) each kind shows."""


def check_choice(kind: str, fmt: str) -> None:
    if kind not in KINDS:
        raise SemfidError(f"Unknown --kind {kind!r}; choose {' or '.join(KINDS)}.")
    if fmt not in FORMATS:
        raise SemfidError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def render_leaderboard(report: Report, kind: str, fmt: str) -> str:
    """The ``kind`` boards of ``report`` as ``fmt`` text; the metric boards of a report
    without agreement (no paired items, no MOS) raise the reason."""
    check_choice(kind, fmt)
    if kind == "metrics" and report.agreement is None:
        raise report.agreement_problem or SemfidError("Agreement with MOS was not computed.")
    if fmt == "csv":
        return data.models_csv(report) if kind == "models" else data.metrics_csv(report)
    if fmt == "json":
        return data.models_json(report) if kind == "models" else data.metrics_json(report)
    blocks = leaderboard_document(report, kind)
    if fmt == "markdown":
        return render_markdown(blocks)
    if fmt == "terminal":
        return render_terminal(blocks)
    return render_html(blocks, str(blocks[0].text))
