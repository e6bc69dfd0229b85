"""Learned semantic metrics: the trained regressor and CLU checkpoints, and the
``semfid-bench train`` command that makes them."""

from __future__ import annotations

import math

import typer

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_MODULE = "semfid_bench.learned.metrics"


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    register.add(
        MetricSpec(
            name="regressor",
            gpu_memory_gib=0.5,
            higher_is_better=False,
            value_range=(0.0, math.inf),
            convention="ResNet-50 stage differences → learned score; needs "
            "--set regressor.checkpoint=PATH (from `semfid-bench train regressor`)",
            description="Learned semantic-change score (CLIP-LPIPS regressor).",
            requires=("checkpoint",),
        ),
        f"{_MODULE}:make_regressor",
    )
    register.add(
        MetricSpec(
            name="clu",
            gpu_memory_gib=0.5,
            higher_is_better=True,
            value_range=(0.0, 1.0),
            convention="mean of the CLU map (1 = kept, 0 = changed); needs "
            "--set clu.checkpoint=PATH; clu.maps_dir=DIR saves heatmaps",
            description="Learned local semantic-difference map (CLU), averaged.",
            requires=("checkpoint",),
        ),
        f"{_MODULE}:make_clu",
    )


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from semfid_bench.commands.train import train_app

    app.add_typer(train_app, name="train")
