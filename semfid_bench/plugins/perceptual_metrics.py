"""LPIPS, and every pyiqa metric by name (``pyiqa:<name>``)."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec, NamespaceSpec


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    register.add(
        MetricSpec(
            name="lpips",
            gpu_memory_gib=0.2,
            higher_is_better=False,
            value_range=(0.0, 1.0),
            convention="LPIPS v0.1, AlexNet, inputs [0, 1] scaled to [-1, 1] (= pyiqa lpips)",
            description="Learned perceptual image patch similarity (distance).",
        ),
        "semfid_bench.metrics.lpips:LPIPSMetric",
    )
    register.add_namespace(
        NamespaceSpec(
            prefix="pyiqa",
            description="Any pyiqa metric by name (FR or NR), direction from pyiqa's config; "
            "e.g. pyiqa:dists, pyiqa:niqe, pyiqa:musiq.",
        ),
        "semfid_bench.metrics.pyiqa_specs:resolve_pyiqa",
    )
