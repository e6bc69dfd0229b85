"""Build a plugin manager and the registry of everything plugins provide.

Built-in plugins are registered exactly like third-party ones. Each entry point and each
hook implementation runs inside its own error boundary: a broken plugin is listed in
``Registry.problems`` (and by ``semfid-bench plugins``) instead of taking the others down,
unless strict mode turns problems into errors.

Environment variables:

- ``SEMFID_BENCH_LOAD_PLUGINS``: comma-separated entry-point names to load; unset loads
  all, empty loads none (built-ins always load).
- ``SEMFID_BENCH_STRICT_PLUGINS=1``: fail on the first plugin problem.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

import pluggy

from semfid_bench import hookspecs
from semfid_bench.errors import PluginError
from semfid_bench.plugins import DEFAULT_PLUGINS
from semfid_bench.registry import REGISTRARS, Registry

BUILTIN_SOURCE = "semfid-bench (built-in)"


@dataclass
class LoadedPlugins:
    """A plugin manager, where each plugin came from, and what failed to load."""

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _strict_from_env() -> bool:
    return os.environ.get("SEMFID_BENCH_STRICT_PLUGINS", "") not in ("", "0", "false")


def _entry_point_source(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def make_plugin_manager(
    *, load_entry_points: bool = True, strict: bool | None = None
) -> LoadedPlugins:
    """A fresh plugin manager with the built-ins and the entry-point plugins registered."""
    strict = _strict_from_env() if strict is None else strict
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(pm)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        loaded.sources[module_name] = BUILTIN_SOURCE
    if not load_entry_points:
        return loaded
    allow = os.environ.get("SEMFID_BENCH_LOAD_PLUGINS")
    allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
    for ep in entry_points(group=hookspecs.PROJECT):
        if (allowed is not None and ep.name not in allowed) or pm.has_plugin(ep.name):
            continue
        source = _entry_point_source(ep)
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            message = f"{source}: entry point {ep.name!r} ({ep.value}) failed to load: {exc!r}"
            if strict:
                raise PluginError(message) from exc
            loaded.problems.append(message)
            continue
        loaded.sources[ep.name] = source
    return loaded


def build_registry(loaded: LoadedPlugins | None = None, *, strict: bool | None = None) -> Registry:
    """Call every ``register_*`` hook implementation, each in its own error boundary."""
    strict = _strict_from_env() if strict is None else strict
    loaded = make_plugin_manager(strict=strict) if loaded is None else loaded
    registry = Registry(problems=list(loaded.problems), strict=strict)
    for hook_name, registrar_cls in REGISTRARS.items():
        for impl in getattr(loaded.pm.hook, hook_name).get_hookimpls():
            source = loaded.sources.get(impl.plugin_name, impl.plugin_name)
            try:
                impl.function(register=registrar_cls(registry, source))
            except Exception as exc:
                message = f"{source} ({impl.plugin_name}): {hook_name} failed: {exc}"
                if strict:
                    raise PluginError(message) from exc
                registry.problems.append(message)
    return registry
