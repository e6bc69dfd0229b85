"""Download everything a run will need, on a machine that has a network.

A plugin declares its files with an optional ``weight_files`` attribute on its factory (a
static- or classmethod when the factory is a class;
:class:`~semfid_bench.plugin_api.interfaces.DeclaresWeights`), called with the factory's keyword
arguments except ``device``. It returns ``{name: lookup}``, each lookup a call of
:func:`~semfid_bench.plugin_api.weights.fetch_weights`, ``hf_snapshot`` or ``local_weights`` that
returns the file's path. ``prefetch`` runs every lookup (downloading what is missing);
``doctor`` runs them offline. Files only a person can download (Google Drive) are listed
with their URL and the ``--set`` option that takes them. Plugins without ``weight_files``
are instantiated once on the CPU, which fetches whatever they load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import DeclaresWeights
from semfid_bench.plugin_api.registry import Registry, resolve_factory
from semfid_bench.plugin_api.weights import ManualDownload, try_each

SCALED_KINDS = ("sr_model", "degradation")


@dataclass
class PrefetchOutcome:
    """What prefetching one plugin did."""

    kind: str
    name: str
    paths: list[Path] = field(default_factory=list)
    how: str = "weight_files"
    error: str | None = None
    manual: list[ManualDownload] = field(default_factory=list)


def plugin_factory(
    registry: Registry, kind: str, name: str, options: dict[str, Any], scale: int
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """A plugin's factory and the keyword arguments a run would give it (no device)."""
    kwargs = dict(options)
    if kind in SCALED_KINDS:
        kwargs["scale"] = scale
    return resolve_factory(registry.get(kind, name).factory), kwargs


def prefetch_plugin(
    registry: Registry, kind: str, name: str, options: dict[str, Any], scale: int
) -> PrefetchOutcome:
    """Fetch one plugin's downloads; a known failure is recorded, not raised."""
    outcome = PrefetchOutcome(kind, name)
    try:
        factory, kwargs = plugin_factory(registry, kind, name, options, scale)
        if isinstance(factory, DeclaresWeights):
            _record(outcome, try_each(factory.weight_files(**kwargs)))
        elif kind == "dataset":
            outcome.how, outcome.paths = "instantiate", [Path(factory())]
        else:
            outcome.how = "instantiate"
            registry.create(kind, name, device=_cpu(), **kwargs)
    except SemfidError as exc:
        outcome.error = _text(exc)
    except Exception as exc:  # one broken plugin must not stop the other downloads
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _record(outcome: PrefetchOutcome, results: dict[str, Path | WeightsUnavailableError]) -> None:
    errors = []
    for result in results.values():
        if isinstance(result, Path):
            outcome.paths.append(result)
        elif isinstance(result, ManualDownload):
            outcome.manual.append(result)
        else:
            errors.append(_text(result))
    outcome.error = "\n".join(errors) or None


def _text(exc: SemfidError) -> str:
    return f"{exc.message}\n{exc.hint}" if exc.hint else exc.message


def prefetch_all(
    registry: Registry,
    selection: dict[str, list[str]],
    options: dict[str, dict[str, Any]],
    scale: int = 4,
) -> list[PrefetchOutcome]:
    """Prefetch every selected plugin (``selection`` maps a kind to names; ``options`` are
    ``--set`` targets as for ``run``)."""
    from semfid_bench.plugin_api.options import scoped_options

    scoped = scoped_options(registry, options, selection)
    return [
        prefetch_plugin(registry, kind, name, scoped.get((kind, name), {}), scale)
        for kind, names in selection.items()
        for name in names
    ]


def _cpu():
    import torch

    return torch.device("cpu")
