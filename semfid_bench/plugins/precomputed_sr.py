"""SR outputs produced elsewhere (``precomputed``), read from a folder, so any model can be
scored and ranked."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import SRModelRegistrar
from semfid_bench.plugin_api.specs import SRModelSpec


@hookimpl
def register_sr_models(register: SRModelRegistrar) -> None:
    register.add(
        SRModelSpec(
            name="precomputed",
            scales=(2, 3, 4, 8),
            description="SR images made elsewhere: --set precomputed.dir=FOLDER "
            "(FOLDER/<degradation>@<level>/<item id>.png); precomputed:NAME for several.",
        ),
        "semfid_bench.sr_models.precomputed:PrecomputedOutputs",
    )
