"""The ``semfid-bench`` command line: one module per command in ``semfid_bench.commands``;
plugins add their own commands through the ``register_commands`` hook (``train`` comes from
the learned-metrics plugin).

Known errors (:class:`~semfid_bench.plugin_api.errors.SemfidError`) are printed in one place
without a traceback; set ``SEMFID_BENCH_DEBUG=1`` to see it.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import NoReturn

import typer

from semfid_bench.commands.common import err_console
from semfid_bench.commands.dataset import dataset_app
from semfid_bench.commands.degrade import degrade
from semfid_bench.commands.doctor import doctor
from semfid_bench.commands.leaderboard import leaderboard
from semfid_bench.commands.manifest import make_manifest
from semfid_bench.commands.plugins import plugins
from semfid_bench.commands.prefetch import prefetch
from semfid_bench.commands.publish import publish
from semfid_bench.commands.run import run
from semfid_bench.commands.study import study_app
from semfid_bench.escaping import console as escape
from semfid_bench.plugin_api.errors import PluginError, SemfidError
from semfid_bench.plugin_api.plugin_manager import (
    add_plugin_commands,
    make_plugin_manager,
    strict_from_env,
)

app = typer.Typer(
    name="semfid-bench",
    help="Degrade images, run SR models, score semantic fidelity, rank and publish.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("run")(run)
app.command("leaderboard")(leaderboard)
app.command("publish")(publish)
app.command("plugins")(plugins)
app.command("manifest")(make_manifest)
app.command("degrade")(degrade)
app.command("prefetch")(prefetch)
app.command("doctor")(doctor)
app.add_typer(study_app, name="study")
app.add_typer(dataset_app, name="dataset")
PLUGIN_COMMAND_PROBLEMS = add_plugin_commands(app, make_plugin_manager(strict=False))


def main() -> None:
    """Console-script entry point: known errors, database errors and files that cannot be
    read or written become a message and exit status 2. A plugin whose commands could not
    be added is a warning (an error with ``SEMFID_BENCH_STRICT_PLUGINS=1``)."""
    try:
        for problem in PLUGIN_COMMAND_PROBLEMS:
            if strict_from_env():
                raise PluginError(problem)
            err_console.print(f"[yellow]Plugin problem:[/] {escape(problem)}")
        app()
    except SemfidError as exc:
        _fail(exc.message, exc.hint)
    except sqlite3.Error as exc:
        _fail(f"Results database error: {exc}.", "Another process may hold the database; retry.")
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}.", "Check the path and its permissions.")


def _fail(message: str, hint: str | None) -> NoReturn:
    err_console.print(f"[red]Error:[/] {escape(message)}")
    if hint:
        err_console.print(f"[dim]Hint:[/] {escape(hint)}")
    if os.environ.get("SEMFID_BENCH_DEBUG"):
        raise
    err_console.print("[dim]Set SEMFID_BENCH_DEBUG=1 for the full traceback.[/]")
    sys.exit(2)


if __name__ == "__main__":
    main()
