"""``semfid-bench plugins``: every registered plugin, by kind, with its source."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from semfid_bench.commands.common import console
from semfid_bench.escaping import console as escape
from semfid_bench.escaping import plain
from semfid_bench.plugin_api.errors import SemfidError


def plugins(
    options: Annotated[
        str | None,
        typer.Option(
            "--options", metavar="NAME", help="List the options of the plugin(s) named NAME."
        ),
    ] = None,
) -> None:
    """List every registered plugin by kind, with its source package."""
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    if options is not None:
        _print_options(registry, options)
        return
    table = Table("kind", "name", "source", "details")
    rows = [*registry, *registry.namespace_registrations()]
    for registration in sorted(rows, key=lambda r: (r.kind, r.name)):
        table.add_row(
            registration.kind,
            plain(registration.name),
            plain(registration.source),
            plain(_describe(registration.spec)),
        )
    console.print(table)
    if registry.problems:
        console.print("[red]Plugins that failed to load or register:[/]")
        for problem in registry.problems:
            console.print(f"  [red]•[/] {escape(problem)}")


def _describe(spec) -> str:
    from semfid_bench.plugin_api.specs import DegradationSpec, MetricSpec, SRModelSpec

    if isinstance(spec, MetricSpec):
        kind = "full-reference" if spec.full_reference else "no-reference"
        kind += ", set-level" if spec.set_level else ""
        return f"{spec.arrow} {kind}. {spec.description}"
    if isinstance(spec, SRModelSpec):
        return f"x{','.join(map(str, spec.scales))}. {spec.description}"
    if isinstance(spec, DegradationSpec):
        levels = ",".join(f"{lv:g}" for lv in spec.levels)
        return f"x{','.join(map(str, spec.scales))}, levels {levels}. {spec.description}"
    return spec.description


def _print_options(registry, name: str) -> None:
    """Each plugin called ``name`` (of any kind) with its options, defaults and types."""
    from semfid_bench.plugin_api.options import SCOPES, factory_options
    from semfid_bench.plugin_api.registry import resolve_factory

    scope = {kind: prefix for prefix, kind in SCOPES.items()}
    found = []
    for kind in registry.entries:
        try:
            found.append(registry.get(kind, name))
        except SemfidError:
            continue
    if not found:
        raise SemfidError(
            f"No plugin is named {name!r}.", hint="`semfid-bench plugins` lists them all."
        )
    for registration in found:
        infos, open_ended = factory_options(resolve_factory(registration.factory))
        target = f"{scope[registration.kind]}:{name}" if len(found) > 1 else name
        console.print(
            f"[bold]{registration.kind} {escape(name)}[/]: --set {escape(target)}.OPTION=VALUE"
        )
        table = Table("option", "default", "type")
        for info in infos:
            default = "(required)" if info.required else repr(info.default)
            table.add_row(plain(info.name), plain(default), plain(info.annotation))
        console.print(table if infos else "  no options")
        if open_ended:
            console.print(
                "  It also passes further options on to its implementation; their defaults "
                "are not visible here."
            )
