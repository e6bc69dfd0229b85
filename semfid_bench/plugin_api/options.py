"""Plugin options: what a plugin runs with, how ``--set`` targets find their plugin, and
how an option variant is labelled.

A result's key holds each plugin's *effective* options: the defaults of its factory's
signature merged with what the user set, so a default that changes in a new version never
mixes with rows computed under the old one. ``device``, ``scale`` and the factory context
are given by the runner, never by the user.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semfid_bench.plugin_api.errors import SemfidError

if TYPE_CHECKING:
    from semfid_bench.plugin_api.registry import Registry

RESERVED_OPTIONS = frozenset({"device", "scale", "context"})
"""Factory parameters the runner supplies (``--device``, ``--scale``), never ``--set``."""

SCOPES = {"model": "sr_model", "degradation": "degradation", "metric": "metric"}
"""``--set KIND:NAME.KEY=VALUE`` prefixes and the registry kind each names."""


@dataclass(frozen=True)
class OptionInfo:
    """One option a factory accepts: its name, default (``REQUIRED`` if none) and type."""

    name: str
    default: Any
    annotation: str

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def factory_options(factory: Callable[..., Any]) -> tuple[list[OptionInfo], bool]:
    """The keyword options ``factory`` accepts (reserved ones left out), and whether it
    also takes arbitrary ``**kwargs`` (whose defaults cannot be seen)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return [], True
    options, open_ended = [], False
    for p in parameters:
        if p.kind == p.VAR_KEYWORD:
            open_ended = True
        elif p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in RESERVED_OPTIONS:
            annotation = "" if p.annotation is p.empty else p.annotation
            if not isinstance(annotation, str):
                annotation = getattr(annotation, "__name__", str(annotation))
            options.append(OptionInfo(p.name, p.default, annotation))
    return options, open_ended


def _json_value(value: Any) -> Any:
    """``value`` as it is stored in a key (JSON; other objects as text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def effective_options(
    registry: Registry, kind: str, name: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The options plugin ``name`` runs with: its factory's signature defaults, overridden
    by ``options``. A value equal to the default is stored as the default, so setting an
    option to its default names the same result.

    A ``captioner`` option naming a registered captioner is expanded: ``captioner_options``
    becomes that captioner's effective options and ``captioner_version`` its spec version,
    so everything that determines a caption is in the key of the metric that uses it.
    """
    from semfid_bench.plugin_api.registry import resolve_factory

    factory = resolve_factory(registry.get(kind, name).factory)
    infos, _ = factory_options(factory)
    effective = {i.name: _json_value(i.default) for i in infos if not i.required}
    for key, value in (options or {}).items():
        value = _json_value(value)
        if key not in effective or effective[key] != value:
            effective[key] = value
    captioner = effective.get("captioner")
    if (
        kind != "captioner"
        and isinstance(captioner, str)
        and captioner in registry.entries.get("captioner", {})
    ):
        effective["captioner_options"] = effective_options(
            registry, "captioner", captioner, effective.get("captioner_options") or {}
        )
        effective["captioner_version"] = registry.get("captioner", captioner).spec.version
    return effective


def non_default(effective: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The options that differ from the defaults: what tells a variant apart."""
    return {k: v for k, v in effective.items() if k not in defaults or defaults[k] != v}


def variant_label(name: str, options: dict[str, Any], version: int = 1) -> str:
    """A readable name for a plugin variant, e.g. ``psnr-y[crop_border=0]``; defaults are
    not shown, a spec version above 1 is (``clip@v2``)."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    label = name
    if options:
        label += "[" + ", ".join(f"{k}={text(v)}" for k, v in sorted(options.items())) + "]"
    return label + (f"@v{version}" if isinstance(version, int) and version > 1 else "")


def _accepts(registry: Registry, kind: str, name: str, keys: set[str]) -> bool:
    from semfid_bench.plugin_api.registry import resolve_factory

    infos, open_ended = factory_options(resolve_factory(registry.get(kind, name).factory))
    return open_ended or keys <= {i.name for i in infos}


def scoped_options(
    registry: Registry,
    options: dict[str, dict[str, Any]],
    selection: dict[str, list[str]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """``--set`` options by (kind, name) of the selected plugin they are for.

    A target is ``NAME`` or ``KIND:NAME`` (KIND one of model, degradation, metric). A bare
    name that several selected plugins share (``bsrgan`` is an SR model and a degradation)
    goes to the one whose factory accepts the options; if that is not exactly one, it is
    refused with the scoped forms. A target that names no selected plugin is refused (a
    typo would otherwise be ignored), as is a reserved option (``device``, ``scale``).
    """
    resolved: dict[tuple[str, str], dict[str, Any]] = {}
    for target, values in options.items():
        reserved = sorted(RESERVED_OPTIONS & set(values))
        if reserved:
            raise SemfidError(
                f"--set {target}.{reserved[0]}: {', '.join(reserved)} is set for the whole "
                "run, not per plugin.",
                hint="Use --device / --scale.",
            )
        prefix, colon, rest = target.partition(":")
        scoped = bool(colon) and prefix in SCOPES
        name = rest if scoped else target
        kinds = [SCOPES[prefix]] if scoped else list(SCOPES.values())
        chosen = [kind for kind in kinds if name in selection.get(kind, [])]
        if not chosen:
            selected = ", ".join(n for names in selection.values() for n in names) or "none"
            raise SemfidError(
                f"--set {target}.…: no selected plugin is named {name!r}.",
                hint=f"Selected plugins: {selected}.",
            )
        if len(chosen) > 1:
            chosen = [k for k in chosen if _accepts(registry, k, name, set(values))] or chosen
        if len(chosen) > 1:
            scopes = [p for p, kind in SCOPES.items() if kind in chosen]
            raise SemfidError(
                f"--set {target}.…: {name!r} names several selected plugins "
                f"({', '.join(scopes)}) and the options do not tell which.",
                hint="Say which: "
                + " or ".join(f"--set {p}:{name}.KEY=VALUE" for p in scopes)
                + ".",
            )
        key = (chosen[0], name)
        resolved[key] = {**resolved.get(key, {}), **values}
    return resolved


def missing_required(
    registry: Registry, kind: str, name: str, options: dict[str, Any]
) -> list[str]:
    """Options the plugin's spec says it ``requires`` that ``options`` leaves unset."""
    spec = registry.get(kind, name).spec
    return [key for key in getattr(spec, "requires", ()) if options.get(key) in (None, "")]
