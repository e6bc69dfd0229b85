"""The local executor's failure isolation: a batch that raises is computed image by image
(only the bad image's cell is an error row, the plugin named in the notes), and a failed
``--save-images`` write is an error row of that cell, the run going on."""

from __future__ import annotations

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import SRModelSpec


class Picky:
    """``picky``: nearest upscaling that refuses the item ``chelsea``."""

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        class Refusing(InterpolationUpscaler):
            def upscale(self, lr, context):
                if any(item.id == "chelsea" for item in context.items):
                    raise RuntimeError("chelsea refused")
                return super().upscale(lr, context)

        register.add(SRModelSpec(name="picky"), Refusing)


def _config(crops_manifest, **changes) -> RunConfig:
    return RunConfig(
        models=["picky"],
        metrics=["psnr"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        **changes,
    )


@pytest.mark.parametrize("batch_size", [1, 2])
def test_a_raising_batch_costs_only_the_bad_images_cell(
    make_registry, store, crops_manifest, batch_size
):
    config = _config(crops_manifest, batch_size=batch_size, chunk_items=2)
    summary = run_benchmark(config, make_registry(Picky()), store)
    rows = store.results(include_errors=True).set_index("item_id")
    assert "chelsea refused" in rows.loc["chelsea", "error"]
    assert rows.loc["coffee", "value"] > 0 and summary.computed == 1
    fell_back = [n for n in summary.notes if "computed image by image" in n]
    assert len(fell_back) == (batch_size > 1) and all("'picky'" in n for n in fell_back)


def test_a_failed_image_save_is_an_error_row_and_the_run_goes_on(
    make_registry, store, crops_manifest, tmp_path
):
    blocked = tmp_path / "out"
    blocked.write_text("a file where the images folder should be")
    config = _config(crops_manifest, save_images=blocked)
    config.models = ["bicubic"]
    summary = run_benchmark(config, make_registry(), store)
    rows = store.results(include_errors=True)
    assert len(rows) == 2 and rows["error"].notna().all() and len(summary.errors) == 2
