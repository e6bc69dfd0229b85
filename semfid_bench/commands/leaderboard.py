"""``semfid-bench leaderboard``: model or metric leaderboards in several formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import DEFAULT_DB, DbOption
from semfid_bench.plugin_api.errors import SemfidError


def write_or_print(text: str, out: Path | None) -> None:
    """Print ``text``, or write it to ``out`` (creating folders) and say so."""
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {out}", err=True)


def leaderboard(
    kind: Annotated[
        str, typer.Option(help="models: SR models per slice; metrics: agreement with MOS.")
    ] = "models",
    fmt: Annotated[
        str, typer.Option("--format", help="markdown, terminal, csv, json or html.")
    ] = "markdown",
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
    rank_by: Annotated[
        str | None,
        typer.Option(help="Metric to rank models by, or a variant: 'psnr-y[crop_border=0]'."),
    ] = None,
    resamples: Annotated[
        int, typer.Option(help="Bootstrap resamples for CIs (metrics; set-level metrics).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    logistic: Annotated[str, typer.Option(help="Logistic mapping: 4pl or 5pl.")] = "4pl",
    pairwise: Annotated[
        bool, typer.Option(help="Add paired tests of metric A vs metric B (metrics).")
    ] = True,
) -> None:
    """Ranked leaderboards: SR models per dataset and level, or metrics by agreement with MOS."""
    from semfid_bench.report.leaderboard import PARTS, check_choice, render_leaderboard
    from semfid_bench.report.model import ReportOptions, build_report

    check_choice(kind, fmt)
    if resamples < 1:
        raise SemfidError("--resamples must be at least 1.")
    options = ReportOptions(rank_by=rank_by, resamples=resamples, seed=seed, logistic=logistic)
    parts = tuple(p for p in PARTS[kind] if pairwise or p != "pairwise")
    write_or_print(render_leaderboard(build_report(db, options, parts=parts), kind, fmt), out)
