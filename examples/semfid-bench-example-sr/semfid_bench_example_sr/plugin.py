"""Registration only: cheap to import, so `semfid-bench plugins` stays fast."""

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import SRModelSpec


@hookimpl
def register_sr_models(register):
    register.add(
        SRModelSpec(
            name="sharp-bicubic",
            scales=(2, 3, 4),
            description="Bicubic upscaling followed by an unsharp mask (example plugin).",
        ),
        "semfid_bench_example_sr.model:SharpBicubic",
    )
