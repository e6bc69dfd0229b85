"""Set-level metrics: FID and KID of the SR set against the GT set."""

from __future__ import annotations

import math

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_MODULE = "semfid_bench.metrics.fid"
_FORMULAS = "semfid_bench.metrics.fid_formulas"
_FEATURES = (
    "Inception-v3 pool3 of pytorch-fid's weights (pt_inception-2015-12-05), inputs 2x-1 after "
    "resize=clean (default: clean-fid's PIL bicubic to 299) or resize=legacy (pytorch-fid's "
    "torch bilinear); SR set vs GT set"
)


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    register.add(
        MetricSpec(
            name="fid",
            higher_is_better=False,
            value_range=(0.0, math.inf),
            convention=f"{_FEATURES}; Frechet distance as pytorch-fid's",
            description="Frechet Inception distance of the SR set to the GT set (set-level).",
            reduce=f"{_FORMULAS}:fid_reduce",
        ),
        f"{_MODULE}:FIDMetric",
    )
    register.add(
        MetricSpec(
            name="kid",
            higher_is_better=False,
            convention=f"{_FEATURES}; clean-fid's unbiased polynomial-kernel MMD over "
            "num_subsets subsets of max_subset_size items (options)",
            description="Kernel Inception distance of the SR set to the GT set (set-level).",
            reduce=f"{_FORMULAS}:kid_reduce",
        ),
        f"{_MODULE}:KIDMetric",
    )
