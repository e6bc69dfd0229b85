"""``semfid-bench prefetch``: download the weights a run will need."""

from __future__ import annotations

from typing import Annotated

import typer

from semfid_bench.commands.common import SetOption, console, parse_options, select, warn_problems
from semfid_bench.escaping import console as escape
from semfid_bench.escaping import plain


def prefetch(
    models: Annotated[str, typer.Option(help="SR models, comma-separated, or 'all'.")] = "",
    metrics: Annotated[str, typer.Option(help="Metrics, comma-separated, or 'all'.")] = "",
    degradations: Annotated[
        str, typer.Option(help="Degradations, comma-separated, or 'all'.")
    ] = "",
    datasets: Annotated[
        str, typer.Option(help="Datasets (standard test sets), comma-separated, or 'all'.")
    ] = "",
    scale: Annotated[int, typer.Option(help="Upscaling factor of the run.")] = 4,
    set_: SetOption = None,
) -> None:
    """Download the weights a run with this selection will load, and named datasets.

    Standard datasets are checked, unpacked and given a manifest."""
    from rich.table import Table

    from semfid_bench.execution.prefetch import prefetch_all
    from semfid_bench.plugin_api.errors import SemfidError
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    warn_problems(registry.problems)
    selection = {
        kind: select(text, kind, registry)
        for kind, text in (
            ("sr_model", models),
            ("degradation", degradations),
            ("metric", metrics),
            ("dataset", datasets),
        )
    }
    if not any(selection.values()):
        raise SemfidError(
            "Nothing to prefetch.",
            hint="Select plugins with --models/--metrics/--degradations/--datasets.",
        )
    outcomes = prefetch_all(registry, selection, parse_options(set_ or []), scale)
    table = Table("kind", "name", "result", "files")
    for outcome in outcomes:
        result = "[red]failed[/]" if outcome.error else f"ok ({outcome.how})"
        if outcome.manual and not outcome.error:
            result = "[yellow]by hand[/]"
        files = plain("\n".join(map(str, outcome.paths)) or "-")
        table.add_row(outcome.kind, plain(outcome.name), result, files)
    console.print(table)
    for outcome in outcomes:
        for manual in outcome.manual:
            console.print(
                "[yellow]download by hand[/] "
                + escape(f"{outcome.name}: {manual.what}: {manual.source}; pass it with ")
                + escape(manual.option)
            )
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        console.print(
            f"[red]error[/] {outcome.kind} {escape(outcome.name)}: {escape(outcome.error)}"
        )
    if failed or any(o.manual for o in outcomes):
        raise typer.Exit(1)
