"""Computing planned cells: decode, degrade, upscale, score — rows handed back, never stored.

A chunk of :class:`~semfid_bench.execution.planner.ItemTask` goes through two phases:

- :meth:`CellComputer.load` (CPU only, safe in a background thread): decode the input
  bytes the planner read, degrade each GT once per (degradation, level).
- :meth:`CellComputer.compute`: SR models one after another (each loaded once per chunk
  through the :class:`~semfid_bench.execution.executors.models.ModelPool`), LR images of equal size
  and equal (degradation, level) upscaled ``batch_size`` at a time across the chunk's
  items; then per item every metric scores all its SR outputs (models × levels),
  ``batch_size`` at a time, against the GT reference computed once per item.

A batch that raises is computed again image by image, so one bad input costs its own cell
only, as at batch size 1. Every check of the batch-1 runner holds per image: SR shape,
finite values, one finite score per image, JSON-able details.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semfid_bench.datasets.images import decode_image, quantize, save_image, to_tensor
from semfid_bench.execution.planner import GIVEN_LR, CellTask, ItemTask
from semfid_bench.execution.set_level_stats import item_statistics
from semfid_bench.execution.store import PluginKey, ResultRow
from semfid_bench.plugin_api.interfaces import ReportsFallbacks, UpscaleContext
from semfid_bench.plugin_api.seeding import degradation_seed, model_seed
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.safe_paths import path_inside


@dataclass
class CellResult:
    """What a cell produced: its rows (one per planned metric), and the messages for the
    run summary (errors, flagged values, fallbacks the SR model took)."""

    cell: CellTask
    rows: list[ResultRow]
    errors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    item_notes: list[str] = field(default_factory=list)
    """On an item's last cell of its first visit: how its inputs were decoded."""


@dataclass
class Settings:
    """How a computer works: the run's scale, seed, input pixel cap, images per forward
    pass, device and where to keep images (``--save-images``)."""

    scale: int
    seed: int
    max_pixels: int
    batch_size: int = 1
    device: Any = "cpu"
    save_images: Path | None = None


@dataclass
class _Loaded:
    """One item's decoded inputs (CPU): GT, LR per (degradation, level) or the error
    making it, a given SR image, and the decoding notes."""

    task: ItemTask
    gt: Any = None
    error: str = ""
    lr: dict[tuple[str, float], Any] = field(default_factory=dict)
    lr_errors: dict[tuple[str, float], str] = field(default_factory=dict)
    sr: Any = None
    sr_error: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class _Cell:
    """A cell in flight: its SR image once made, or the error that stopped it."""

    loaded: _Loaded
    task: CellTask
    lr: Any = None
    sr: Any = None
    error: str = ""
    notes: list[str] = field(default_factory=list)


def error_message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class CellComputer:
    """Computes chunks of planned items with the given plugins: ``models`` gives an SR
    model by name (a :class:`~semfid_bench.execution.executors.models.ModelPool`'s ``get``),
    ``degradations`` and ``metrics`` are instances by name, ``keys`` the run's plugin keys
    (for row metric keys and flag labels)."""

    def __init__(
        self,
        settings: Settings,
        models: Callable[[str], Any],
        degradations: dict[str, Any],
        metrics: dict[str, Any],
        metric_specs: dict[str, MetricSpec],
        keys: dict[tuple[str, str], PluginKey],
        end_chunk: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._models = models
        self._degradations = degradations
        self._metrics = metrics
        self._specs = metric_specs
        self.keys = keys
        self._end_chunk = end_chunk
        self._unbatched: dict[str, str] = {}
        """Plugins whose batch raised (computed image by image instead), with the
        message, reported once per plugin in the next cell result's notes."""
        self._reported: set[str] = set()

    # --- load: CPU only ---------------------------------------------------------------

    def load(self, chunk: list[ItemTask]) -> list[_Loaded]:
        """Decode and degrade a chunk's inputs on CPU (no plugin but degradations runs)."""
        import torch

        with torch.inference_mode():
            return [self._load_item(task) for task in chunk]

    def _decode(self, task: ItemTask, role: str, loaded: _Loaded):
        path = {"GT": task.item.gt, "SR": task.item.sr, "LR": task.item.lr}[role]
        decoded = decode_image(task.inputs[role.lower()], path, self.settings.max_pixels)
        loaded.notes.extend(f"{role}: {note}" for note in decoded.notes)
        return to_tensor(decoded.array)

    def _load_item(self, task: ItemTask) -> _Loaded:
        loaded = _Loaded(task, error=task.error)
        item = task.item
        if not loaded.error:
            try:
                loaded.gt = self._decode(task, "GT", loaded)
            except Exception as exc:
                where = f"GT {item.gt}" + (f" / SR {item.sr}" if item.paired else "")
                loaded.error = f"{where}: {error_message(exc)}"
        if loaded.error:
            return loaded
        if item.paired:
            try:
                loaded.sr = self._paired_sr(task, loaded)
            except Exception as exc:
                loaded.sr_error = error_message(exc)
        for degradation, level in dict.fromkeys((c.degradation, c.level) for c in task.cells):
            if item.paired and item.lr is None:
                continue
            try:
                loaded.lr[degradation, level] = self._make_lr(task, loaded, degradation, level)
            except Exception as exc:
                loaded.lr_errors[degradation, level] = error_message(exc)
        return loaded

    def _paired_sr(self, task: ItemTask, loaded: _Loaded):
        sr = quantize(self._decode(task, "SR", loaded))[None]
        if tuple(sr.shape[-2:]) != tuple(loaded.gt.shape[-2:]):
            raise ValueError(
                f"SR {task.item.sr} is {tuple(sr.shape[-2:])} (H, W), GT is "
                f"{tuple(loaded.gt.shape[-2:])}"
            )
        return sr

    def _make_lr(self, task: ItemTask, loaded: _Loaded, degradation: str, level: float):
        if degradation == GIVEN_LR or task.item.paired:
            return quantize(self._decode(task, "LR", loaded))
        seed = degradation_seed(self.settings.seed, task.item.id, degradation)
        hr = loaded.gt.cpu()  # degradations run on CPU: LR bit-identical on any device
        lr = self._degradations[degradation].degrade(hr, level=level, seed=seed)
        what = f"degradation {degradation!r}"
        if lr.dim() != 3 or lr.shape[0] != 3:
            raise ValueError(f"{what} returned shape {tuple(lr.shape)}, expected (3, h, w)")
        check_finite(what, lr)
        return quantize(lr)

    # --- compute: models and metrics on the device ------------------------------------

    def compute(self, loaded: list[_Loaded]) -> Iterator[CellResult]:
        """Upscale and score a loaded chunk; each cell's result as soon as it is scored
        (an item's outputs ``batch_size`` at a time), so an interrupted chunk keeps what
        it finished."""
        import torch

        device = self.settings.device
        with torch.inference_mode():
            for entry in loaded:
                if entry.gt is not None:
                    entry.gt = entry.gt.to(device)
                    entry.lr = {k: lr.to(device) for k, lr in entry.lr.items()}
                    entry.sr = None if entry.sr is None else entry.sr.to(device)
            cells = [self._cell(entry, task) for entry in loaded for task in entry.task.cells]
            self._upscale_all([c for c in cells if not c.error and c.sr is None])
            self._end_chunk()
            for cell in cells:
                try:
                    self._save(cell)
                except Exception as exc:  # an error row for that cell; the run goes on
                    item = cell.loaded.task.item
                    cell.error = f"item {item.id!r} ({item.gt}): {error_message(exc)}"
        size = self.settings.batch_size
        for entry in loaded:
            mine = [c for c in cells if c.loaded is entry]
            references: dict[str, Any] = {}
            for start in range(0, len(mine), size):
                with torch.inference_mode():
                    results = self._score_cells(entry, mine[start : start + size], references)
                results[0].notes += self._new_fallbacks()
                if start + size >= len(mine) and entry.task.first_visit:
                    item_id = entry.task.item.id
                    notes = dict.fromkeys(entry.notes)
                    results[-1].item_notes = [f"item {item_id!r}: {n}" for n in notes]
                yield from results

    def _fell_back(self, what: str, size: int, exc: BaseException) -> None:
        self._unbatched.setdefault(
            what, f"{what}: a batch of {size} raised {error_message(exc)}; computed image by "
            "image (same results, slower)"
        )  # fmt: skip

    def _new_fallbacks(self) -> list[str]:
        """Batch fallbacks not reported yet (each plugin once per executor)."""
        new = [text for what, text in self._unbatched.items() if what not in self._reported]
        self._reported.update(self._unbatched)
        return new

    def _cell(self, entry: _Loaded, task: CellTask) -> _Cell:
        cell = _Cell(entry, task)
        key = (task.degradation, task.level)
        item = entry.task.item
        if entry.error:
            cell.error = error_message(RuntimeError(entry.error))
        elif key in entry.lr_errors:
            cell.error = entry.lr_errors[key]
        elif item.paired and entry.sr_error:
            cell.error = entry.sr_error
        else:
            cell.lr = entry.lr.get(key)
            if item.paired:
                cell.sr = entry.sr
        if cell.error:
            cell.error = f"item {item.id!r} ({item.gt}): {cell.error}"
        return cell

    def _upscale_all(self, cells: list[_Cell]) -> None:
        """Each SR model in turn over every cell that needs it, equal LR sizes of equal
        (degradation, level) in batches."""
        for name in dict.fromkeys(c.task.model for c in cells):
            mine = [c for c in cells if c.task.model == name]
            try:
                model = self._models(name)
            except Exception as exc:
                for cell in mine:
                    item = cell.loaded.task.item
                    cell.error = f"item {item.id!r} ({item.gt}): {error_message(exc)}"
                continue
            groups: dict[tuple, list[_Cell]] = {}
            for cell in mine:
                group = (cell.task.degradation, cell.task.level, tuple(cell.lr.shape))
                groups.setdefault(group, []).append(cell)
            size = self.settings.batch_size
            for group in groups.values():
                for start in range(0, len(group), size):
                    self._upscale_batch(name, model, group[start : start + size])

    def _upscale_batch(self, name: str, model, batch: list[_Cell]) -> None:
        import torch

        try:
            srs = self._upscale(name, model, batch)
        except Exception as exc:
            if len(batch) > 1:  # find the culprit: each image alone, as at batch size 1
                self._fell_back(f"SR model {name!r}", len(batch), exc)
                for cell in batch:
                    self._upscale_batch(name, model, [cell])
                return
            item = batch[0].loaded.task.item
            batch[0].error = f"item {item.id!r} ({item.gt}): {error_message(exc)}"
            return
        notes = []
        if isinstance(model, ReportsFallbacks):
            notes = [f"SR model {name!r}: {text}" for text in model.fallbacks()]
        for cell, sr in zip(batch, torch.unbind(srs), strict=True):
            cell.sr, cell.notes = sr[None], notes

    def _upscale(self, name: str, model, batch: list[_Cell]):
        """The model's output for a batch, checked: (B, 3, h·scale, w·scale), finite,
        GT-sized."""
        import torch

        scale, first = self.settings.scale, batch[0]
        items = [c.loaded.task.item for c in batch]
        seeds = tuple(model_seed(self.settings.seed, item.id, name) for item in items)
        context = UpscaleContext(
            items=items,
            degradation=first.task.degradation,
            level=first.task.level,
            seed=seeds[0],
            seeds=seeds,
        )
        lr = torch.stack([c.lr for c in batch])
        what = f"SR model {name!r}"
        sr = model.upscale(lr, context)
        if not isinstance(sr, torch.Tensor):
            raise TypeError(f"{what} returned a {type(sr).__name__}, not a tensor")
        expected = (len(batch), 3, lr.shape[-2] * scale, lr.shape[-1] * scale)
        if tuple(sr.shape) != expected:
            raise ValueError(
                f"{what} returned shape {tuple(sr.shape)}, expected {expected} "
                f"(B, 3, h·{scale}, w·{scale})"
            )
        check_finite(what, sr)
        sr = quantize(sr)
        gt = first.loaded.gt
        if tuple(sr.shape[-2:]) != tuple(gt.shape[-2:]):
            raise ValueError(
                f"SR output is {tuple(sr.shape[-2:])} (H, W), GT is {tuple(gt.shape[-2:])}"
            )
        return sr

    def _save(self, cell: _Cell) -> None:
        """Keep the cell's LR and SR images (see :func:`saved_image_path`); option
        variants of a model or degradation get folders of their own (their labels)."""
        root = self.settings.save_images
        if root is None or cell.sr is None:
            return
        key, item = cell.task.key, cell.loaded.task.item
        where = (root, key.dataset, key.degradation.label, key.level)
        if cell.lr is not None:
            save_image(cell.lr, saved_image_path(*where, "LR", item.id))
        save_image(cell.sr[0], saved_image_path(*where, key.model.label, item.id))

    # --- scoring ----------------------------------------------------------------------

    def _score_cells(
        self, entry: _Loaded, cells: list[_Cell], references: dict[str, Any]
    ) -> list[CellResult]:
        """Every metric over a batch of one item's cells (SR outputs of any model and
        level); the item's reference per metric made once, in ``references``."""
        item = entry.task.item
        rows: dict[int, dict[str, ResultRow]] = {id(c): {} for c in cells}
        for cell in cells:
            if cell.error:
                for name in cell.task.metrics:
                    key = self.keys["metric", name]
                    rows[id(cell)][name] = ResultRow(cell.task.key, key, None, cell.error)
        scored = [c for c in cells if not c.error]
        for name in dict.fromkeys(m for c in scored for m in c.task.metrics):
            batch = [c for c in scored if name in c.task.metrics]
            made = self._score_batch(name, entry, batch, references)
            for cell, row in zip(batch, made, strict=True):
                rows[id(cell)][name] = row
        return [self._result(item, cell, rows[id(cell)]) for cell in cells]

    def _result(self, item, cell: _Cell, rows: dict[str, ResultRow]) -> CellResult:
        """A cell's rows in its metrics' order, with the summary's messages."""
        task = cell.task
        result = CellResult(task, [rows[name] for name in task.metrics])
        result.notes = [f"item {item.id!r}: {text}" for text in cell.notes]
        where = f"{task.degradation}@{task.level:g} {task.model}"
        if cell.error:
            result.errors.append(f"{where}: {cell.error}")
            return result
        for row in result.rows:
            if row.error:
                result.errors.append(f"{where}: {row.error}")
            elif row.flag:
                label = task.key.model.label
                result.flags.append(f"item {item.id!r} · {label}: {row.metric.name} {row.flag}")
        return result

    def _score_batch(
        self, name: str, entry: _Loaded, batch: list[_Cell], references: dict[str, Any]
    ) -> list[ResultRow]:
        """One row per cell: the metric over the batch's SR images (a set-level metric's
        rows hold each image's statistics instead of a value); on an exception with more
        than one image, each image alone (its own error row)."""
        import torch

        spec, metric, item = self._specs[name], self._metrics[name], entry.task.item
        key = self.keys["metric", name]
        try:
            if name not in references:  # no-reference metrics never see the GT
                gt = entry.gt[None] if spec.full_reference else None
                references[name] = metric.reference(gt, [item])
            extra = {}
            if spec.needs_lr:
                if any(c.lr is None for c in batch):
                    raise ValueError(
                        "needs the LR image, and this paired item has none: add an 'lr' "
                        "path to its manifest line"
                    )
                extra["lr"] = torch.stack([c.lr for c in batch])
            sr = torch.cat([c.sr for c in batch])
            reference = broadcast(references[name], len(batch))
            if spec.set_level:  # per-item statistics; reports reduce them per slice
                stats = item_statistics(name, metric, sr, reference, **extra)
                return [
                    ResultRow(c.task.key, key, None, stats=s)
                    for c, s in zip(batch, stats, strict=True)
                ]
            scores, details = score_with_details(metric, sr, reference, **extra)
            values = scores_of(name, scores, len(batch))
            details = details_of(name, details, len(batch))
        except Exception as exc:
            if len(batch) > 1:
                self._fell_back(f"metric {name!r}", len(batch), exc)
                return [self._score_batch(name, entry, [c], references)[0] for c in batch]
            message = f"item {item.id!r}: metric {name}: {error_message(exc)}"
            return [ResultRow(batch[0].task.key, key, None, message)]
        rows = []
        for cell, value, detail in zip(batch, values, details, strict=True):
            notes = entry.notes + cell.notes
            if notes:
                detail = {**(detail or {}), "input_notes": list(dict.fromkeys(notes))}
            if not math.isfinite(value):
                message = f"metric {name!r} returned a non-finite score ({value})"
                message = f"item {item.id!r}: metric {name}: ValueError: {message}"
                rows.append(ResultRow(cell.task.key, key, None, message))
                continue
            flag = range_flag(spec, value)
            rows.append(ResultRow(cell.task.key, key, value, details=detail, flag=flag))
        return rows


def broadcast(reference: Any, size: int) -> Any:
    """An item's reference for ``size`` SR images: a tensor of batch 1 (the default
    reference, the GT itself) expanded to ``size`` as a view; anything else as it is (the
    metric broadcasts its own features)."""
    import torch

    if isinstance(reference, torch.Tensor) and reference.dim() and reference.shape[0] == 1:
        return reference.expand(size, *reference.shape[1:])
    return reference


def check_finite(what: str, image) -> None:
    import torch

    bad = int((~torch.isfinite(image)).sum())
    if bad:
        raise ValueError(f"{what} returned {bad} non-finite values (NaN or inf)")


def scores_of(name: str, scores, count: int) -> list[float]:
    """One float per image; the shape checked (a non-finite value is the caller's error
    row for that image alone)."""
    import torch

    scores = torch.as_tensor(scores)
    if tuple(scores.shape) != (count,):
        raise ValueError(
            f"metric {name!r} returned shape {tuple(scores.shape)}, expected ({count},): "
            "one score per image"
        )
    return [float(value) for value in scores.detach().cpu()]


def details_of(name: str, details, count: int) -> list[dict | None]:
    """Each image's details: a JSON-able dict (checked here, so a bad one is an error
    row of this metric rather than a failed database write)."""
    if not details:
        return [None] * count
    if len(details) != count or not all(isinstance(d, dict) for d in details):
        raise ValueError(
            f"metric {name!r} returned details {details!r:.80}, expected {count} dict(s)"
        )
    for detail in details:
        json.dumps(detail)
    return [d or None for d in details]


def range_flag(spec: MetricSpec, value: float) -> str | None:
    low, high = spec.value_range
    if low <= value <= high:
        return None
    return f"{value:.6g} is outside the declared value_range [{low:g}, {high:g}]"


def score_with_details(metric, sr, reference, **extra):
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
