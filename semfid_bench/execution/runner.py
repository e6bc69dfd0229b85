"""The driver of a run: manifest → planner → executor → results store.

The planner (:mod:`semfid_bench.execution.planner`) lists the (item, degradation, level, model)
cells still missing a metric and claims them; an executor (:mod:`semfid_bench.executors`)
computes them in item-grouped chunks — in this process, or on Ray actors — and hands rows
back; this module alone writes them, each cell in its own transaction, as they arrive. An
interrupted run keeps everything finished and the same command resumes where it stopped; a
failing cell is stored as error rows and the run goes on; runs sharing a database do other
cells meanwhile and then wait for those still being computed (see the planner).
"""

from __future__ import annotations

import json
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semfid_bench import __version__
from semfid_bench.datasets.images import DEFAULT_MAX_PIXELS
from semfid_bench.datasets.manifest import Manifest, load_manifest
from semfid_bench.execution.executors.compute import CellResult
from semfid_bench.execution.executors.compute import saved_image_path as saved_image_path
from semfid_bench.execution.executors.local import Job, LocalExecutor
from semfid_bench.execution.planner import GIVEN_SR as GIVEN_SR
from semfid_bench.execution.planner import Planner, Selection
from semfid_bench.execution.plugin_execution import TF32_CHOICES, tf32_flags, tf32_policy
from semfid_bench.execution.store import PluginKey, ResultsStore, canonical_options, claim_owner
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.options import (
    effective_options,
    non_default,
    scoped_options,
    variant_label,
)
from semfid_bench.plugin_api.registry import Registry

EXECUTORS = ("local", "ray")


@dataclass
class RunConfig:
    """What to run. ``levels`` None means each degradation's default levels; ``options``
    maps a ``--set`` target (``NAME`` or ``KIND:NAME``, see
    :func:`semfid_bench.plugin_api.options.scoped_options`) to keyword options for its factory."""

    models: list[str]
    metrics: list[str]
    degradations: list[str] = field(default_factory=lambda: ["bsrgan"])
    levels: list[float] | None = None
    dataset: str | None = "sample"
    manifest: Path | None = None
    scale: int = 4
    seed: int = 0
    device: str = "auto"
    tf32: str = "off"
    """TF32 for CUDA matmuls and convolutions while the run computes (``on``/``off``); set
    at the start, restored after, recorded in the run and in every result's key."""
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    save_images: Path | None = None
    allow_outside_paths: bool = False
    """Accept manifest paths that are absolute or outside the manifest's folder."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Input images larger than this are refused (error rows for that item)."""
    preset: str | None = None
    """The preset the run's selection came from (recorded with the run)."""
    claim_lease_s: float = 3600.0
    """How long a claimed cell stays reserved for this run if it never stores it (a run
    that died on this host frees its claims at once)."""
    batch_size: int = 1
    """Images per forward pass: LR images of equal size and level through an SR model,
    and an item's SR outputs through a metric. Not part of any result key: batched
    results equal batch-1 results (tested; see docs/scaling.md for the tolerance)."""
    chunk_items: int | None = None
    """Items an executor computes together (default: ``batch_size``); each SR model is
    used once per chunk, so under ``gpu_memory_gib`` a larger chunk means fewer loads."""
    gpu_memory_gib: float | None = None
    """Memory budget for models on the device (GiB); None keeps every SR model loaded.
    See :mod:`semfid_bench.execution.executors.models`."""
    executor: str = "local"
    """``local`` (this process) or ``ray`` (actors on a Ray cluster)."""
    ray_address: str | None = None
    """``auto``, ``HOST:PORT`` or None (a local Ray instance)."""
    workers: int | None = None
    """Ray actors; default one per GPU of the cluster (``gpus_per_worker`` each), or one
    on a cluster without GPUs."""
    gpus_per_worker: float = 1.0
    """GPUs each Ray actor reserves (a fraction lets actors share a GPU)."""


@dataclass
class RunSummary:
    run_id: str
    dataset: str
    computed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    items: int = 0
    notes: list[str] = field(default_factory=list)
    """What decoding changed about input images (alpha flattened, 16-bit scaled, ...)."""
    keys: dict[str, list[PluginKey]] = field(default_factory=dict)
    """The plugin keys (name, effective options, version, label) this run used, by kind."""


class Progress:
    """Receives progress; the CLI draws it, tests and the library ignore it."""

    def start(self, total: int) -> None: ...

    def advance(self, description: str) -> None: ...


def resolve_manifest(config: RunConfig, registry: Registry) -> Manifest:
    """The manifest a run uses: ``--manifest`` if given, else the named dataset's."""
    path = config.manifest
    if path is None:
        path = registry.create("dataset", config.dataset or "sample")
    return load_manifest(path, allow_outside_paths=config.allow_outside_paths)


def _levels(config: RunConfig, registry: Registry, name: str) -> list[float]:
    if config.levels is not None:
        return [float(level) for level in config.levels]
    return list(registry.get("degradation", name).spec.levels)


def _check_selection(config: RunConfig, registry: Registry) -> None:
    if not config.metrics:
        raise SemfidError("Select at least one metric.")
    for name in config.models:
        spec = registry.get("sr_model", name).spec
        if config.scale not in spec.scales:
            raise SemfidError(
                f"SR model {name!r} does not upscale x{config.scale} (it supports "
                f"{', '.join(f'x{s}' for s in spec.scales)}).",
                hint="Choose another --scale or model.",
            )
    for name in config.degradations:
        spec = registry.get("degradation", name).spec
        if config.scale not in spec.scales:
            raise SemfidError(f"Degradation {name!r} does not downscale x{config.scale}.")
    for name in config.metrics:
        registry.get("metric", name)
    if config.tf32 not in TF32_CHOICES:
        raise SemfidError(f"--tf32 {config.tf32!r}: use on or off.")
    for level in config.levels or []:
        if not 0.0 <= float(level) <= 1.0:
            raise SemfidError(f"Level {level} is outside [0, 1].")
    if config.batch_size < 1 or (config.chunk_items is not None and config.chunk_items < 1):
        raise SemfidError("--batch-size and --chunk-items must be at least 1.")
    if config.gpu_memory_gib is not None and not config.gpu_memory_gib > 0:
        raise SemfidError(f"--gpu-memory {config.gpu_memory_gib}: give a positive number of GiB.")
    if config.executor not in EXECUTORS:
        raise SemfidError(f"--executor {config.executor!r}: use one of {', '.join(EXECUTORS)}.")


def _selection(config: RunConfig) -> dict[str, list[str]]:
    return {"sr_model": config.models, "degradation": config.degradations, "metric": config.metrics}


def plugin_keys(
    config: RunConfig, registry: Registry, options: dict[tuple[str, str], dict]
) -> dict[tuple[str, str], PluginKey]:
    """Each selected plugin's key: effective options (defaults included), spec version and
    a label that shows only the options differing from the defaults."""
    keys = {}
    for kind, names in _selection(config).items():
        for name in names:
            effective = effective_options(registry, kind, name, options.get((kind, name)))
            defaults = effective_options(registry, kind, name, {})
            version = registry.get(kind, name).spec.version
            label = variant_label(name, non_default(effective, defaults), version)
            keys[kind, name] = PluginKey(name, canonical_options(effective), version, label)
    return keys


def environment_record(device) -> dict[str, Any]:
    """Versions, platform, device and the TF32 switches in effect, stored with every run;
    on CUDA also the GPU, its driver and the CUDA/cuDNN versions."""
    import numpy
    import torch

    record: dict[str, Any] = {
        "semfid_bench": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "tf32": tf32_flags(),
    }
    if torch.device(device).type == "cuda":
        record |= _cuda_record(torch.device(device))
    return record


def _cuda_record(device) -> dict[str, Any]:
    import torch

    properties = torch.cuda.get_device_properties(device)
    return {
        "gpu": properties.name,
        "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
        "compute_capability": f"{properties.major}.{properties.minor}",
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "driver": _driver_version(),
    }


def _driver_version() -> str | None:
    """The NVIDIA driver version through NVML (``nvidia-ml-py``), None where unavailable."""
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
    except Exception:
        return None
    return version.decode() if isinstance(version, bytes) else str(version)


def run_benchmark(
    config: RunConfig,
    registry: Registry,
    store: ResultsStore,
    progress: Progress | None = None,
) -> RunSummary:
    """Run every model × degradation level × item, each metric once, into ``store``."""
    progress = progress or Progress()
    _check_selection(config, registry)
    manifest = resolve_manifest(config, registry)
    unpaired = sum(not item.paired for item in manifest)
    if not unpaired:
        config = replace(config, models=[], degradations=[])
    elif not config.models:
        raise SemfidError(f"Select at least one SR model for the {unpaired} unpaired item(s).")
    options = scoped_options(registry, config.options, _selection(config))
    job = Job(config, options, plugin_keys(config, registry, options))
    executor = _executor(config, registry, job)
    try:
        keys = executor.start()
        with tf32_policy(config.tf32 == "on"):
            return _execute(config, registry, store, progress, manifest, keys, executor)
    finally:
        executor.close()


def _executor(config: RunConfig, registry: Registry, job: Job):
    """The run's executor: this process, or Ray actors."""
    from semfid_bench.execution.device import resolve_device

    if config.executor == "ray":
        from semfid_bench.execution.executors.ray_executor import RayExecutor

        return RayExecutor(registry, job)
    return LocalExecutor(registry, job, resolve_device(config.device))


def _execute(
    config: RunConfig,
    registry: Registry,
    store: ResultsStore,
    progress: Progress,
    manifest: Manifest,
    keys: dict[tuple[str, str], PluginKey],
    executor,
) -> RunSummary:
    """The run itself, once its plugins exist and its keys are known: the planner's chunks
    through ``executor``, every cell's rows stored as they arrive."""
    unpaired = sum(not item.paired for item in manifest)
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    store.mark_interrupted()
    store.save_metric_specs(registry.get("metric", n).spec for n in config.metrics)
    store.save_items(manifest.name, manifest)
    store.start_run(
        run_id,
        {
            "dataset": manifest.name,
            "manifest": str(manifest.path),
            "models": config.models + _paired_models(manifest),
            "degradations": {n: _levels(config, registry, n) for n in config.degradations}
            | _paired_levels(manifest),
            "metrics": config.metrics,
            "scale": config.scale,
            "seed": config.seed,
            "tf32": config.tf32,
            "preset": config.preset,
            "options": config.options,
            "effective_options": {
                f"{kind}:{name}": json.loads(key.options) for (kind, name), key in keys.items()
            },
            "versions": {f"{kind}:{name}": key.version for (kind, name), key in keys.items()},
            "plugins": {
                name: registry.get(kind, name).source
                for kind, names in (
                    ("sr_model", config.models),
                    ("degradation", config.degradations),
                    ("metric", config.metrics),
                )
                for name in names
            },
            "execution": {
                "executor": config.executor,
                "batch_size": config.batch_size,
                "chunk_items": config.chunk_items or config.batch_size,
                "gpu_memory_gib": config.gpu_memory_gib,
            },
            "environment": executor.environment(),
        },
    )
    summary = RunSummary(run_id=run_id, dataset=manifest.name, items=len(manifest))
    for (kind, _), key in keys.items():
        summary.keys.setdefault(kind, []).append(key)
    selection = Selection(
        dataset=manifest.name,
        grid=[(d, lv) for d in config.degradations for lv in _levels(config, registry, d)],
        models=config.models,
        metrics=config.metrics,
        keys=keys,
        scale=config.scale,
        seed=config.seed,
    )
    planner = Planner(
        store, manifest, selection, claim_owner(run_id), config.claim_lease_s, progress.advance
    )
    progress.start(unpaired * len(selection.grid) * len(config.models) + len(manifest) - unpaired)
    started = time.perf_counter()
    status = "interrupted"
    try:
        size = config.chunk_items or config.batch_size
        for waiting in (False, True):  # the planner's first pass, then cells others held
            for result in executor.run(planner.chunks(size, waiting), lookahead=not waiting):
                _store(result, planner, store, summary)
        status = "finished" if not summary.errors else "finished-with-errors"
    finally:
        summary.skipped = planner.skipped
        summary.seconds = time.perf_counter() - started
        store.release_all(planner.owner)
        store.finish_run(run_id, status)
    return summary


def _store(result: CellResult, planner: Planner, store: ResultsStore, summary: RunSummary) -> None:
    """A computed cell into the store, in one transaction, then its claim freed."""
    planner.check_done(result.cell)
    store.add(result.rows, summary.run_id)
    planner.done(result.cell)
    summary.computed += sum(row.error is None for row in result.rows)
    summary.errors += result.errors
    summary.flags += result.flags
    summary.notes += result.notes + result.item_notes


def _paired_models(manifest: Manifest) -> list[str]:
    return sorted({item.model or GIVEN_SR for item in manifest if item.paired})


def _paired_levels(manifest: Manifest) -> dict[str, list[float]]:
    """The degradation labels and levels paired items declare."""
    levels: dict[str, set[float]] = {}
    for item in manifest:
        if item.paired:
            level = 1.0 if item.level is None else item.level
            levels.setdefault(item.degradation or GIVEN_SR, set()).add(level)
    return {name: sorted(values) for name, values in levels.items()}
