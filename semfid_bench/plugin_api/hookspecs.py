"""The plugin API: one hook per kind of plugin.

A plugin is a module (or any object) with functions decorated by ``hookimpl`` and named
like the hooks below. Each ``register_<kind>`` hook receives a typed registrar; call its
``add`` method once per thing the plugin provides. ``register_commands`` receives the CLI
app instead, to add commands. Register third-party plugins through the entry-point group
``semfid_bench``::

    [project.entry-points.semfid_bench]
    my_sr = "my_package.plugin"

Hooks are called through pluggy (one plugin at a time, so a failing one is listed as a
problem without taking the others down): pluggy passes only the arguments an implementation
names, so hooks can gain parameters later without breaking existing plugins, and
``hookimpl(tryfirst=True)``, ``trylast`` and wrappers work. An implementation named like no
hook below (a typo) is reported as a plugin problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from semfid_bench.plugin_api.registry import (
        CaptionerRegistrar,
        DatasetRegistrar,
        DegradationRegistrar,
        MetricRegistrar,
        PresetRegistrar,
        SRModelRegistrar,
    )

PROJECT = "semfid_bench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_sr_models(register: SRModelRegistrar) -> None:
    """Register SR models.

    :param register: call ``register.add(SRModelSpec(...), factory)``; the factory is a
        callable or a ``"module:attribute"`` string, called as
        ``factory(scale=..., device=..., **options)`` and returning an
        :class:`~semfid_bench.plugin_api.interfaces.SRModel`.
    """


@hookspec
def register_degradations(register: DegradationRegistrar) -> None:
    """Register degradations (HR → LR).

    :param register: call ``register.add(DegradationSpec(...), factory)``; the factory is
        called as ``factory(scale=..., device=..., **options)`` and returns a
        :class:`~semfid_bench.plugin_api.interfaces.Degradation`.
    """


@hookspec
def register_metrics(register: MetricRegistrar) -> None:
    """Register metrics.

    :param register: call ``register.add(MetricSpec(...), factory)``; the factory is
        called as ``factory(device=..., **options)`` and returns a
        :class:`~semfid_bench.plugin_api.interfaces.Metric`. ``register.add_namespace(NamespaceSpec(
        prefix), resolver)`` registers a family ``PREFIX:<name>`` whose members are resolved
        by ``resolver(name) -> (MetricSpec, factory)`` when first used.
    """


@hookspec
def register_datasets(register: DatasetRegistrar) -> None:
    """Register named datasets.

    :param register: call ``register.add(DatasetSpec(...), factory)``; the factory is
        called with no arguments and returns the path of the dataset's manifest.
    """


@hookspec
def register_captioners(register: CaptionerRegistrar) -> None:
    """Register captioners (images → text), used by caption-based metrics.

    :param register: call ``register.add(CaptionerSpec(...), factory)``; the factory is
        called as ``factory(device=..., **options)`` and returns a
        :class:`~semfid_bench.plugin_api.interfaces.Captioner`.
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the ``semfid-bench`` command line.

    :param app: the CLI's :class:`typer.Typer`: call ``app.command("name")(function)`` or
        ``app.add_typer(sub_app, name="name")``. Called when the CLI starts, before any
        command runs, so import heavy packages (torch, ...) inside the command functions,
        never at module level: ``semfid-bench --help`` must stay fast. A name that is taken
        already is refused and reported as a plugin problem.
    """


@hookspec
def register_presets(register: PresetRegistrar) -> None:
    """Register presets: named selections of datasets, metrics and conventions for
    ``semfid-bench run --preset NAME`` (a paper's table, a study's metric set).

    :param register: call ``register.add(PresetSpec(...))``.
    """
