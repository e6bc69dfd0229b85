"""Download everything a run will need, on a machine that has a network.

A plugin declares its downloads with an optional ``prefetch`` attribute on its factory
(a classmethod when the factory is a class; :class:`~semfid_bench.interfaces.Prefetches`),
called with the factory's keyword arguments except ``device`` and returning the paths it
made available. Plugins without one are instantiated once on the CPU, which fetches
whatever they load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semfid_bench.errors import SemfidError
from semfid_bench.interfaces import Prefetches
from semfid_bench.registry import Registry, resolve_factory

SCALED_KINDS = ("sr_model", "degradation")


@dataclass
class PrefetchOutcome:
    """What prefetching one plugin did."""

    kind: str
    name: str
    paths: list[Path] = field(default_factory=list)
    how: str = "prefetch"
    error: str | None = None


def prefetch_plugin(
    registry: Registry, kind: str, name: str, options: dict[str, Any], scale: int
) -> PrefetchOutcome:
    """Fetch one plugin's downloads; a known failure is recorded, not raised."""
    outcome = PrefetchOutcome(kind, name)
    kwargs = dict(options)
    if kind in SCALED_KINDS:
        kwargs["scale"] = scale
    try:
        factory = resolve_factory(registry.get(kind, name).factory)
        if isinstance(factory, Prefetches):
            outcome.paths = [Path(p) for p in factory.prefetch(**kwargs) or []]
        elif kind == "dataset":
            outcome.how, outcome.paths = "instantiate", [Path(factory())]
        else:
            outcome.how = "instantiate"
            registry.create(kind, name, device=_cpu(), **kwargs)
    except SemfidError as exc:
        outcome.error = f"{exc.message}\n{exc.hint}" if exc.hint else exc.message
    except Exception as exc:  # one broken plugin must not stop the other downloads
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def prefetch_all(
    registry: Registry,
    selection: dict[str, list[str]],
    options: dict[str, dict[str, Any]],
    scale: int = 4,
) -> list[PrefetchOutcome]:
    """Prefetch every selected plugin (``selection`` maps a kind to names; ``options`` are
    ``--set`` targets as for ``run``)."""
    from semfid_bench.options import scoped_options

    scoped = scoped_options(registry, options, selection)
    return [
        prefetch_plugin(registry, kind, name, scoped.get((kind, name), {}), scale)
        for kind, names in selection.items()
        for name in names
    ]


def _cpu():
    import torch

    return torch.device("cpu")
