"""Typed registrars handed to the hooks, and the registry they fill."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.options import RESERVED_OPTIONS
from semfid_bench.plugin_api.specs import (
    CaptionerSpec,
    DatasetSpec,
    DegradationSpec,
    MetricSpec,
    NamespaceSpec,
    PresetSpec,
    Registration,
    SRModelSpec,
)
from semfid_bench.plugin_api.weights import cache_root

Factory = Callable[..., Any] | str

KINDS: dict[str, type] = {
    "sr_model": SRModelSpec,
    "degradation": DegradationSpec,
    "metric": MetricSpec,
    "dataset": DatasetSpec,
    "captioner": CaptionerSpec,
    "preset": PresetSpec,
}


def resolve_factory(factory: Factory) -> Callable[..., Any]:
    """Import a ``"module:attribute"`` factory string; callables pass through."""
    if callable(factory):
        return factory
    module_name, _, attribute = factory.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"Cannot import plugin factory {factory!r}: {exc}") from exc


@dataclass(frozen=True)
class PluginContext:
    """What a factory may need besides its options: the registry it was created from (to
    create the plugins it uses, e.g. a metric's captioner, respecting the run's plugins and
    allowlist), the run's device and semfid-bench's cache root. Passed as ``context=`` to
    factories that declare a ``context`` parameter."""

    registry: Registry
    device: Any = None
    cache_root: Path = field(default_factory=cache_root)


def accepts_context(factory: Callable[..., Any]) -> bool:
    """Whether a factory declares a ``context`` parameter (older factories do not)."""
    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    entries: dict[str, dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    namespaces: dict[str, dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    problems: list[str] = field(default_factory=list)
    strict: bool = False
    _shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def add(self, registration: Registration) -> None:
        """Add a registration; a duplicate name is a problem and the first one is kept."""
        table = self.entries[registration.kind]
        existing = table.get(registration.name)
        if existing is None:
            table[registration.name] = registration
            return
        message = (
            f"{registration.kind} {registration.name!r} from {registration.source} is "
            f"already registered by {existing.source}; the first registration is kept."
        )
        if self.strict:
            raise PluginError(message)
        self.problems.append(message)

    def add_namespace(self, registration: Registration) -> None:
        """Add a name family; its resolver runs when one of its names is first used."""
        table = self.namespaces[registration.kind]
        prefix = registration.spec.prefix
        if prefix in table:
            message = (
                f"{registration.kind} namespace {prefix!r} from {registration.source} is "
                f"already registered by {table[prefix].source}; the first registration is kept."
            )
            if self.strict:
                raise PluginError(message)
            self.problems.append(message)
            return
        table[prefix] = registration

    def get(self, kind: str, name: str) -> Registration:
        """A registration by name.

        ``PREFIX:member`` resolves through a registered namespace (``pyiqa:dists``);
        otherwise ``BASE:LABEL`` names an instance of plugin ``BASE``, so one plugin can run
        several times with different options, each stored under its own name
        (``--models precomputed:seesr,precomputed:pasd --set precomputed:seesr.dir=...``).
        """
        table = self.entries[kind]
        if name in table:
            return table[name]
        base, colon, label = name.partition(":")
        namespace = self.namespaces[kind].get(base) if colon else None
        if namespace is not None:
            spec, factory = resolve_factory(namespace.factory)(label)
            table[name] = Registration(kind, spec, factory, namespace.source)
            return table[name]
        if label and base in table:
            return table[base]
        known = ", ".join([*sorted(table), *self._namespace_names(kind)]) or "none"
        raise PluginError(
            f"Unknown {kind.replace('_', ' ')} {name!r}. Registered: {known}.",
            hint="`semfid-bench plugins` lists every plugin and any that failed to load.",
        )

    def names(self, kind: str) -> list[str]:
        """Registered names; namespaced names appear once resolved (a family is open)."""
        return sorted(self.entries[kind])

    def _namespace_names(self, kind: str) -> list[str]:
        return [r.name for r in self.namespaces[kind].values()]

    def namespace_registrations(self) -> Iterator[Registration]:
        """One registration per name family, for listings."""
        for table in self.namespaces.values():
            yield from table.values()

    def __iter__(self) -> Iterator[Registration]:
        for table in self.entries.values():
            yield from table.values()

    def create(
        self,
        kind: str,
        name: str,
        *,
        device: Any = None,
        scale: int | None = None,
        **options: Any,
    ) -> Any:
        """Instantiate a registered plugin object, importing its code only now.

        The factory gets ``scale`` and ``device`` where given, ``context`` (a
        :class:`PluginContext` on this registry) if it declares that parameter, and
        ``options``. Options the factory does not accept are refused with the ones it does.
        """
        factory = resolve_factory(self.get(kind, name).factory)
        if "context" in options:
            raise PluginError(
                f"{kind.replace('_', ' ')} {name!r}: 'context' is not an option; "
                "semfid-bench passes it to factories that declare it."
            )
        given = (("scale", scale), ("device", device))
        kwargs = {key: value for key, value in given if value is not None}
        kwargs |= options
        if accepts_context(factory):
            kwargs["context"] = PluginContext(self, device)
        _check_options(factory, kind, name, kwargs)
        return factory(**kwargs)

    def shared(self, kind: str, name: str, *, device: Any = None, **options: Any) -> Any:
        """One instance per kind, name, effective options and device for this registry's
        lifetime, so plugins that use the same heavy model (``c2c`` and ``c2i`` with one
        captioner) share it instead of loading a copy each; other options get their own."""
        from semfid_bench.plugin_api.options import effective_options

        effective = effective_options(self, kind, name, options)
        where = None if device is None else str(device)
        key = json.dumps([kind, name, effective, where], sort_keys=True, default=repr)
        if key not in self._shared:
            self._shared[key] = self.create(kind, name, device=device, **options)
        return self._shared[key]


def _check_options(factory: Callable[..., Any], kind: str, name: str, kwargs: dict) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in RESERVED_OPTIONS
        ]
        raise PluginError(
            f"{kind.replace('_', ' ')} {name!r} cannot take these options: {exc}.",
            hint=f"Options it accepts (--set {name}.KEY=VALUE): {', '.join(accepted) or 'none'}.",
        ) from None


class _Registrar:
    kind: str

    def __init__(self, registry: Registry, source: str) -> None:
        self._registry = registry
        self._source = source

    def add(self, spec: Any, factory: Factory) -> None:
        expected = KINDS[self.kind]
        if not isinstance(spec, expected):
            raise PluginError(
                f"{self._source}: register_{self.kind}s expects a {expected.__name__}, "
                f"got {type(spec).__name__}."
            )
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise PluginError(
                f"{self._source}: factory for {spec.name!r} must be a callable or a "
                f"'module:attribute' string, got {factory!r}."
            )
        self._registry.add(Registration(self.kind, spec, factory, self._source))


class SRModelRegistrar(_Registrar):
    """Passed to ``register_sr_models``."""

    kind = "sr_model"

    def add(self, spec: SRModelSpec, factory: Factory) -> None:
        super().add(spec, factory)


class DegradationRegistrar(_Registrar):
    """Passed to ``register_degradations``."""

    kind = "degradation"

    def add(self, spec: DegradationSpec, factory: Factory) -> None:
        super().add(spec, factory)


class MetricRegistrar(_Registrar):
    """Passed to ``register_metrics``."""

    kind = "metric"

    def add(self, spec: MetricSpec, factory: Factory) -> None:
        super().add(spec, factory)

    def add_namespace(self, spec: NamespaceSpec, resolver: Factory) -> None:
        """Register a family of metrics named ``PREFIX:<name>``.

        :param resolver: a callable or ``"module:attribute"`` string, called with the part
            after the colon when a user first names a member; returns ``(MetricSpec,
            factory)`` or raises :class:`~semfid_bench.plugin_api.errors.PluginError` for unknown
            names. Listing plugins never calls it.
        """
        if not isinstance(spec, NamespaceSpec):
            raise PluginError(
                f"{self._source}: add_namespace expects a NamespaceSpec, got {type(spec).__name__}."
            )
        self._registry.add_namespace(Registration(self.kind, spec, resolver, self._source))


class DatasetRegistrar(_Registrar):
    """Passed to ``register_datasets``."""

    kind = "dataset"

    def add(self, spec: DatasetSpec, factory: Factory) -> None:
        super().add(spec, factory)


class CaptionerRegistrar(_Registrar):
    """Passed to ``register_captioners``."""

    kind = "captioner"

    def add(self, spec: CaptionerSpec, factory: Factory) -> None:
        super().add(spec, factory)


class PresetRegistrar(_Registrar):
    """Passed to ``register_presets``."""

    kind = "preset"

    def add(self, spec: PresetSpec) -> None:
        super().add(spec, lambda: spec)


REGISTRARS: dict[str, type[_Registrar]] = {
    "register_sr_models": SRModelRegistrar,
    "register_degradations": DegradationRegistrar,
    "register_metrics": MetricRegistrar,
    "register_datasets": DatasetRegistrar,
    "register_captioners": CaptionerRegistrar,
    "register_presets": PresetRegistrar,
}
