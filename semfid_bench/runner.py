"""The benchmark loop: manifest → degradation (level) → SR model → metrics → results store.

Items are the outer loop, so GT-side metric work happens once per item (never per model ×
level) and memory stays flat in dataset size. Each (item, degradation, level, model) cell
is written in its own transaction: an interrupted run keeps everything finished, and the
same command resumes where it stopped. A failing cell is stored as error rows and the run
goes on. Runs sharing a database claim each cell before computing it (``claims`` table in
the store), so a second run does other cells meanwhile and then waits for those still
being computed instead of computing them again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semfid_bench import __version__
from semfid_bench.errors import SemfidError, WeightsUnavailableError
from semfid_bench.execution import TF32_CHOICES, plugin_execution, tf32_flags, tf32_policy
from semfid_bench.images import DEFAULT_MAX_PIXELS, decode_image, quantize, save_image, to_tensor
from semfid_bench.interfaces import ReportsFallbacks, UpscaleContext
from semfid_bench.manifest import Item, Manifest, load_manifest
from semfid_bench.options import (
    effective_options,
    non_default,
    scoped_options,
    variant_label,
)
from semfid_bench.registry import Registry
from semfid_bench.safe_paths import path_inside
from semfid_bench.seeding import degradation_seed, model_seed
from semfid_bench.set_metrics import item_statistics
from semfid_bench.specs import MetricSpec
from semfid_bench.store import (
    CellKey,
    PluginKey,
    ResultRow,
    ResultsStore,
    canonical_options,
    cell_token,
    claim_owner,
)

GIVEN_LR = "given-lr"
GIVEN_SR = "given-sr"
CLAIM_POLL_S = 0.5
"""How often a run waiting for another run's cell looks again."""


@dataclass
class RunConfig:
    """What to run. ``levels`` None means each degradation's default levels; ``options``
    maps a ``--set`` target (``NAME`` or ``KIND:NAME``, see
    :func:`semfid_bench.options.scoped_options`) to keyword options for its factory."""

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


@dataclass
class _Plugins:
    models: dict[str, Any]
    degradations: dict[str, Any]
    metrics: dict[str, Any]


@dataclass
class _Run:
    """The state one run shares across items."""

    config: RunConfig
    plugins: _Plugins
    store: ResultsStore
    summary: RunSummary
    progress: Progress
    device: Any
    dataset: str
    grid: list[tuple[str, float]]
    keys: dict[tuple[str, str], PluginKey]
    metric_specs: dict[str, MetricSpec]
    owner: str
    """This run as the owner of the cells it claims."""


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


def with_execution(
    keys: dict[tuple[str, str], PluginKey], plugins: _Plugins, device, tf32: bool
) -> dict[tuple[str, str], PluginKey]:
    """``keys`` with each plugin's execution filled in (see
    :mod:`semfid_bench.execution`); degradations always run on CPU."""
    import torch

    by_kind = {"sr_model": plugins.models, "degradation": plugins.degradations}
    by_kind["metric"] = plugins.metrics
    cpu = torch.device("cpu")
    filled = {}
    for (kind, name), key in keys.items():
        where = cpu if kind == "degradation" else device
        record = plugin_execution(by_kind[kind][name], where, tf32)
        filled[kind, name] = replace(key, execution=canonical_options(record))
    return filled


def _create_plugins(
    config: RunConfig, registry: Registry, device, options: dict[tuple[str, str], dict]
) -> _Plugins:
    """Instantiate every selected plugin before any work starts.

    Missing weights are collected across plugins and reported together, so one attempt
    tells a user every file to fetch.
    """
    import torch

    missing: list[WeightsUnavailableError] = []

    def create(kind: str, name: str, **kwargs: Any) -> Any:
        try:
            return registry.create(kind, name, **kwargs, **options.get((kind, name), {}))
        except WeightsUnavailableError as exc:
            missing.append(exc)
            return None

    plugins = _Plugins(
        models={n: create("sr_model", n, scale=config.scale, device=device) for n in config.models},
        degradations={  # on CPU: LR images are bit-identical whatever the run's device
            n: create("degradation", n, scale=config.scale, device=torch.device("cpu"))
            for n in config.degradations
        },
        metrics={n: create("metric", n, device=device) for n in config.metrics},
    )
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise WeightsUnavailableError(
            f"{len(missing)} weights are not available:\n"
            + "\n".join(f"  - {exc.message}\n    {exc.hint}" for exc in missing),
            hint="`semfid-bench prefetch` with the same --models/--metrics/--set downloads "
            "everything a run needs.",
        )
    return plugins


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


def _decode_input(data: bytes, path: Path, role: str, run: _Run, notes: list[str]):
    """An input image as a (3, H, W) tensor on the run's device, decoded by the policy of
    :mod:`semfid_bench.images` (pixel cap included); its notes go to ``notes``."""
    decoded = decode_image(data, path, run.config.max_pixels)
    notes.extend(f"{role}: {note}" for note in decoded.notes)
    return to_tensor(decoded.array).to(run.device)


def _read_gt(item: Item, run: _Run, notes: list[str]) -> tuple[Any, str]:
    data = item.gt.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    return _decode_input(data, item.gt, "GT", run, notes), digest


def _file_hash(path: Path | None) -> str | None:
    return None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def inputs_hash(item: Item) -> str:
    """A hash of every manifest input besides the GT that a plugin may read: caption,
    labels, the contents of the mask and of a given LR image, and a panoptic annotation
    (PNG contents and segments; only when given, so the hashes of items without one stay
    what they were). (MOS and split are human labels read by reports from the ``items``
    table, not by plugins.)"""
    fields = {
        "caption": item.caption,
        "labels": [list(pair) for pair in item.labels],
        "mask": _file_hash(item.mask),
        "lr": _file_hash(item.lr),
    }
    if item.panoptic is not None:
        fields["panoptic"] = _file_hash(item.panoptic)
        fields["segments"] = [[s.id, s.category_id, s.iscrowd] for s in item.segments]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _error_message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_benchmark(
    config: RunConfig,
    registry: Registry,
    store: ResultsStore,
    progress: Progress | None = None,
) -> RunSummary:
    """Run every model × degradation level × item, each metric once, into ``store``."""
    from semfid_bench.device import resolve_device

    progress = progress or Progress()
    _check_selection(config, registry)
    manifest = resolve_manifest(config, registry)
    unpaired = sum(not item.paired for item in manifest)
    if not unpaired:
        config = replace(config, models=[], degradations=[])
    elif not config.models:
        raise SemfidError(f"Select at least one SR model for the {unpaired} unpaired item(s).")
    options = scoped_options(registry, config.options, _selection(config))
    keys = plugin_keys(config, registry, options)
    device = resolve_device(config.device)
    plugins = _create_plugins(config, registry, device, options)
    keys = with_execution(keys, plugins, device, config.tf32 == "on")
    with tf32_policy(config.tf32 == "on"):
        return _execute(config, registry, store, progress, manifest, keys, device, plugins)


def _execute(
    config: RunConfig,
    registry: Registry,
    store: ResultsStore,
    progress: Progress,
    manifest: Manifest,
    keys: dict[tuple[str, str], PluginKey],
    device,
    plugins: _Plugins,
) -> RunSummary:
    """The run itself, once its plugins exist and its keys are known."""
    import torch

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
            "environment": environment_record(device),
        },
    )
    summary = RunSummary(run_id=run_id, dataset=manifest.name, items=len(manifest))
    for (kind, _), key in keys.items():
        summary.keys.setdefault(kind, []).append(key)
    run = _Run(
        config=config,
        plugins=plugins,
        store=store,
        summary=summary,
        progress=progress,
        device=device,
        dataset=manifest.name,
        grid=[(d, lv) for d in config.degradations for lv in _levels(config, registry, d)],
        keys=keys,
        metric_specs={n: registry.get("metric", n).spec for n in config.metrics},
        owner=claim_owner(run_id),
    )
    progress.start(unpaired * len(run.grid) * len(config.models) + len(manifest) - unpaired)
    started = time.perf_counter()
    status = "interrupted"
    try:
        with torch.inference_mode():
            deferred = [item for item in manifest if _run_item(run, item)]
            for item in deferred:  # cells other runs were computing: wait for them
                _run_item(run, item, waiting=True)
        status = "finished" if not summary.errors else "finished-with-errors"
    finally:
        summary.seconds = time.perf_counter() - started
        store.release_all(run.owner)
        store.finish_run(run_id, status)
    return summary


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


def _run_item(run: _Run, item: Item, waiting: bool = False) -> bool:
    """Every (degradation, level, model) cell of one item; GT-side work done once.

    A paired item has a single cell: its SR image, keyed by its labels, and a content hash
    that covers GT and SR (so a replaced SR file is scored again). Cells another live run
    has claimed are left to it; returns True if any were (``waiting`` then waits for them
    to be stored or freed, see :func:`_claim_todo`)."""
    deferred = False
    gt, gt_hash, extra_hash, gt_error = None, "unreadable", "unreadable", ""
    notes: list[str] = []
    try:
        gt, gt_hash = _read_gt(item, run, notes)
        item = dataclasses.replace(item, gt_hash=gt_hash)
        if item.paired:
            gt_hash += "+" + hashlib.sha256(item.sr.read_bytes()).hexdigest()[:16]
        extra_hash = inputs_hash(item)
    except Exception as exc:
        inputs = f"GT {item.gt}" + (f" / SR {item.sr}" if item.paired else "")
        gt_error = f"{inputs}: {_error_message(exc)}"
    grid = [(GIVEN_LR, 1.0)] if item.lr is not None else run.grid
    models = run.plugins.models
    model_keys = {name: run.keys["sr_model", name] for name in models}
    if item.paired:  # labels only: no model ran, so no options either
        grid = [(item.degradation or GIVEN_SR, 1.0 if item.level is None else item.level)]
        models = {item.model or GIVEN_SR: None}
        model_keys = {name: PluginKey(name) for name in models}
    metric_keys = {name: run.keys["metric", name] for name in run.plugins.metrics}
    references: dict[str, Any] = {}
    for degradation, level in grid:
        degradation_key = run.keys.get(("degradation", degradation), PluginKey(degradation))
        lr = None
        for model_name, model in models.items():
            if not waiting:
                run.progress.advance(f"{item.id} · {degradation}@{level:g} · {model_name}")
            cell = CellKey(
                run.dataset,
                item.id,
                gt_hash,
                extra_hash,
                degradation_key,
                level,
                run.config.scale,
                run.config.seed,
                model_keys[model_name],
            )
            todo = _claim_todo(run, cell, waiting)
            deferred |= todo is None
            if not todo:
                continue
            cell_notes = notes
            try:
                if gt is None:
                    raise RuntimeError(gt_error)
                if item.paired:
                    sr = _load_sr(run, item, gt, notes)
                    if item.lr is not None and lr is None:
                        lr = _make_lr(run, item, gt, GIVEN_LR, level, notes)
                else:
                    if lr is None:
                        lr = _make_lr(run, item, gt, degradation, level, notes)
                    context = UpscaleContext(
                        items=[item],
                        degradation=degradation,
                        level=level,
                        seed=model_seed(run.config.seed, item.id, model_name),
                    )
                    sr = _upscale(model_name, model, lr, gt, context, run.config.scale)
                    cell_notes = notes + _fallbacks(run, item, model_name, model)
                _save(run, item, cell, lr, sr)
            except Exception as exc:
                message = f"item {item.id!r} ({item.gt}): {_error_message(exc)}"
                rows = [ResultRow(cell, metric_keys[m], None, message) for m in todo]
                run.summary.errors.append(f"{degradation}@{level:g} {model_name}: {message}")
            else:
                rows = [
                    _score(run, name, sr, gt, item, references, cell, cell_notes, lr)
                    for name in todo
                ]
            run.store.add(rows, run.summary.run_id)
            run.store.release(cell_token(cell), run.owner)
            run.summary.computed += sum(r.error is None for r in rows)
    if not waiting:  # a second visit reads the same files again
        run.summary.notes += [f"item {item.id!r}: {note}" for note in dict.fromkeys(notes)]
    return deferred


def _missing(run: _Run, cell: CellKey) -> list[str]:
    done = run.store.finished_metrics(cell)
    return [m for m in run.plugins.metrics if run.keys["metric", m].key not in done]


def _claim_todo(run: _Run, cell: CellKey, waiting: bool) -> list[str] | None:
    """The metrics still missing for ``cell``, with the cell claimed when there are any;
    None if another live run holds it (with ``waiting``, poll until it is stored or free).

    Missing metrics are read again under the claim: the other run stores its rows before
    it releases, so nothing is computed twice."""
    token, metrics = cell_token(cell), run.plugins.metrics
    while True:
        todo = _missing(run, cell)
        if todo and run.store.claim(token, run.owner, run.config.claim_lease_s):
            todo = _missing(run, cell)
            if todo:
                run.summary.skipped += len(metrics) - len(todo)
                return todo
            run.store.release(token, run.owner)
        if not todo:
            run.summary.skipped += len(metrics)
            return []
        if not waiting:
            return None
        time.sleep(CLAIM_POLL_S)


def _load_sr(run: _Run, item: Item, gt, notes: list[str]):
    sr = quantize(_decode_input(item.sr.read_bytes(), item.sr, "SR", run, notes))[None]
    if tuple(sr.shape[-2:]) != tuple(gt.shape[-2:]):
        raise ValueError(
            f"SR {item.sr} is {tuple(sr.shape[-2:])} (H, W), GT is {tuple(gt.shape[-2:])}"
        )
    return sr


def _check_finite(what: str, image) -> None:
    import torch

    bad = int((~torch.isfinite(image)).sum())
    if bad:
        raise ValueError(f"{what} returned {bad} non-finite values (NaN or inf)")


def _make_lr(run: _Run, item: Item, gt, degradation: str, level: float, notes: list[str]):
    if degradation == GIVEN_LR:
        return quantize(_decode_input(item.lr.read_bytes(), item.lr, "LR", run, notes))
    seed = degradation_seed(run.config.seed, item.id, degradation)
    lr = run.plugins.degradations[degradation].degrade(gt.cpu(), level=level, seed=seed)
    what = f"degradation {degradation!r}"
    if lr.dim() != 3 or lr.shape[0] != 3:
        raise ValueError(f"{what} returned shape {tuple(lr.shape)}, expected (3, h, w)")
    _check_finite(what, lr)
    return quantize(lr).to(run.device)


def _fallbacks(run: _Run, item: Item, name: str, model) -> list[str]:
    """What ``model``'s last call did differently from its settings (see
    :class:`~semfid_bench.interfaces.ReportsFallbacks`), also kept in the run's notes."""
    if not isinstance(model, ReportsFallbacks):
        return []
    found = [f"SR model {name!r}: {text}" for text in model.fallbacks()]
    run.summary.notes += [f"item {item.id!r}: {text}" for text in found]
    return found


def _upscale(name: str, model, lr, gt, context: UpscaleContext, scale: int):
    """The model's output, checked: (1, 3, h·scale, w·scale), finite, GT-sized."""
    import torch

    what = f"SR model {name!r}"
    sr = model.upscale(lr[None], context)
    if not isinstance(sr, torch.Tensor):
        raise TypeError(f"{what} returned a {type(sr).__name__}, not a tensor")
    expected = (1, 3, lr.shape[-2] * scale, lr.shape[-1] * scale)
    if tuple(sr.shape) != expected:
        raise ValueError(
            f"{what} returned shape {tuple(sr.shape)}, expected {expected} "
            f"(B, 3, h·{scale}, w·{scale})"
        )
    _check_finite(what, sr)
    sr = quantize(sr)
    if tuple(sr.shape[-2:]) != tuple(gt.shape[-2:]):
        raise ValueError(
            f"SR output is {tuple(sr.shape[-2:])} (H, W), GT is {tuple(gt.shape[-2:])}"
        )
    return sr


def _score(
    run: _Run,
    name: str,
    sr,
    gt,
    item: Item,
    references: dict,
    cell,
    notes: list[str],
    lr=None,
) -> ResultRow:
    """One metric on one SR image, its output checked: one finite score (an error row
    otherwise); a value outside the declared range is kept, flagged. Notes on how the
    inputs were decoded go into the details. Metrics whose spec ``needs_lr`` get the LR
    the cell used (given or degraded, native size) as the keyword ``lr``. A set-level
    metric's row holds its item statistics instead of a value."""
    key = run.keys["metric", name]
    spec = run.metric_specs[name]
    metric = run.plugins.metrics[name]
    try:
        if name not in references:  # no-reference metrics never see the GT
            references[name] = metric.reference(gt[None] if spec.full_reference else None, [item])
        extra = {}
        if spec.needs_lr:
            if lr is None:
                raise ValueError(
                    "needs the LR image, and this paired item has none: add an 'lr' path "
                    "to its manifest line"
                )
            extra["lr"] = lr[None]
        if spec.set_level:  # per-item statistics; reports reduce them per slice
            stats = item_statistics(name, metric, sr, references[name], **extra)
            return ResultRow(cell, key, None, stats=stats)
        scores, details = _score_with_details(metric, sr, references[name], **extra)
        value = _one_score(name, scores)
        detail = _one_detail(name, details)
        if notes:
            detail = {**(detail or {}), "input_notes": list(dict.fromkeys(notes))}
    except Exception as exc:
        message = f"item {item.id!r}: metric {name}: {_error_message(exc)}"
        run.summary.errors.append(
            f"{cell.degradation.name}@{cell.level:g} {cell.model.name}: {message}"
        )
        return ResultRow(cell, key, None, message)
    flag = _range_flag(spec, value)
    if flag:
        run.summary.flags.append(f"item {item.id!r} · {cell.model.label}: {name} {flag}")
    return ResultRow(cell, key, value, details=detail, flag=flag)


def _one_score(name: str, scores) -> float:
    import torch

    scores = torch.as_tensor(scores)
    if tuple(scores.shape) != (1,):
        raise ValueError(
            f"metric {name!r} returned shape {tuple(scores.shape)}, expected (1,): "
            "one score per image"
        )
    value = float(scores[0])
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} returned a non-finite score ({value})")
    return value


def _one_detail(name: str, details) -> dict | None:
    """The image's details: a JSON-able dict (checked here, so a bad one is an error row
    of this metric rather than a failed database write)."""
    if not details:
        return None
    if len(details) != 1 or not isinstance(details[0], dict):
        raise ValueError(f"metric {name!r} returned details {details!r:.80}, expected [dict]")
    json.dumps(details[0])
    return details[0]


def _range_flag(spec: MetricSpec, value: float) -> str | None:
    low, high = spec.value_range
    if low <= value <= high:
        return None
    return f"{value:.6g} is outside the declared value_range [{low:g}, {high:g}]"


def _score_with_details(metric, sr, reference, **extra):
    """(scores, per-image details or None); metrics without details only need ``score``.
    ``extra`` holds the keyword inputs the spec asked for (``lr``)."""
    with_details = getattr(metric, "score_with_details", None)
    if with_details is None:
        return metric.score(sr, reference, **extra), None
    return with_details(sr, reference, **extra)


def saved_image_path(
    root: Path, dataset: str, degradation: str, level: float, folder: str, item_id: str
) -> Path:
    """Where ``--save-images ROOT`` keeps an image:
    ``ROOT/<dataset>/<degradation>@<level>/<folder>/<id>.png``, ``folder`` ``LR`` or the
    model's variant label; every part encoded by :func:`~semfid_bench.safe_paths.path_inside`
    (an id is never read as a path)."""
    return path_inside(root, dataset, f"{degradation}@{level:g}", folder, item_id, suffix=".png")


def _save(run: _Run, item: Item, cell: CellKey, lr, sr):
    """Keep the cell's LR and SR images (see :func:`saved_image_path`); option variants of
    a model or degradation get folders of their own (their labels)."""
    if run.config.save_images is None:
        return
    where = (run.config.save_images, run.dataset, cell.degradation.label, cell.level)
    if lr is not None:
        save_image(lr, saved_image_path(*where, "LR", item.id))
    save_image(sr[0], saved_image_path(*where, cell.model.label, item.id))
