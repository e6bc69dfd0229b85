"""Declared facts about plugins: what each one is, independent of loading it.

Specs are frozen and cheap; the leaderboard, the CLI and the runner read them without
importing any model code. Each validates its fields on construction, so a mistake in a
plugin (``scales=4`` for ``scales=(4,)``) is reported at registration, naming the spec and
the field, instead of failing later in a run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from semfid_bench.plugin_api.errors import PluginError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
NAME_MAX_LENGTH = 64
MAX_DECIMALS = 8
REDUCER_PATTERN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class SpecError(PluginError, ValueError):
    """A spec field has a wrong type or value."""


def _fail(spec: Any, field_name: str, what: str, value: Any) -> SpecError:
    label = getattr(spec, "name", None) if field_name not in ("name", "prefix") else None
    which = f"{type(spec).__name__} {label!r}" if isinstance(label, str) else type(spec).__name__
    return SpecError(f"{which}: {field_name} must be {what}, got {value!r}.")


def _check_name(spec: Any, field_name: str, value: Any, *, namespaced: bool = False) -> None:
    """Names end up in file names, terminals, markdown and HTML: a conservative alphabet."""
    parts = value.split(":") if isinstance(value, str) else []
    ok = (
        isinstance(value, str)
        and len(value) <= NAME_MAX_LENGTH
        and len(parts) <= (2 if namespaced else 1)
        and all(NAME_PATTERN.fullmatch(part) for part in parts)
    )
    if not ok:
        allowed = "letters, digits and . _ + - (starting with a letter or digit)"
        colon = ", optionally PREFIX:NAME" if namespaced else ""
        raise _fail(spec, field_name, f"a non-empty string of {allowed}{colon}, at most "
                    f"{NAME_MAX_LENGTH} characters", value)  # fmt: skip


def _check_bool(spec: Any, field_name: str) -> None:
    value = getattr(spec, field_name)
    if not isinstance(value, bool):
        raise _fail(spec, field_name, "True or False", value)


def _check_text(spec: Any, *field_names: str) -> None:
    """One printable line: text fields are shown in terminals, markdown and HTML."""
    for field_name in field_names:
        value = getattr(spec, field_name)
        if not isinstance(value, str) or not value.isprintable():
            raise _fail(spec, field_name, "one line of printable text", value)


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _as_tuple(spec: Any, field_name: str, what: str, check) -> None:
    """Normalise a list/tuple field to a tuple after checking every element."""
    value = getattr(spec, field_name)
    if not isinstance(value, tuple | list) or not value or not all(map(check, value)):
        raise _fail(spec, field_name, what, value)
    object.__setattr__(spec, field_name, tuple(value))


def _check_gpu_memory(spec: Any) -> None:
    value = spec.gpu_memory_gib
    if value is not None and not (_number(value) and math.isfinite(value) and value >= 0):
        raise _fail(spec, "gpu_memory_gib", "None or a number of GiB >= 0", value)


def _check_scales(spec: Any) -> None:
    def positive_int(s: Any) -> bool:
        return isinstance(s, int) and not isinstance(s, bool) and s >= 1

    _as_tuple(spec, "scales", "a non-empty tuple of positive integers, e.g. (4,)", positive_int)


@dataclass(frozen=True)
class MetricSpec:
    """A metric's name and how to read its values.

    :param name: the name users type (``--metrics psnr``).
    :param higher_is_better: direction; required, because leaderboards rank by it.
    :param full_reference: True if the metric compares SR against GT; False for
        no-reference metrics that score the SR image alone.
    :param value_range: (low, high), ``math.inf`` where unbounded.
    :param convention: how it is computed where papers differ (colour space, crop border).
    :param description: one line for ``semfid-bench plugins``.
    :param version: bumped by the author whenever the computation changes; part of every
        result key, so results of an older version are computed again, never mixed.
    :param requires: options that must be set for it to run (a trained checkpoint);
        ``--metrics all`` leaves it out until they are.
    :param needs_lr: True if ``score`` takes the LR image the run used (given or degraded,
        at its native size) as the keyword ``lr``; a paired item without an LR is then an
        error row of this metric.
    :param decimals: how many decimals reports show its means and CIs with (2 for PSNR in
        dB, as SR papers do); ``None`` lets the report derive them from the CI width.
    :param reduce: ``"module:function"`` of the reducer that makes this a set-level metric
        (FID, KID, PQ): its object is a :class:`~semfid_bench.plugin_api.interfaces.SetMetric` whose
        per-item statistics are stored, and ``function(stats, item_ids, options) -> float``
        turns one (dataset, degradation, level, model) slice of them into one value (see
        :mod:`semfid_bench.report.set_level`). Empty for per-item metrics.
    :param reduce_ci: True if a bootstrap CI over items is meaningful for the reduced value
        (mIoU, PQ); False where resampling items with repeats biases it (FID, KID).
    :param gpu_memory_gib: estimated peak GPU memory of one instance at default settings
        (see docs/scaling.md); None when unknown or negligible. ``--gpu-memory`` subtracts
        the metrics' estimates from the SR models' budget.
    """

    name: str
    higher_is_better: bool
    full_reference: bool = True
    value_range: tuple[float, float] = (-math.inf, math.inf)
    convention: str = ""
    description: str = ""
    version: int = 1
    requires: tuple[str, ...] = ()
    needs_lr: bool = False
    decimals: int | None = None
    reduce: str = ""
    reduce_ci: bool = False
    gpu_memory_gib: float | None = None

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name, namespaced=True)
        _check_gpu_memory(self)
        _check_bool(self, "higher_is_better")
        _check_bool(self, "full_reference")
        _check_bool(self, "needs_lr")
        _check_bool(self, "reduce_ci")
        if not isinstance(self.reduce, str) or (
            self.reduce and not REDUCER_PATTERN.fullmatch(self.reduce)
        ):
            raise _fail(self, "reduce", "'' or a 'package.module:function' path", self.reduce)
        _check_text(self, "convention", "description")
        _as_tuple(
            self, "value_range", "a (low, high) pair of numbers, math.inf where unbounded",
            lambda v: _number(v) and not math.isnan(v),
        )  # fmt: skip
        if len(self.value_range) != 2 or not self.value_range[0] < self.value_range[1]:
            raise _fail(self, "value_range", "a (low, high) pair with low < high", self.value_range)
        if self.decimals is not None and not (
            isinstance(self.decimals, int)
            and not isinstance(self.decimals, bool)
            and 0 <= self.decimals <= MAX_DECIMALS
        ):
            raise _fail(
                self, "decimals", f"None or an integer from 0 to {MAX_DECIMALS}", self.decimals
            )

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def set_level(self) -> bool:
        """True for a set-level metric (one value per slice, from per-item statistics)."""
        return bool(self.reduce)


@dataclass(frozen=True)
class SRModelSpec:
    """An SR model: its name and the upscaling factors it supports; ``version`` and
    ``gpu_memory_gib`` as for :class:`MetricSpec` (``--gpu-memory`` keeps models loaded
    while their estimates fit; see :mod:`semfid_bench.execution.executors.models`)."""

    name: str
    scales: tuple[int, ...] = (4,)
    description: str = ""
    version: int = 1
    gpu_memory_gib: float | None = None

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name)
        _check_scales(self)
        _check_gpu_memory(self)
        _check_text(self, "description")


@dataclass(frozen=True)
class DegradationSpec:
    """A degradation: its name, the scales it downsamples by and its default levels.

    A level is an intensity in [0, 1]; degradations with no notion of intensity have the
    single level 1.0. ``version`` as for :class:`MetricSpec`.
    """

    name: str
    scales: tuple[int, ...] = (4,)
    levels: tuple[float, ...] = (1.0,)
    description: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name)
        _check_scales(self)
        _as_tuple(
            self, "levels", "a non-empty tuple of numbers in [0, 1], e.g. (0.3, 0.6, 1.0)",
            lambda level: _number(level) and 0.0 <= level <= 1.0,
        )  # fmt: skip
        object.__setattr__(self, "levels", tuple(float(level) for level in self.levels))
        _check_text(self, "description")


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset whose factory returns the path of its manifest."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name)
        _check_text(self, "description")


@dataclass(frozen=True)
class CaptionerSpec:
    """A captioner: turns images into captions (for C2C, C2I and anything text-based);
    ``version`` as for :class:`MetricSpec` (it is part of the key of metrics using it)."""

    name: str
    description: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name)
        _check_text(self, "description")


@dataclass(frozen=True)
class PresetSpec:
    """A named, documented selection for ``semfid-bench run --preset NAME``: the datasets,
    metrics, degradations and options of a paper's table or a study. What a user passes on
    the command line replaces the preset's value; the run records the preset's name.

    :param datasets: registered dataset names, run one after another.
    :param metrics: metric names.
    :param models: SR models (empty: the user's ``--models``).
    :param degradations: degradations for items without a given LR (empty: the run's
        default); ``levels`` their levels (empty: each degradation's own).
    :param options: ``--set`` assignments (``KIND:NAME.KEY=VALUE``) fixing the conventions.
    :param reference: where the selection comes from (paper, table), one line.
    """

    name: str
    description: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    models: tuple[str, ...] = ()
    degradations: tuple[str, ...] = ()
    levels: tuple[float, ...] = ()
    options: tuple[str, ...] = ()
    reference: str = ""

    def __post_init__(self) -> None:
        _check_name(self, "name", self.name)
        _check_text(self, "description", "reference")

        def plugin_name(value: Any) -> bool:
            return isinstance(value, str) and bool(value) and value.isprintable()

        _as_tuple(self, "datasets", "a non-empty tuple of dataset names", plugin_name)
        _as_tuple(self, "metrics", "a non-empty tuple of metric names", plugin_name)
        for field_name in ("models", "degradations"):
            if getattr(self, field_name):
                _as_tuple(self, field_name, f"a tuple of {field_name[:-1]} names", plugin_name)
            object.__setattr__(self, field_name, tuple(getattr(self, field_name)))
        checks = {
            "levels": ("a tuple of levels in [0, 1]", _unit_number),
            "options": ("a tuple of KIND:NAME.KEY=VALUE strings", _assignment),
        }
        for field_name, (what, check) in checks.items():
            if getattr(self, field_name):
                _as_tuple(self, field_name, what, check)
            object.__setattr__(self, field_name, tuple(getattr(self, field_name)))


def _unit_number(value: Any) -> bool:
    return _number(value) and 0 <= value <= 1


def _assignment(value: Any) -> bool:
    return isinstance(value, str) and value.isprintable() and "=" in value and "." in value


@dataclass(frozen=True)
class NamespaceSpec:
    """A family of plugins resolved by name at use time (``pyiqa:<name>``).

    :param prefix: what names of the family start with, without the colon (``pyiqa``).
    :param description: one line for ``semfid-bench plugins``.
    """

    prefix: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self, "prefix", self.prefix)
        _check_text(self, "description")

    @property
    def name(self) -> str:
        return f"{self.prefix}:<name>"


@dataclass(frozen=True)
class Registration:
    """One registered plugin object: its spec, a lazy factory and where it came from."""

    kind: str
    spec: (
        MetricSpec
        | SRModelSpec
        | DegradationSpec
        | DatasetSpec
        | CaptionerSpec
        | PresetSpec
        | NamespaceSpec
    )
    factory: object = field(repr=False)
    source: str = "semfid-bench"

    @property
    def name(self) -> str:
        return self.spec.name
