"""``semfid-bench doctor``: what a run would need on this machine, in one table."""

from __future__ import annotations

from typing import Annotated

import typer

from semfid_bench.commands.common import SetOption, console, parse_options, select, warn_problems
from semfid_bench.escaping import console as escape


def doctor(
    models: Annotated[str, typer.Option(help="SR models, comma-separated, or 'all'.")] = "all",
    metrics: Annotated[str, typer.Option(help="Metrics, comma-separated, or 'all'.")] = "",
    scale: Annotated[int, typer.Option(help="Upscaling factor of the run.")] = 4,
    set_: SetOption = None,
) -> None:
    """Check what a run needs: versions, GPUs, weights, memory, licences.

    Weight files are looked up offline; GPUs are listed with their memory beside each
    model's estimated peak. Exits non-zero when something is missing."""
    from rich.table import Table

    from semfid_bench.execution.doctor import diagnose
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    warn_problems(registry.problems)
    selection = {
        "sr_model": select(models, "sr_model", registry),
        "metric": select(metrics, "metric", registry),
    }
    checks = diagnose(registry, selection, parse_options(set_ or []), scale)
    table = Table(title="semfid-bench doctor")
    for column in ("check", "item", "status", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        status = escape(check.status) if check.ok else f"[red]{escape(check.status)}[/]"
        table.add_row(check.section, escape(check.item), status, escape(check.detail))
    console.print(table)
    console.print("GPU memory figures are estimates from parameter counts and typical activations.")
    problems = [check for check in checks if not check.ok]
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/]: a run with this selection would fail.")
        raise typer.Exit(1)
