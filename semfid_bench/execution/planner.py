"""What is still to do: the cells of a run that the results database lacks, claimed.

All resume logic lives here. From the manifest, the selection (grid of degradation levels,
SR models, metrics and their keys) and the results database, the planner lists, item by
item, the (degradation, level, model) cells that miss a metric value, and claims each one
in the store (``claims`` table) before handing it out, so concurrent runs sharing a
database do other cells meanwhile. Cells another live run holds are deferred: after the
first pass the planner waits for them to be stored or freed, and hands out what is still
missing then. Executors only compute what the planner hands out; the driver stores the
rows and releases the claims (:meth:`Planner.done`).

The planner reads each input file once (to hash it for the cell key) and hands its bytes
on with the task, so executors need no shared filesystem and never read a file that
changed after it was hashed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from semfid_bench.datasets.manifest import Item, Manifest
from semfid_bench.execution.store import CellKey, PluginKey, ResultsStore, cell_token

GIVEN_LR = "given-lr"
GIVEN_SR = "given-sr"
CLAIM_POLL_S = 0.5
"""How often a run waiting for another run's cell looks again."""


@dataclass
class CellTask:
    """One (degradation, level, model) cell of an item and the metrics it still lacks."""

    degradation: str
    level: float
    model: str
    key: CellKey
    metrics: list[str]


@dataclass
class ItemTask:
    """An item's cells still to compute, with the bytes of its input files (``gt``, and
    ``sr``/``lr`` where the manifest gives them). ``error`` says why the inputs could not
    be read (every cell is then an error row); ``first_visit`` is False on the pass that
    waited for other runs' cells."""

    item: Item
    inputs: dict[str, bytes]
    cells: list[CellTask]
    error: str = ""
    first_visit: bool = True


@dataclass
class Selection:
    """What a run computes per item: the degradation grid, the SR models and metrics, and
    every plugin's key (by ``(kind, name)``)."""

    dataset: str
    grid: list[tuple[str, float]]
    models: list[str]
    metrics: list[str]
    keys: dict[tuple[str, str], PluginKey]
    scale: int
    seed: int


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


@dataclass
class Planner:
    """Hands out the cells still to do, claimed for ``owner`` (see the module docstring).

    ``on_visit`` is called once per cell on the first pass with a short description
    (progress); ``skipped`` counts metric values found already stored."""

    store: ResultsStore
    manifest: Manifest
    selection: Selection
    owner: str
    lease_s: float
    on_visit: Callable[[str], None] = lambda description: None
    skipped: int = 0
    _deferred: list[Item] = field(default_factory=list)
    _outstanding: set[str] = field(default_factory=set)

    def tasks(self, waiting: bool = False) -> Iterator[ItemTask]:
        """Items with cells to compute: the first pass goes over the manifest, skipping
        cells other live runs hold; the ``waiting`` pass over the items whose cells were
        held, waiting for each such cell to be stored or freed. The caller must store
        what the first pass handed out before it starts the waiting pass, and may hold no
        unstored claim while drawing from it (two runs would wait for each other)."""
        if not waiting:
            items = iter(self.manifest)
        else:
            items, self._deferred = iter(self._deferred), []
        for item in items:
            task = self._plan(item, waiting)
            if task.cells:
                yield task

    def chunks(self, items: int, waiting: bool = False) -> Iterator[list[ItemTask]]:
        """:meth:`tasks` in groups of ``items`` (the last one shorter)."""
        chunk: list[ItemTask] = []
        for task in self.tasks(waiting):
            chunk.append(task)
            if len(chunk) >= items:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def done(self, cell: CellTask) -> None:
        """Frees ``cell``'s claim, once its rows are stored. A cell not handed out, or
        already done, is an executor's bug: refused (a row is never written twice)."""
        self.check_done(cell)
        token = cell_token(cell.key)
        self._outstanding.remove(token)
        self.store.release(token, self.owner)

    def check_done(self, cell: CellTask) -> None:
        """Raises unless ``cell`` was handed out and not yet stored (call before storing)."""
        if cell_token(cell.key) not in self._outstanding:
            raise RuntimeError(
                f"an executor returned cell {cell.key.item_id!r} {cell.degradation}@"
                f"{cell.level:g} {cell.model}, which is not outstanding"
            )

    def _plan(self, item: Item, waiting: bool) -> ItemTask:
        """One item's cells still missing a metric, each claimed; cells held by another
        live run are deferred (or, ``waiting``, waited for)."""
        inputs: dict[str, bytes] = {}
        gt_hash, extra_hash, error = "unreadable", "unreadable", ""
        try:
            inputs["gt"] = item.gt.read_bytes()
            gt_hash = hashlib.sha256(inputs["gt"]).hexdigest()[:16]
            item = dataclasses.replace(item, gt_hash=gt_hash)
            if item.paired:
                inputs["sr"] = item.sr.read_bytes()
                gt_hash += "+" + hashlib.sha256(inputs["sr"]).hexdigest()[:16]
            if item.lr is not None:
                inputs["lr"] = item.lr.read_bytes()
            extra_hash = inputs_hash(item)
        except Exception as exc:
            where = f"GT {item.gt}" + (f" / SR {item.sr}" if item.paired else "")
            error = f"{where}: {_error_message(exc)}"
            inputs = {}
        task = ItemTask(item, inputs, [], error, first_visit=not waiting)
        deferred = False
        for degradation, level, model, model_key in self._grid(item):
            if not waiting:
                self.on_visit(f"{item.id} · {degradation}@{level:g} · {model}")
            degradation_key = self.selection.keys.get(
                ("degradation", degradation), PluginKey(degradation)
            )
            s = self.selection
            key = CellKey(
                s.dataset, item.id, gt_hash, extra_hash, degradation_key, level, s.scale,
                s.seed, model_key,
            )  # fmt: skip
            todo = self._claim_todo(key, waiting)
            deferred |= todo is None
            if todo:
                task.cells.append(CellTask(degradation, level, model, key, todo))
                self._outstanding.add(cell_token(key))
        if deferred:
            self._deferred.append(item)
        return task

    def _grid(self, item: Item) -> Iterator[tuple[str, float, str, PluginKey]]:
        """(degradation, level, model, model key) of every cell of ``item``: a paired item
        has one cell keyed by its labels (no model ran, so no options either); an item with
        a given LR one level per model."""
        if item.paired:
            level = 1.0 if item.level is None else item.level
            model = item.model or GIVEN_SR
            yield item.degradation or GIVEN_SR, level, model, PluginKey(model)
            return
        grid = [(GIVEN_LR, 1.0)] if item.lr is not None else self.selection.grid
        for degradation, level in grid:
            for model in self.selection.models:
                yield degradation, level, model, self.selection.keys["sr_model", model]

    def _missing(self, cell: CellKey) -> list[str]:
        done = self.store.finished_metrics(cell)
        keys = self.selection.keys
        return [m for m in self.selection.metrics if keys["metric", m].key not in done]

    def _claim_todo(self, cell: CellKey, waiting: bool) -> list[str] | None:
        """The metrics still missing for ``cell``, with the cell claimed when there are
        any; None if another live run holds it (with ``waiting``, poll until it is stored
        or free).

        Missing metrics are read again under the claim: the other run stores its rows
        before it releases, so nothing is computed twice."""
        token, metrics = cell_token(cell), self.selection.metrics
        while True:
            todo = self._missing(cell)
            if todo and self.store.claim(token, self.owner, self.lease_s):
                todo = self._missing(cell)
                if todo:
                    self.skipped += len(metrics) - len(todo)
                    return todo
                self.store.release(token, self.owner)
            if not todo:
                self.skipped += len(metrics)
                return []
            if not waiting:
                return None
            time.sleep(CLAIM_POLL_S)
