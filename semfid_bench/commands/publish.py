"""``semfid-bench publish``: a report folder with both leaderboards, plots and run config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import DEFAULT_DB, DbOption
from semfid_bench.plugin_api.errors import SemfidError


def publish(
    out: Annotated[Path, typer.Option(help="Report folder, e.g. leaderboards/NAME/.")],
    db: DbOption = DEFAULT_DB,
    title: Annotated[str, typer.Option(help="Page title.")] = "semfid-bench report",
    note: Annotated[str, typer.Option(help="A paragraph shown under the title.")] = "",
    rank_by: Annotated[str | None, typer.Option(help="Metric to rank models by.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for CIs.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    logistic: Annotated[str, typer.Option(help="Logistic mapping: 4pl or 5pl.")] = "4pl",
    explain: Annotated[
        int, typer.Option(help="Pairs explained on a page of their own, per model and level.")
    ] = 2,
    explain_by: Annotated[
        str | None,
        typer.Option(help="Metric whose worst pairs are explained (default: the ranking one)."),
    ] = None,
    images: Annotated[
        Path | None, typer.Option(help="The run's --save-images folder (SR images for pages).")
    ] = None,
) -> None:
    """Write index.md, a self-contained index.html, PNG plots and CSV tables into OUT."""
    from semfid_bench.report.model import ReportOptions
    from semfid_bench.report.publish import publish as write_report

    if resamples < 1:
        raise SemfidError("--resamples must be at least 1.")
    if explain < 0:
        raise SemfidError("--explain must be 0 (no item pages) or more.")
    options = ReportOptions(
        title=title, note=note, rank_by=rank_by, resamples=resamples, seed=seed, logistic=logistic,
        explain=explain, explain_by=explain_by, images=images,
    )  # fmt: skip
    files = write_report(db, out, options)
    typer.echo(f"Wrote {len(files)} files to {out} (open {out / 'index.html'})")
