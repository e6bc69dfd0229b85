"""``semfid-bench run``: degrade, upscale, score and store, resuming finished work."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import (
    DEFAULT_DB,
    AllowOutsideOption,
    DbOption,
    SetOption,
    console,
    err_console,
    parse_levels,
    parse_options,
    progress_bar,
    select,
    split_list,
    warn_problems,
)
from semfid_bench.datasets.images import DEFAULT_MAX_PIXELS
from semfid_bench.escaping import console as escape
from semfid_bench.escaping import plain
from semfid_bench.plugin_api.errors import SemfidError


def run(
    ctx: typer.Context,
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
    tf32: Annotated[
        str, typer.Option(help="TF32 for CUDA matmuls/convolutions while scoring: on or off.")
    ] = "off",
    db: DbOption = DEFAULT_DB,
    set_: SetOption = None,
    save_images: Annotated[
        Path | None, typer.Option(help="Folder to keep LR and SR images in.")
    ] = None,
    allow_outside_paths: AllowOutsideOption = False,
    max_megapixels: Annotated[
        float,
        typer.Option(min=0.000001, help="Refuse input images over this size (error rows)."),
    ] = DEFAULT_MAX_PIXELS / 1e6,
    preset: Annotated[
        str | None,
        typer.Option(
            help="A named selection of datasets, metrics and conventions (a paper's table; "
            "`semfid-bench plugins` lists them); options you give replace its values."
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, help="Images per forward pass (SR models and metrics); results unchanged."
        ),
    ] = 1,
    chunk_items: Annotated[
        int | None,
        typer.Option(min=1, help="Items computed together (default: --batch-size)."),
    ] = None,
    gpu_memory: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="GiB for models on the device: SR models stay loaded while their estimates "
            "fit, else are released (default: keep every model loaded).",
        ),
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (this process) or ray (actors on a Ray cluster).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto or HOST:PORT (default: start Ray locally)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Ray actors (default: one per GPU, or one without GPUs)."),
    ] = None,
    gpus_per_worker: Annotated[
        float, typer.Option(min=0.0, help="GPUs per Ray actor (fractions share a GPU).")
    ] = 1.0,
) -> None:
    """Run SR models on degraded images and score them; resumes finished work."""
    from semfid_bench.execution.runner import RunConfig
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    warn_problems(registry.problems)
    datasets, sets = [dataset], set_ or []
    if preset is not None:
        if manifest is not None:
            raise SemfidError("--preset names its datasets: give it without --manifest.")
        chosen = _with_preset(ctx, registry, preset, dataset, models, metrics, degradations,
                              levels, sets)  # fmt: skip
        datasets, models, metrics = chosen.datasets, chosen.models, chosen.metrics
        degradations, levels, sets = chosen.degradations, chosen.levels, chosen.options
    options = parse_options(sets)
    metric_names = select(metrics, "metric", registry)
    if split_list(metrics) == ["all"] or preset is not None:
        metric_names = _runnable(registry, metric_names, options)
    config = RunConfig(
        models=select(models, "sr_model", registry),
        metrics=metric_names,
        degradations=select(degradations, "degradation", registry),
        levels=parse_levels(levels) if levels else None,
        manifest=manifest,
        scale=scale,
        seed=seed,
        device=device,
        tf32=tf32,
        options=options,
        save_images=save_images,
        allow_outside_paths=allow_outside_paths,
        max_pixels=int(max_megapixels * 1e6),
        preset=preset,
        batch_size=batch_size,
        chunk_items=chunk_items,
        gpu_memory_gib=gpu_memory,
        executor=executor,
        ray_address=ray_address,
        workers=workers,
        gpus_per_worker=gpus_per_worker,
    )
    errors = []
    for name in datasets:
        errors += _run_one(replace(config, dataset=name), registry, db)
    if errors:
        for message in errors[:10]:
            err_console.print(f"[red]error[/] {escape(message)}")
        if len(errors) > 10:
            err_console.print(f"... and {len(errors) - 10} more (see the database).")
        raise typer.Exit(1)


def _with_preset(ctx, registry, name, dataset, models, metrics, degradations, levels, sets):
    """The run's selection with preset ``name`` filling in what the user did not type."""
    from semfid_bench.execution.presets import apply_preset

    typed = {  # by name: typer ships its own copy of click's ParameterSource
        key
        for key in ("dataset", "models", "metrics", "degradations", "levels")
        if getattr(ctx.get_parameter_source(key), "name", "DEFAULT") != "DEFAULT"
    }
    spec = registry.get("preset", name).spec
    return apply_preset(
        spec,
        dataset=dataset,
        models=models,
        metrics=metrics,
        degradations=degradations,
        levels=levels,
        options=sets,
        explicit=typed,
    )


def _run_one(config, registry, db: Path) -> list[str]:
    """One dataset's run, its summary printed; returns its errors."""
    from semfid_bench.execution.runner import run_benchmark
    from semfid_bench.execution.store import ResultsStore

    with ResultsStore(db) as store, _RichProgress() as progress:
        summary = run_benchmark(config, registry, store, progress)
    console.print(
        f"Run [bold]{escape(summary.run_id)}[/] on {escape(summary.dataset)} "
        f"({summary.items} items): "
        f"{summary.computed} results computed, {summary.skipped} already done and skipped, "
        f"{len(summary.errors)} errors, {summary.seconds:.1f} s. Database: {escape(db)}"
    )
    with ResultsStore(db) as store:
        _print_summary(store, summary)
    for note in summary.notes[:10]:
        err_console.print(f"[yellow]note[/] {escape(note)}")
    if len(summary.notes) > 10:
        err_console.print(f"... and {len(summary.notes) - 10} more notes (see result details).")
    for message in summary.flags[:10]:
        err_console.print(f"[yellow]flagged[/] {escape(message)}")
    if len(summary.flags) > 10:
        err_console.print(f"... and {len(summary.flags) - 10} more (the `flag` column).")
    return summary.errors


def _runnable(registry, names: list[str], options: dict[str, dict]) -> list[str]:
    """``--metrics all``: the metrics that can run with what is configured. A metric that
    requires an option nobody set (a trained checkpoint) is left out, with a note saying
    how to include it."""
    from semfid_bench.plugin_api.options import missing_required

    kept = []
    for name in names:
        given = {**options.get(name, {}), **options.get(f"metric:{name}", {})}
        missing = missing_required(registry, "metric", name, given)
        if missing:
            how = " ".join(f"--set {name}.{key}=..." for key in missing)
            err_console.print(f"[yellow]note:[/] --metrics all leaves out {name}: add {how}")
        else:
            kept.append(name)
    return kept


def _print_summary(store, summary) -> None:
    """This run's slice of the leaderboard: its metric variants, seed and scale."""
    from semfid_bench.execution.store import METRIC_KEY_COLUMNS
    from semfid_bench.report.boards import model_boards
    from semfid_bench.report.document import Heading
    from semfid_bench.report.tables import model_table
    from semfid_bench.report.terminal import print_blocks

    specs = store.metric_specs()
    set_level = [k.label for k in summary.keys.get("metric", []) if specs[k.name].set_level]
    if set_level:
        console.print(
            plain(
                f"Set-level metrics ({', '.join(set_level)}): one value per set, shown by "
                "`semfid-bench leaderboard`."
            )
        )
    results = store.results()
    if results.empty:
        return
    keys = {key.key for key in summary.keys.get("metric", [])}
    ours = results[METRIC_KEY_COLUMNS].apply(tuple, axis=1).isin(keys)
    results = results[ours & (results["dataset"] == summary.dataset)]
    if results.empty:
        return
    for board in model_boards(results, store.metric_specs()):
        print_blocks(console, [Heading(2, board.title), model_table(board)])


class _RichProgress:
    """A rich progress bar fed by the runner."""

    def __enter__(self):
        self._progress = progress_bar(err_console, transient=True)
        self._progress.__enter__()
        self._task = None
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("running", total=total)

    def advance(self, description: str) -> None:
        self._progress.update(self._task, advance=1, description=escape(description))
