"""The ``semfid-bench`` command line: thin commands over the library.

Known errors (:class:`~semfid_bench.errors.SemfidError`) are printed in one place without a
traceback; set ``SEMFID_BENCH_DEBUG=1`` to see it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from semfid_bench.commands.degrade import degrade
from semfid_bench.commands.leaderboard import leaderboard
from semfid_bench.commands.prefetch import prefetch
from semfid_bench.commands.publish import publish
from semfid_bench.commands.train import train_app
from semfid_bench.errors import SemfidError

app = typer.Typer(
    name="semfid-bench",
    help="Degrade images, run SR models, score semantic fidelity, rank and publish.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path("results.db")
DbOption = Annotated[Path, typer.Option("--db", help="Results database (SQLite).")]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_options(pairs: list[str]) -> dict[str, dict[str, object]]:
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


def _selection(text: str, kind: str, registry) -> list[str]:
    names = _split(text)
    return registry.names(kind) if names == ["all"] else names


@app.command()
def run(
    models: Annotated[str, typer.Option(help="SR models, comma-separated, or 'all'.")] = "bicubic",
    metrics: Annotated[
        str, typer.Option(help="Metrics, comma-separated, or 'all'.")
    ] = "psnr,ssim,psnr-y,ssim-y",
    degradations: Annotated[
        str, typer.Option(help="Degradations, comma-separated, or 'all'.")
    ] = "bsrgan",
    levels: Annotated[
        str | None,
        typer.Option(help="Intensity levels, e.g. 0.3,0.7,1.0 (default: each degradation's)."),
    ] = None,
    dataset: Annotated[str, typer.Option(help="Registered dataset name.")] = "sample",
    manifest: Annotated[
        Path | None, typer.Option(help="Manifest file (overrides --dataset).")
    ] = None,
    scale: Annotated[int, typer.Option(help="Upscaling factor.")] = 4,
    seed: Annotated[int, typer.Option(help="Base seed for degradations and models.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    db: DbOption = DEFAULT_DB,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Plugin option PLUGIN.KEY=VALUE (repeatable)."),
    ] = None,
    save_images: Annotated[
        Path | None, typer.Option(help="Folder to keep LR and SR images in.")
    ] = None,
) -> None:
    """Run SR models on degraded images and score them; resumes finished work."""
    from semfid_bench.plugin_manager import build_registry
    from semfid_bench.runner import RunConfig, run_benchmark
    from semfid_bench.store import ResultsStore

    registry = build_registry()
    _warn_problems(registry.problems)
    config = RunConfig(
        models=_selection(models, "sr_model", registry),
        metrics=_selection(metrics, "metric", registry),
        degradations=_selection(degradations, "degradation", registry),
        levels=[float(x) for x in _split(levels)] if levels else None,
        dataset=dataset,
        manifest=manifest,
        scale=scale,
        seed=seed,
        device=device,
        options=_parse_options(set_ or []),
        save_images=save_images,
    )
    with ResultsStore(db) as store, _RichProgress() as progress:
        summary = run_benchmark(config, registry, store, progress)
    console.print(
        f"Run [bold]{summary.run_id}[/] on {summary.dataset} ({summary.items} items): "
        f"{summary.computed} results computed, {summary.skipped} already done and skipped, "
        f"{len(summary.errors)} errors, {summary.seconds:.1f} s. Database: {db}"
    )
    with ResultsStore(db) as store:
        _print_summary(store, config.metrics)
    if summary.errors:
        for message in summary.errors[:10]:
            err_console.print(f"[red]error[/] {message}")
        if len(summary.errors) > 10:
            err_console.print(f"... and {len(summary.errors) - 10} more (see the database).")
        raise typer.Exit(1)


@app.command()
def plugins() -> None:
    """List every registered plugin by kind, with its source package."""
    from semfid_bench.plugin_manager import build_registry

    registry = build_registry()
    table = Table("kind", "name", "source", "details")
    rows = [*registry, *registry.namespace_registrations()]
    for registration in sorted(rows, key=lambda r: (r.kind, r.name)):
        table.add_row(
            registration.kind,
            registration.name,
            registration.source,
            _describe(registration.spec),
        )
    console.print(table)
    if registry.problems:
        console.print("[red]Plugins that failed to load or register:[/]")
        for problem in registry.problems:
            console.print(f"  [red]•[/] {problem}")


@app.command("manifest")
def make_manifest(
    folder: Annotated[Path, typer.Argument(help="Folder of images.", exists=True, file_okay=False)],
    out: Annotated[Path | None, typer.Option(help="Manifest path.")] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name.")] = None,
) -> None:
    """Write a manifest listing every image in FOLDER."""
    from semfid_bench.manifest import load_manifest, manifest_from_folder

    path = manifest_from_folder(folder, out, name)
    console.print(f"Wrote {path} ({len(load_manifest(path))} items)")


def _describe(spec) -> str:
    from semfid_bench.specs import DegradationSpec, MetricSpec, SRModelSpec

    if isinstance(spec, MetricSpec):
        kind = "full-reference" if spec.full_reference else "no-reference"
        return f"{spec.arrow} {kind}. {spec.description}"
    if isinstance(spec, SRModelSpec):
        return f"x{','.join(map(str, spec.scales))}. {spec.description}"
    if isinstance(spec, DegradationSpec):
        levels = ",".join(f"{lv:g}" for lv in spec.levels)
        return f"x{','.join(map(str, spec.scales))}, levels {levels}. {spec.description}"
    return spec.description


def _warn_problems(problems: list[str]) -> None:
    for problem in problems:
        err_console.print(f"[yellow]plugin problem:[/] {problem}")


def _print_summary(store, metrics: list[str]) -> None:
    from semfid_bench.leaderboard import model_leaderboards

    results = store.results()
    results = results[results["metric"].isin(metrics)]
    if results.empty:
        return
    metrics = [m for m in metrics if m in set(results["metric"])]  # all-error metrics have none
    specs = store.metric_specs()
    for board in model_leaderboards(results, specs):
        table = Table(
            "rank", "model", "n", *[f"{m} {specs[m].arrow}" for m in metrics], title=board.title
        )
        for row in board.frame.to_dict("records"):
            table.add_row(
                str(int(row["rank"])),
                row["model"],
                str(row["n"]),
                *[f"{row[m]:.4g}" for m in metrics],
            )
        console.print(table)


class _RichProgress:
    """A rich progress bar fed by the runner."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self._progress.__enter__()
        self._task = None
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("running", total=total)

    def advance(self, description: str) -> None:
        self._progress.update(self._task, advance=1, description=description)


app.command("leaderboard")(leaderboard)
app.command("publish")(publish)
app.command("degrade")(degrade)
app.command("prefetch")(prefetch)
app.add_typer(train_app, name="train")


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
