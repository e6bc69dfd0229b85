"""Build a plugin manager and the registry of everything plugins provide.

Built-in plugins are registered exactly like third-party ones. Each entry point and each
hook implementation runs inside its own error boundary: a broken plugin is listed in
``Registry.problems`` (and by ``semfid-bench plugins``) instead of taking the others down,
unless strict mode turns problems into errors. An implementation named like no hook (a
misspelled ``register_sr_modelz``) is such a problem too.

Environment variables:

- ``SEMFID_BENCH_LOAD_PLUGINS``: comma-separated entry-point names to load; unset loads
  all, empty loads none (built-ins always load).
- ``SEMFID_BENCH_STRICT_PLUGINS=1``: fail on the first plugin problem.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from semfid_bench.plugin_api import hookspecs
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.registry import REGISTRARS, Registry
from semfid_bench.plugins import DEFAULT_PLUGINS

if TYPE_CHECKING:
    import typer

BUILTIN_SOURCE = "semfid-bench (built-in)"
HOOKS = (*REGISTRARS, "register_commands")


@dataclass
class LoadedPlugins:
    """A plugin manager, where each plugin came from, and what failed to load."""

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def strict_from_env() -> bool:
    """Whether ``SEMFID_BENCH_STRICT_PLUGINS`` turns plugin problems into errors."""
    return os.environ.get("SEMFID_BENCH_STRICT_PLUGINS", "") not in ("", "0", "false")


def _entry_point_source(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def make_plugin_manager(
    *, load_entry_points: bool = True, strict: bool | None = None
) -> LoadedPlugins:
    """A fresh plugin manager with the built-ins and the entry-point plugins registered."""
    strict = strict_from_env() if strict is None else strict
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
    """Call every ``register_*`` hook through pluggy, each plugin in its own error boundary.

    Each plugin's implementation is called on its own (``pm.subset_hook_caller`` without the
    other plugins' implementations), with a registrar that attributes what it adds to that
    plugin; wrappers (``wrapper=True`` / ``hookwrapper=True``) wrap every plugin's call (what
    a wrapper adds is attributed to the plugin whose call it wraps). One implementation that
    raises is listed in ``Registry.problems`` and the others still run.
    Order: ``tryfirst`` implementations, then the others in registration order (built-ins
    first), then ``trylast`` ones. The first registration of a name is kept, so installing
    a plugin never silently replaces a built-in: its duplicate is listed as a problem
    unless it claims the name with ``tryfirst``.
    """
    strict = strict_from_env() if strict is None else strict
    loaded = make_plugin_manager(strict=strict) if loaded is None else loaded
    registry = Registry(problems=list(loaded.problems), strict=strict)
    for message in unknown_hook_problems(loaded):
        if strict:
            raise PluginError(message)
        registry.problems.append(message)
    for hook_name, registrar_cls in REGISTRARS.items():
        for call, source, plugin_name in _each_implementation(loaded, hook_name):
            try:
                call(register=registrar_cls(registry, source))
            except Exception as exc:
                message = f"{source} ({plugin_name}): {hook_name} failed: {exc}"
                if strict:
                    raise PluginError(message) from exc
                registry.problems.append(message)
    return registry


def add_plugin_commands(app: typer.Typer, loaded: LoadedPlugins) -> list[str]:
    """Let each plugin add its commands to ``app`` (hook ``register_commands``), one plugin at
    a time: a plugin whose hook raises, or that reuses a command name, is left out and listed
    in the returned problems while the others' commands are added."""
    problems = []
    for call, source, plugin_name in _each_implementation(loaded, "register_commands"):
        taken = _command_names(app.registered_commands, app.registered_groups)
        before = len(app.registered_commands), len(app.registered_groups)
        try:
            call(app=app)
        except Exception as exc:
            problems.append(f"{source} ({plugin_name}): register_commands failed: {exc}")
            del app.registered_commands[before[0] :], app.registered_groups[before[1] :]
            continue
        added = app.registered_commands[before[0] :], app.registered_groups[before[1] :]
        clash = _command_names(*added) & taken
        if clash:
            problems.append(
                f"{source} ({plugin_name}): register_commands reuses the command name(s) "
                f"{', '.join(sorted(clash))}; its commands are left out."
            )
            del app.registered_commands[before[0] :], app.registered_groups[before[1] :]
    return problems


def _command_names(commands: list[Any], groups: list[Any]) -> set[str]:
    """The names typer will show for registered commands and sub-apps."""
    names = {c.name or c.callback.__name__.replace("_", "-") for c in commands}
    return names | {g.name or g.typer_instance.info.name for g in groups}


def _each_implementation(
    loaded: LoadedPlugins, hook_name: str
) -> Iterator[tuple[pluggy.HookCaller, str, str]]:
    """For each plugin's implementation of ``hook_name``, in call order: a caller of that
    implementation alone (wrappers included), its source and its plugin name."""
    impls = getattr(loaded.pm.hook, hook_name).get_hookimpls()
    plain = [impl for impl in impls if not (impl.wrapper or impl.hookwrapper)]
    for impl in _call_order(plain):
        others = [other.plugin for other in plain if other is not impl]
        call = loaded.pm.subset_hook_caller(hook_name, remove_plugins=others)
        yield call, loaded.sources.get(impl.plugin_name, impl.plugin_name), impl.plugin_name


def _call_order(impls: list[pluggy.HookImpl]) -> list[pluggy.HookImpl]:
    """``tryfirst`` (as pluggy orders them), the rest first-registered first, ``trylast``."""
    first = [impl for impl in reversed(impls) if impl.tryfirst]
    last = [impl for impl in reversed(impls) if impl.trylast]
    return [*first, *(i for i in impls if not (i.tryfirst or i.trylast)), *last]


def unknown_hook_problems(loaded: LoadedPlugins) -> list[str]:
    """One message per hook implementation whose name is not a semfid-bench hook (a typo
    such as ``register_sr_modelz`` would otherwise be silently ignored)."""
    try:
        loaded.pm.check_pending()
    except pluggy.PluginValidationError:
        pass
    else:
        return []
    problems = []
    for name, caller in vars(loaded.pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            source = loaded.sources.get(impl.plugin_name, impl.plugin_name)
            close = difflib.get_close_matches(name, HOOKS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"{source} ({impl.plugin_name}): unknown hook {name!r}{hint}; "
                f"semfid-bench hooks are {', '.join(HOOKS)}."
            )
    return problems
