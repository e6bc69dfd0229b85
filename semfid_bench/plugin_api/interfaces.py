"""The runtime interfaces plugin factories return.

Images cross every interface as float32 RGB tensors in [0, 1], shaped (B, 3, H, W), on the
run's device. Plugins may subclass these bases or just provide the same methods. The
optional methods a plugin may add are the Protocols at the end (``isinstance`` works on
them): :class:`ExplainsScores`, :class:`TracesSteps`, :class:`DeclaresWeights`,
:class:`ReportsExecution`, :class:`ReportsFallbacks`, :class:`ProducesArtefacts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from semfid_bench.datasets.manifest import Item
    from semfid_bench.plugin_api.artefacts import Artefact


@dataclass(frozen=True)
class UpscaleContext:
    """What an SR model may need besides pixels: which items the batch holds, how they
    were degraded, and the seeds to draw any randomness from (derived per item, so results
    never depend on batching or order).

    ``seed`` is the seed of a batch of one image; a batch of several items carries one
    seed per item in ``seeds`` (in ``items`` order). Models read them through
    :meth:`image_seeds` and draw each image's noise from its own seed, never from one
    generator shared by the batch.
    """

    items: Sequence[Item]
    degradation: str
    level: float
    seed: int
    seeds: Sequence[int] = ()

    def image_seeds(self, count: int) -> list[int]:
        """One seed per image of a batch of ``count``: ``seeds`` when given, else ``seed``
        (a batch of one, or images that share it); a clear error if ``seeds`` does not
        hold ``count`` seeds."""
        if not self.seeds:
            return [self.seed] * count
        if len(self.seeds) != count:
            raise ValueError(f"{len(self.seeds)} seeds for a batch of {count} images")
        return [int(seed) for seed in self.seeds]


class SRModel:
    """Turns a batch of LR images into SR images ``scale`` times larger."""

    scale: int

    def upscale(self, lr: torch.Tensor, context: UpscaleContext) -> torch.Tensor:
        """(B, 3, h, w) → (B, 3, h·scale, w·scale), values in [0, 1]."""
        raise NotImplementedError


class Degradation:
    """Turns one HR image into an LR one, deterministically from ``seed``."""

    scale: int

    def degrade(self, hr: torch.Tensor, *, level: float, seed: int) -> torch.Tensor:
        """(3, H, W) → (3, H/scale, W/scale). Same (image, level, seed) → same output."""
        raise NotImplementedError


class Metric:
    """Scores SR images, against GT for full-reference metrics.

    ``reference`` holds the GT-side work (features, captions, decompositions): the runner
    calls it once per item and reuses the result for every SR model and degradation level.
    So ``score`` gets a reference built from either B GTs (one per SR image) or one GT
    (shared by all B SR images, e.g. every model's output for one item): expand it with
    :func:`semfid_bench.plugin_api.reference_broadcast.broadcast_reference`.
    A no-reference metric (``MetricSpec(full_reference=False)``) gets ``gt=None``: its
    ``reference`` may still use ``items`` (ids, manifest fields), never the GT pixels.
    """

    def reference(self, gt: torch.Tensor | None, items: Sequence[Item]) -> Any:
        """GT-side features for ``items``; the default keeps the GT images themselves."""
        return gt

    def score(self, sr: torch.Tensor, reference: Any) -> torch.Tensor:
        """One score per image: shape (B,). ``reference`` is one item's (made from a
        (1, 3, H, W) GT): the runner scores several SR images of that item (models ×
        levels, ``--batch-size``) against it in one call; a tensor reference of batch 1
        (the default, the GT itself) arrives expanded to B, anything else as ``reference``
        returned it. A metric whose spec says
        ``needs_lr`` also takes ``lr=``: the (B, 3, h, w) LR images the SR images were
        made from."""
        raise NotImplementedError

    def score_with_details(
        self, sr: torch.Tensor, reference: Any, **inputs: Any
    ) -> tuple[torch.Tensor, list[dict] | None]:
        """Scores plus one JSON-able dict per image (stored with each result), or None.

        Metrics with something to explain (which concepts changed, the captions compared)
        override this; ``score`` stays the plain form. ``inputs`` are the keyword inputs
        the spec asks for (``lr`` with ``needs_lr``), passed on to ``score``.
        """
        return self.score(sr, reference, **inputs), None


class SetMetric(Metric):
    """A set-level metric (FID, KID, PQ): a value per (dataset, degradation, level, model)
    slice, not per image. Registered like a metric, with ``MetricSpec(reduce=...)``.

    The runner calls ``reference`` once per item (GT-side work, as for :class:`Metric`) and
    ``item_stats`` once per cell; each item's statistics are stored under the cell's
    complete key (table ``item_stats``), so runs resume and never recompute them. The
    spec's reducer, a plain function importable without this object's heavy
    dependencies, turns a slice's statistics (in item order, with the item ids and the
    metric's effective options) into one value when reports are made.
    """

    def item_stats(self, sr: torch.Tensor, reference: Any, **inputs: Any) -> list[dict[str, Any]]:
        """One statistics dict per image in ``sr`` (B, 3, H, W): values JSON-able or numpy
        arrays (any dtype and shape), nested in dicts or lists as needed. ``inputs`` as for
        :meth:`Metric.score_with_details` (``lr`` with ``needs_lr``)."""
        raise NotImplementedError

    def score(self, sr: torch.Tensor, reference: Any) -> torch.Tensor:
        """A set-level metric has no per-image score."""
        raise TypeError(f"{type(self).__name__} is set-level: it has item_stats, not score")


class Captioner:
    """Describes images in words.

    ``config`` names everything that determines a caption (model, revision, prompt,
    generation settings): it is recorded with results and keys the caption cache.
    """

    config: dict[str, Any]

    def caption(self, images: torch.Tensor) -> list[str]:
        """(B, 3, H, W) in [0, 1] → B captions."""
        raise NotImplementedError


# --- Optional plugin methods ---------------------------------------------------------------


@runtime_checkable
class ExplainsScores(Protocol):
    """A metric that explains its scores: the runner calls ``score_with_details`` instead of
    ``score`` when present and stores each image's dict with its result."""

    def score_with_details(
        self, sr: torch.Tensor, reference: Any
    ) -> tuple[torch.Tensor, list[dict[str, Any]] | None]:
        """(B,) scores and B JSON-able dicts (or None)."""
        ...


@runtime_checkable
class TracesSteps(Protocol):
    """A degradation that can say what it did: ``semfid-bench degrade`` prints the steps."""

    def trace(self, hr: torch.Tensor, *, level: float, seed: int) -> tuple[torch.Tensor, list]:
        """The same LR image as ``degrade``, and the applied steps (printable objects)."""
        ...


@runtime_checkable
class DeclaresWeights(Protocol):
    """A plugin factory (class or function) that declares its weight files: ``semfid-bench
    prefetch`` downloads them and ``doctor`` checks them, without instantiating the plugin."""

    def weight_files(self, **options: Any) -> dict[str, Callable[[], Path]]:
        """``{file name: lookup}`` for these options (``--set`` options, plus ``scale`` for
        SR models and degradations; never ``device``); each lookup returns the file's path,
        fetching it if needed (see :mod:`semfid_bench.plugin_api.weights`)."""
        ...


@runtime_checkable
class ReportsExecution(Protocol):
    """An SR model or metric that says how it actually computes (effective precision,
    tiling, ...) beyond the device type and its ``dtype`` attribute: the runner puts
    this into the key of every result it computes (see
    :mod:`semfid_bench.execution.plugin_execution`)."""

    def execution(self) -> dict[str, Any]:
        """A JSON-able dict, e.g. ``{"dtype": "float16", "tile": 0}``."""
        ...


@runtime_checkable
class ReportsFallbacks(Protocol):
    """An SR model that may depart from its settings for one call (smaller tiles after
    running out of memory): the runner asks after each ``upscale`` and stores the answer
    with that cell's results (``details.input_notes``) and in the run's notes."""

    def fallbacks(self) -> list[str]:
        """What the last ``upscale`` call did differently; empty if nothing."""
        ...


@runtime_checkable
class ProducesArtefacts(Protocol):
    """A metric factory (class or function) that says what one result's stored ``details``
    show a reader (concepts lost and gained, captions, maps: the dataclasses of
    :mod:`semfid_bench.plugin_api.artefacts`): ``publish`` puts them on its item pages, without
    instantiating the metric."""

    def artefacts(self, details: dict[str, Any]) -> list[Artefact]:
        """The artefacts in one result's details (empty if none); a ``ValueError`` naming
        the field for details of another shape (the page shows the message instead)."""
        ...
