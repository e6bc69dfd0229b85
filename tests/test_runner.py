"""The runner end to end on the sample photographs."""

import json

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.specs import MetricSpec, SRModelSpec


class FailsOn:
    """Bicubic upscaling that raises for one item, to test error rows."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        item_id = self.item_id

        class Flaky(InterpolationUpscaler):
            def upscale(self, lr, context):
                if context.items[0].id == item_id:
                    raise RuntimeError("simulated crash")
                return super().upscale(lr, context)

        register.add(SRModelSpec(name="flaky"), Flaky)


class CountingMetric(Metric):
    """Mean absolute error that counts how often GT-side work is done."""

    references = 0

    def __init__(self, device=None):
        pass

    def reference(self, gt, items):
        CountingMetric.references += 1
        return gt.mean(dim=1)

    def score(self, sr, reference):
        return (sr.mean(dim=1) - reference).abs().mean(dim=(1, 2))


class CountingPlugin:
    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="counting-mae", higher_is_better=False), CountingMetric)


def test_one_row_per_item_level_model_metric(make_registry, store):
    registry = make_registry()
    config = RunConfig(
        models=["bicubic", "nearest"],
        metrics=["psnr", "ssim"],
        degradations=["bicubic"],
        levels=[0.5, 1.0],
        seed=3,
    )
    summary = run_benchmark(config, registry, store)
    results = store.results()
    assert summary.errors == [] and summary.computed == 4 * 2 * 2 * 2 == len(results)
    assert set(results["seed"]) == {3}
    by_model = results[results["metric"] == "psnr"].groupby("model")["value"].mean()
    assert by_model["bicubic"] > by_model["nearest"]
    (run,) = store.runs().to_dict("records")
    config_record = json.loads(run["config"])
    assert run["status"] == "finished"
    assert config_record["seed"] == 3 and config_record["environment"]["torch"]


def test_rerun_resumes_and_new_metrics_only_compute_what_is_missing(make_registry, store):
    registry = make_registry()
    config = RunConfig(models=["bicubic"], metrics=["psnr"], degradations=["bicubic"])
    first = run_benchmark(config, registry, store)
    again = run_benchmark(config, registry, store)
    assert (first.computed, first.skipped) == (4, 0)
    assert (again.computed, again.skipped) == (0, 4)
    more = run_benchmark(
        RunConfig(models=["bicubic"], metrics=["psnr", "ssim"], degradations=["bicubic"]),
        registry,
        store,
    )
    assert (more.computed, more.skipped) == (4, 4)
    assert len(store.results()) == 8


def test_failing_item_leaves_error_rows_and_keeps_everything_else(make_registry, store):
    registry = make_registry(FailsOn("coffee"))
    config = RunConfig(
        models=["flaky", "bicubic"], metrics=["psnr", "ssim"], degradations=["bicubic"]
    )
    summary = run_benchmark(config, registry, store)
    everything = store.results(include_errors=True)
    errors = everything[everything["error"].notna()]
    assert len(everything) == 4 * 2 * 2
    assert set(errors["item_id"]) == {"coffee"} and set(errors["model"]) == {"flaky"}
    assert len(errors) == 2 and errors["value"].isna().all()
    assert "simulated crash" in errors["error"].iloc[0] and "coffee.png" in errors["error"].iloc[0]
    assert len(summary.errors) == 1
    assert store.runs()["status"].iloc[0] == "finished-with-errors"
    # A retry recomputes only the error rows (and fails again, replacing them).
    retry = run_benchmark(config, registry, store)
    assert (retry.computed, retry.skipped) == (0, 14)


def test_gt_side_work_happens_once_per_item(make_registry, store):
    registry = make_registry(CountingPlugin())
    CountingMetric.references = 0
    config = RunConfig(models=["bicubic", "nearest"], metrics=["counting-mae"], levels=[0.3, 1.0])
    run_benchmark(config, registry, store)
    assert CountingMetric.references == 4


def test_given_lr_and_saved_images(make_registry, store, tmp_path, sample_manifest):
    gt = sample_manifest.parent / "chelsea.png"
    image = load_image(gt)
    lr_path = tmp_path / "lr.png"
    from semfid_bench.datasets.images import save_image

    save_image(torch.nn.functional.avg_pool2d(image[None], 4)[0], lr_path)
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, "given", [{"id": "cat", "gt": str(gt), "lr": "lr.png"}])
    config = RunConfig(
        models=["bicubic"],
        metrics=["psnr"],
        manifest=manifest,
        save_images=tmp_path / "out",
        allow_outside_paths=True,  # the GT is the packaged sample photograph
    )
    run_benchmark(config, make_registry(), store)
    (row,) = store.results().to_dict("records")
    assert row["degradation"] == "given-lr" and row["dataset"] == "given"
    saved_sr = load_image(tmp_path / "out" / "given" / "given-lr@1" / "bicubic" / "cat.png")
    saved_lr = load_image(tmp_path / "out" / "given" / "given-lr@1" / "LR" / "cat.png")
    assert saved_sr.shape == image.shape and saved_lr.shape[-1] == image.shape[-1] // 4
    from semfid_bench.metrics.pixel import psnr

    # Saved SR images reproduce the stored score exactly: SR is quantised before scoring.
    assert float(psnr(saved_sr[None], image[None])) == pytest.approx(row["value"], abs=1e-5)


def test_selection_errors_are_caught_before_any_work(make_registry, store):
    registry = make_registry()
    with pytest.raises(SemfidError, match="does not upscale x5"):
        run_benchmark(RunConfig(models=["bicubic"], metrics=["psnr"], scale=5), registry, store)
    with pytest.raises(SemfidError, match="Unknown metric 'nope'"):
        run_benchmark(RunConfig(models=["bicubic"], metrics=["nope"]), registry, store)
    with pytest.raises(SemfidError, match="outside"):
        run_benchmark(
            RunConfig(models=["bicubic"], metrics=["psnr"], levels=[2.0]), registry, store
        )
    assert store.results(include_errors=True).empty


def test_unknown_plugin_option_is_a_clear_error(make_registry, store):
    options = {"model:bicubic": {"stpes": 3}}
    config = RunConfig(models=["bicubic"], metrics=["psnr"], options=options)
    with pytest.raises(SemfidError, match="sr model 'bicubic' cannot take these options") as caught:
        run_benchmark(config, make_registry(), store)
    assert "mode" in caught.value.hint and "stpes" in str(caught.value)
    assert "scale" not in caught.value.hint and "device" not in caught.value.hint
