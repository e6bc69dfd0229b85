"""``semfid-bench leaderboard``: model or metric leaderboards in several formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import DEFAULT_DB, DbOption
from semfid_bench.errors import SemfidError

KINDS = ("models", "metrics")


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
    fmt: Annotated[str, typer.Option("--format", help="markdown, csv, json or html.")] = "markdown",
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
    from semfid_bench import api
    from semfid_bench.render import render_metrics, render_models

    if kind not in KINDS:
        raise SemfidError(f"Unknown --kind {kind!r}; choose models or metrics.")
    if resamples < 1:
        raise SemfidError("--resamples must be at least 1.")
    if kind == "models":
        with api.open_store(db) as store:
            specs = store.metric_specs()
        set_level = api.set_level(db, resamples=resamples, seed=seed)
        try:
            tables = api.models(db, rank_by)
        except SemfidError:  # no per-item results: markdown and html still show set-level
            if set_level.empty or fmt not in ("markdown", "html"):
                raise
            tables = []
        text = render_models(tables, specs, fmt, set_level)
    else:
        frame = api.correlations(db, resamples=resamples, seed=seed, logistic=logistic)
        tests = api.pairwise(db, resamples=resamples, seed=seed) if pairwise else None
        text = render_metrics(frame, fmt, tests)
    write_or_print(text, out)
