"""A published report: one folder with a markdown page, a self-contained HTML page (figures
embedded), the PNG figures and the tables as CSV.

    leaderboards/NAME/index.md, index.html, plots/*.png, data/{models,metrics,pairwise,runs}.csv,
    items/*.html (one page per explained pair) and items/img/*.png (their thumbnails)
"""

from __future__ import annotations

from pathlib import Path

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.report.data import write_data
from semfid_bench.report.document import publish_document
from semfid_bench.report.html import render_html
from semfid_bench.report.item_pages import run_manifests, write_item_pages
from semfid_bench.report.markdown import render_markdown
from semfid_bench.report.model import ReportOptions, build_report
from semfid_bench.safe_paths import path_inside


def publish(db: str | Path, out: str | Path, options: ReportOptions | None = None) -> list[Path]:
    """Write the report for everything in ``db`` into folder ``out``; return the files."""
    options = options or ReportOptions()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SemfidError(f"--out {out} is a file; publish writes a report folder there.")
    report = build_report(db, options, figures_dir=path_inside(out, "plots"))
    written = [f.path for f in report.figures]
    written += write_data(report, path_inside(out, "data"))
    links = write_item_pages(
        out, report.explanations, run_manifests(report.runs_frame), options.images
    )
    written += [out / path for _, path in links]
    blocks = publish_document(report, links)
    index_md, index_html = path_inside(out, "index.md"), path_inside(out, "index.html")
    index_md.write_text(render_markdown(blocks, out), encoding="utf-8")
    index_html.write_text(render_html(blocks, options.title), encoding="utf-8")
    return [index_md, index_html, *written]
