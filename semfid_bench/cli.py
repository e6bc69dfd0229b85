"""The ``semfid-bench`` command line: one module per command in ``semfid_bench.commands``.

Known errors (:class:`~semfid_bench.errors.SemfidError`) are printed in one place without a
traceback; set ``SEMFID_BENCH_DEBUG=1`` to see it.
"""

from __future__ import annotations

import os
import sys

import typer

from semfid_bench.commands.common import err_console
from semfid_bench.commands.dataset import dataset_app
from semfid_bench.commands.degrade import degrade
from semfid_bench.commands.leaderboard import leaderboard
from semfid_bench.commands.manifest import make_manifest
from semfid_bench.commands.plugins import plugins
from semfid_bench.commands.prefetch import prefetch
from semfid_bench.commands.publish import publish
from semfid_bench.commands.run import run
from semfid_bench.commands.study import study_app
from semfid_bench.commands.train import train_app
from semfid_bench.errors import SemfidError

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
app.add_typer(train_app, name="train")
app.add_typer(study_app, name="study")
app.add_typer(dataset_app, name="dataset")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SemfidError as exc:
        err_console.print(f"[red]Error:[/] {exc.message}")
        if exc.hint:
            err_console.print(f"[dim]Hint:[/] {exc.hint}")
        if os.environ.get("SEMFID_BENCH_DEBUG"):
            raise
        err_console.print("[dim]Set SEMFID_BENCH_DEBUG=1 for the full traceback.[/]")
        sys.exit(2)


if __name__ == "__main__":
    main()
