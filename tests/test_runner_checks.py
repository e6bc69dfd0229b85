"""The runner checks every plugin output, and a failure never costs other results or the
database: error rows name the plugin and what was wrong, and are retried next time."""

import math
import os
import sqlite3
import subprocess
import sys
from typing import ClassVar

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.specs import MetricSpec, SRModelSpec
from semfid_bench.report.boards import model_boards
from semfid_bench.sr_models.interpolation import InterpolationUpscaler


class Behaviour:
    """What the test plugins do; tests change it between runs."""

    model = "ok"  # ok | nan | wrong-shape | fail-once
    metric = "ok"  # ok | nan | inf | map | raise | interrupt-once | out-of-range
    failures = 0
    gt_seen: ClassVar[list] = []


class ConfiguredModel(InterpolationUpscaler):
    def upscale(self, lr, context):
        sr = super().upscale(lr, context)
        if Behaviour.model == "nan":
            sr[..., 0, 0] = math.nan
        elif Behaviour.model == "wrong-shape":
            sr = sr[..., :-1]
        elif Behaviour.model == "fail-once" and Behaviour.failures == 0:
            Behaviour.failures += 1
            raise RuntimeError("transient failure")
        return sr


class ConfiguredMetric(Metric):
    def __init__(self, device=None):
        pass

    def score(self, sr, reference):
        mae = (sr - reference).abs().mean(dim=(1, 2, 3))
        if Behaviour.metric == "nan":
            return mae * math.nan
        if Behaviour.metric == "inf":
            return mae + math.inf
        if Behaviour.metric == "map":
            return (sr - reference).abs().mean(dim=1)
        if Behaviour.metric == "raise":
            raise RuntimeError("metric exploded")
        if Behaviour.metric == "interrupt-once" and Behaviour.failures == 1:
            Behaviour.failures += 1
            raise KeyboardInterrupt
        if Behaviour.metric == "interrupt-once":
            Behaviour.failures += 1
        if Behaviour.metric == "out-of-range":
            return mae + 5.0
        return mae

    def score_with_details(self, sr, reference):
        details = [{"unstorable": object()}] if Behaviour.metric == "bad-details" else None
        return self.score(sr, reference), details


class NoReference(Metric):
    def __init__(self, device=None):
        pass

    def reference(self, gt, items):
        Behaviour.gt_seen.append(gt)
        return None

    def score(self, sr, reference):
        return sr.mean(dim=(1, 2, 3))


class CheckPlugins:
    @hookimpl
    def register_sr_models(self, register):
        register.add(SRModelSpec(name="test-model", scales=(2, 4)), ConfiguredModel)

    @hookimpl
    def register_metrics(self, register):
        register.add(
            MetricSpec(name="test-mae", higher_is_better=False, value_range=(0.0, 1.0)),
            ConfiguredMetric,
        )
        register.add(
            MetricSpec(name="test-nr", higher_is_better=True, full_reference=False), NoReference
        )


@pytest.fixture(autouse=True)
def reset_behaviour():
    Behaviour.model, Behaviour.metric, Behaviour.failures, Behaviour.gt_seen = "ok", "ok", 0, []


@pytest.fixture
def registry(make_registry):
    return make_registry(CheckPlugins())


def _config(manifest, metrics=("test-mae", "psnr")):
    return RunConfig(
        models=["test-model", "bicubic"],
        metrics=list(metrics),
        degradations=["bicubic"],
        manifest=manifest,
    )


def _errors(store):
    rows = store.results(include_errors=True)
    return rows[rows["error"].notna()]


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("nan", "non-finite score (nan)"),
        ("inf", "non-finite score (inf)"),
        ("map", "returned shape (1, 64, 96), expected (1,)"),
        ("bad-details", "not JSON serializable"),
    ],
)
def test_bad_metric_output_is_an_error_row_naming_it(
    behaviour, message, registry, store, crops_manifest
):
    Behaviour.metric = behaviour
    summary = run_benchmark(_config(crops_manifest), registry, store)
    errors = _errors(store)
    assert len(errors) == 4 and set(errors["metric"]) == {"test-mae"}
    assert all("metric test-mae" in e and message in e for e in errors["error"])
    assert errors["value"].isna().all() and len(summary.errors) == 4
    assert summary.computed == 4  # psnr on both models and items


def test_nan_model_output_is_an_error_row_retried_and_the_database_stays_usable(
    registry, store, crops_manifest
):
    Behaviour.model = "nan"
    first = run_benchmark(_config(crops_manifest), registry, store)
    errors = _errors(store)
    assert set(errors["model"]) == {"test-model"} and len(errors) == 4
    assert all("SR model 'test-model' returned 3 non-finite" in e for e in errors["error"])
    assert first.computed == 4 and store.runs()["status"].iloc[-1] == "finished-with-errors"
    again = run_benchmark(_config(crops_manifest), registry, store)
    assert (again.computed, again.skipped, len(again.errors)) == (0, 4, 2)
    (table,) = model_boards(store.results(), store.metric_specs(), "psnr")
    assert list(table.frame["model"]) == ["bicubic"]
    Behaviour.model = "ok"
    fixed = run_benchmark(_config(crops_manifest), registry, store)
    assert (fixed.computed, fixed.skipped, fixed.errors) == (4, 4, [])
    assert _errors(store).empty


def test_wrong_sr_shape_is_an_error_row(registry, store, crops_manifest):
    Behaviour.model = "wrong-shape"
    run_benchmark(_config(crops_manifest), registry, store)
    message = _errors(store)["error"].iloc[0]
    assert "SR model 'test-model' returned shape (1, 3, 64, 95), expected (1, 3, 64, 96)" in message


def test_a_model_failing_once_has_its_error_row_replaced(registry, store, crops_manifest):
    Behaviour.model = "fail-once"
    first = run_benchmark(_config(crops_manifest), registry, store)
    assert len(first.errors) == 1 and len(_errors(store)) == 2
    assert "transient failure" in _errors(store)["error"].iloc[0]
    again = run_benchmark(_config(crops_manifest), registry, store)
    assert (again.computed, again.skipped, again.errors) == (2, 6, [])
    everything = store.results(include_errors=True)
    assert len(everything) == 8 and everything["error"].isna().all()
    assert everything["value"].notna().all()


def test_a_raising_metric_leaves_error_rows_and_everything_else(registry, store, crops_manifest):
    Behaviour.metric = "raise"
    summary = run_benchmark(_config(crops_manifest), registry, store)
    assert summary.computed == 4 and len(summary.errors) == 4
    assert all("metric exploded" in e for e in _errors(store)["error"])


def test_out_of_range_values_are_stored_with_a_flag(registry, store, crops_manifest):
    Behaviour.metric = "out-of-range"
    summary = run_benchmark(_config(crops_manifest, metrics=["test-mae"]), registry, store)
    rows = store.results()
    assert len(rows) == 4 and (rows["value"] > 5.0).all()
    assert all("outside the declared value_range [0, 1]" in f for f in rows["flag"])
    assert len(summary.flags) == 4 and not summary.errors


def test_no_reference_metrics_do_not_receive_the_gt(registry, store, crops_manifest):
    run_benchmark(_config(crops_manifest, metrics=["test-nr"]), registry, store)
    assert Behaviour.gt_seen == [None, None]
    assert len(store.results()) == 4


def test_keyboard_interrupt_marks_the_run_and_resume_computes_only_what_is_missing(
    registry, store, crops_manifest
):
    Behaviour.metric = "interrupt-once"  # the second scoring call is interrupted
    config = _config(crops_manifest, metrics=["test-mae"])
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(config, registry, store)
    assert store.runs()["status"].tolist() == ["interrupted"]
    assert len(store.results(include_errors=True)) == 1
    resumed = run_benchmark(config, registry, store)
    assert (resumed.computed, resumed.skipped) == (3, 1)
    assert store.runs()["status"].tolist() == ["interrupted", "finished"]


def test_a_killed_run_is_shown_as_interrupted_at_the_next_start(registry, store, crops_manifest):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.start_run("killed", {}, pid=dead.pid)
    store.start_run("alive", {}, pid=os.getpid())
    run_benchmark(_config(crops_manifest, metrics=["psnr"]), registry, store)
    status = dict(zip(store.runs()["run_id"], store.runs()["status"], strict=True))
    assert status["killed"] == "interrupted" and status["alive"] == "running"


def test_old_null_values_are_retried_and_do_not_break_reports(registry, store, crops_manifest):
    config = _config(crops_manifest, metrics=["psnr"])
    run_benchmark(config, registry, store)
    with sqlite3.connect(store.path) as db:  # a NaN stored as NULL by an old version
        db.execute("UPDATE results SET value = NULL WHERE model = 'bicubic'")
    (table,) = model_boards(store.results(), store.metric_specs(), "psnr")
    assert list(table.frame["model"]) == ["test-model"]
    again = run_benchmark(config, registry, store)
    assert (again.computed, again.skipped) == (2, 2)
    assert store.results()["value"].notna().all()
