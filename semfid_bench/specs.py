"""Declared facts about plugins: what each one is, independent of loading it.

Specs are frozen and cheap; the leaderboard, the CLI and the runner read them without
importing any model code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


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
    """

    name: str
    higher_is_better: bool
    full_reference: bool = True
    value_range: tuple[float, float] = (-math.inf, math.inf)
    convention: str = ""
    description: str = ""
    version: int = 1
    requires: tuple[str, ...] = ()

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass(frozen=True)
class SRModelSpec:
    """An SR model: its name and the upscaling factors it supports; ``version`` as for
    :class:`MetricSpec`."""

    name: str
    scales: tuple[int, ...] = (4,)
    description: str = ""
    version: int = 1


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


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset whose factory returns the path of its manifest."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class CaptionerSpec:
    """A captioner: turns images into captions (for C2C, C2I and anything text-based);
    ``version`` as for :class:`MetricSpec` (it is part of the key of metrics using it)."""

    name: str
    description: str = ""
    version: int = 1


@dataclass(frozen=True)
class NamespaceSpec:
    """A family of plugins resolved by name at use time (``pyiqa:<name>``).

    :param prefix: what names of the family start with, without the colon (``pyiqa``).
    :param description: one line for ``semfid-bench plugins``.
    """

    prefix: str
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.prefix}:<name>"


@dataclass(frozen=True)
class Registration:
    """One registered plugin object: its spec, a lazy factory and where it came from."""

    kind: str
    spec: MetricSpec | SRModelSpec | DegradationSpec | DatasetSpec | CaptionerSpec | NamespaceSpec
    factory: object = field(repr=False)
    source: str = "semfid-bench"

    @property
    def name(self) -> str:
        return self.spec.name
