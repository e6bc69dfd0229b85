"""``semfid-bench plugins``: every registered plugin, by kind, with its source."""

from __future__ import annotations

from rich.table import Table

from semfid_bench.commands.common import console
from semfid_bench.escaping import console as escape
from semfid_bench.escaping import plain


def plugins() -> None:
    """List every registered plugin by kind, with its source package."""
    from semfid_bench.plugin_manager import build_registry

    registry = build_registry()
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
    from semfid_bench.specs import DegradationSpec, MetricSpec, SRModelSpec

    if isinstance(spec, MetricSpec):
        kind = "full-reference" if spec.full_reference else "no-reference"
        return f"{spec.arrow} {kind}. {spec.description}"
    if isinstance(spec, SRModelSpec):
        return f"x{','.join(map(str, spec.scales))}. {spec.description}"
    if isinstance(spec, DegradationSpec):
        levels = ",".join(f"{lv:g}" for lv in spec.levels)
        return f"x{','.join(map(str, spec.scales))}, levels {levels}. {spec.description}"
    return spec.description
