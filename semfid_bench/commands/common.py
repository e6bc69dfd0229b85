"""What the command modules share: consoles, the --db option, selections and --set options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from semfid_bench.escaping import console as escape
from semfid_bench.plugin_api.errors import SemfidError

if TYPE_CHECKING:
    from rich.progress import Progress

    from semfid_bench.plugin_api.registry import Registry

console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path("results.db")
DbOption = Annotated[Path, typer.Option("--db", help="Results database (SQLite).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Plugin option PLUGIN.KEY=VALUE (KIND:PLUGIN.KEY=VALUE where a name is shared; "
        "repeatable).",
    ),
]
AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-paths",
        help="Accept manifest paths that are absolute or outside the manifest's folder.",
    ),
]


def split_list(text: str) -> list[str]:
    """Comma-separated text as a list of non-empty, stripped parts."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_levels(text: str) -> list[float]:
    """``--levels`` text (comma-separated numbers) as floats; a clear error otherwise."""
    try:
        return [float(part) for part in split_list(text)]
    except ValueError:
        raise SemfidError(f"Bad --levels {text!r}: expected numbers like 0.3,0.7,1.0.") from None


def parse_options(pairs: list[str]) -> dict[str, dict[str, object]]:
    """``NAME.KEY=VALUE`` pairs into per-plugin option dicts (values parsed as JSON)."""
    options: dict[str, dict[str, object]] = {}
    for pair in pairs:
        target, sep, raw = pair.partition("=")
        name, dot, key = target.rpartition(".")
        if not sep or not dot or not name or not key:
            raise SemfidError(f"Bad --set {pair!r}: expected PLUGIN.KEY=VALUE.")
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options.setdefault(name, {})[key] = value
    return options


def select(text: str, kind: str, registry: Registry) -> list[str]:
    """Plugin names from a comma-separated selection; ``all`` means every registered one."""
    names = split_list(text)
    return registry.names(kind) if names == ["all"] else names


def warn_problems(problems: list[str]) -> None:
    """Show plugin load problems without stopping the command."""
    for problem in problems:
        err_console.print(f"[yellow]plugin problem:[/] {escape(problem)}")


def progress_bar(output: Console, *, transient: bool = False) -> Progress:
    """The progress bar long commands show: description, bar, done/total, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=output,
        transient=transient,
    )
