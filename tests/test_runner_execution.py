"""How results were computed is part of their key: a CPU run and a GPU run (here a stand-in
that reports a CUDA device) into one database keep separate rows; the TF32 policy is set
while a run computes, restored after and recorded; degradations always see CPU tensors."""

import json

import pytest
import torch

from semfid_bench.execution import runner
from semfid_bench.execution.executors import compute
from semfid_bench.execution.executors import local as local_executor
from semfid_bench.execution.plugin_execution import plugin_execution
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Degradation, Metric, SRModel
from semfid_bench.plugin_api.specs import DegradationSpec, MetricSpec, SRModelSpec

SEEN: dict[str, list] = {}


class FlagsMetric(Metric):
    """Mean SR value; records the TF32 switches in effect while it scores."""

    def __init__(self, device=None) -> None:
        pass

    def score(self, sr, reference):
        SEEN.setdefault("tf32", []).append(
            (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        )
        return sr.mean(dim=(1, 2, 3))


class DeviceSpy(Degradation):
    """Box downscaling that records the device of each image it is given."""

    def __init__(self, scale: int = 4, device=None) -> None:
        self.scale = scale

    def degrade(self, hr, *, level, seed):
        SEEN.setdefault("degrade", []).append(hr.device)
        return torch.nn.functional.avg_pool2d(hr[None], self.scale)[0]


class HalfModel(SRModel):
    """Nearest upscaling that says it computes in ``dtype``."""

    def __init__(self, scale: int = 4, device=None, tile: int = 0) -> None:
        self.scale, self.dtype, self.tile = scale, torch.float16, tile

    def upscale(self, lr, context):
        return torch.nn.functional.interpolate(lr, scale_factor=self.scale, mode="nearest")

    def execution(self):
        return {"tile": self.tile or "whole image"}


class ExecutionPlugins:
    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="mean-flags", higher_is_better=True), FlagsMetric)

    @hookimpl
    def register_degradations(self, register):
        register.add(DegradationSpec(name="device-spy", scales=(2, 4)), DeviceSpy)

    @hookimpl
    def register_sr_models(self, register):
        register.add(SRModelSpec(name="half-model", scales=(2, 4)), HalfModel)


@pytest.fixture(autouse=True)
def _clear_seen():
    SEEN.clear()


@pytest.fixture
def registry(make_registry):
    return make_registry(ExecutionPlugins())


def _config(manifest, **changes):
    base = dict(
        models=["bicubic"],
        metrics=["psnr-y", "mean-flags"],
        degradations=["device-spy"],
        manifest=manifest,
        scale=2,
        device="cpu",
    )
    return RunConfig(**(base | changes))


@pytest.fixture
def as_gpu(monkeypatch):
    """Every plugin reports a CUDA device (what a run on a GPU stores), computing on CPU."""

    def gpu_execution(plugin, device, tf32):
        return plugin_execution(plugin, torch.device("cuda"), tf32)

    monkeypatch.setattr(local_executor, "plugin_execution", gpu_execution)


def test_cpu_then_gpu_runs_keep_separate_rows(crops_manifest, registry, store, monkeypatch):
    first = run_benchmark(_config(crops_manifest), registry, store)
    assert (first.computed, first.skipped) == (4, 0)
    again = run_benchmark(_config(crops_manifest), registry, store)
    assert (again.computed, again.skipped) == (0, 4)  # CPU → CPU still skips

    def gpu_execution(plugin, device, tf32):
        return plugin_execution(plugin, torch.device("cuda"), tf32)

    monkeypatch.setattr(local_executor, "plugin_execution", gpu_execution)
    gpu = run_benchmark(_config(crops_manifest), registry, store)
    assert (gpu.computed, gpu.skipped) == (4, 0)
    rows = store.results()
    assert len(rows) == 8
    for kind in ("model", "metric"):
        executions = {json.loads(e)["device"] for e in rows[f"{kind}_execution"]}
        assert executions == {"cpu", "cuda"}
    gpu_rows = rows[rows["model_execution"].str.contains("cuda")]
    assert {json.loads(e)["tf32"] for e in gpu_rows["metric_execution"]} == {False}
    gpu_again = run_benchmark(_config(crops_manifest), registry, store)
    assert (gpu_again.computed, gpu_again.skipped) == (0, 4)


def test_tf32_is_in_the_key_on_cuda_only(crops_manifest, registry, store, monkeypatch):
    run_benchmark(_config(crops_manifest), registry, store)
    cpu_on = run_benchmark(_config(crops_manifest, tf32="on"), registry, store)
    assert (cpu_on.computed, cpu_on.skipped) == (0, 4)  # no effect on CPU: same rows

    def gpu_execution(plugin, device, tf32):
        return plugin_execution(plugin, torch.device("cuda"), tf32)

    monkeypatch.setattr(local_executor, "plugin_execution", gpu_execution)
    run_benchmark(_config(crops_manifest), registry, store)
    gpu_on = run_benchmark(_config(crops_manifest, tf32="on"), registry, store)
    assert (gpu_on.computed, gpu_on.skipped) == (4, 0)


def test_a_plugins_precision_and_own_execution_are_in_the_key(crops_manifest, registry, store):
    run_benchmark(_config(crops_manifest, models=["half-model"]), registry, store)
    execution = json.loads(store.results()["model_execution"].iloc[0])
    assert execution == {"device": "cpu", "dtype": "float16", "tile": "whole image"}
    tiled = _config(crops_manifest, models=["half-model"], options={"half-model": {"tile": 8}})
    run_benchmark(tiled, registry, store)
    executions = {json.loads(e)["tile"] for e in store.results()["model_execution"]}
    assert executions == {"whole image", 8}


@pytest.mark.parametrize("policy", ["off", "on"])
def test_tf32_is_set_while_scoring_restored_after_and_recorded(
    crops_manifest, registry, store, policy
):
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    opposite = policy == "off"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = opposite
    try:
        run_benchmark(_config(crops_manifest, tf32=policy), registry, store)
        after = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
    enabled = policy == "on"
    assert set(SEEN["tf32"]) == {(enabled, enabled)}
    assert after == (opposite, opposite)
    config = json.loads(store.runs()["config"].iloc[0])
    assert config["tf32"] == policy
    assert config["environment"]["tf32"] == {"matmul": enabled, "cudnn": enabled}


def test_a_bad_tf32_value_is_refused(crops_manifest, registry, store):
    with pytest.raises(Exception, match="--tf32"):
        run_benchmark(_config(crops_manifest, tf32="maybe"), registry, store)


class OnGpu(torch.Tensor):
    """A stand-in device tensor: computes on CPU but reports ``cuda``; ``.cpu()`` gives a
    plain CPU tensor back."""

    @property
    def device(self):
        return torch.device("cuda")

    def cpu(self):
        return self.as_subclass(torch.Tensor)


def test_degradations_run_on_cpu(crops_manifest, registry, store, monkeypatch):
    """The GT arrives on the (stand-in) run device; the degradation sees it on CPU."""
    real = compute.to_tensor
    monkeypatch.setattr(compute, "to_tensor", lambda array: real(array).as_subclass(OnGpu))
    summary = run_benchmark(_config(crops_manifest), registry, store)
    assert summary.computed == 4 and not summary.errors
    assert len(SEEN["degrade"]) == 2 and {d.type for d in SEEN["degrade"]} == {"cpu"}


def test_a_cuda_run_records_the_gpu_and_its_software(monkeypatch):
    from types import SimpleNamespace

    properties = SimpleNamespace(name="Stand-in H100", total_memory=80 * 2**30, major=9, minor=0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: properties)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91002)
    record = runner.environment_record(torch.device("cuda:0"))
    assert record["gpu"] == "Stand-in H100" and record["gpu_memory_gib"] == 80.0
    assert record["compute_capability"] == "9.0" and record["cudnn"] == 91002
    assert record["cuda"] == torch.version.cuda and "driver" in record
    assert set(record["tf32"]) == {"matmul", "cudnn"}
    assert "gpu" not in runner.environment_record(torch.device("cpu"))


class OutOfMemoryOnce(SRModel):
    """Nearest upscaling whose first call 'runs out of memory' and reports a retry."""

    def __init__(self, scale: int = 4, device=None) -> None:
        self.scale, self.calls = scale, 0

    def upscale(self, lr, context):
        self.calls += 1
        return torch.nn.functional.interpolate(lr, scale_factor=self.scale, mode="nearest")

    def fallbacks(self):
        return ["out of memory; retried in 8 px tiles"] if self.calls == 1 else []


def test_a_fallback_is_recorded_in_that_cells_rows_only(crops_manifest, make_registry, store):
    class Plugins(ExecutionPlugins):
        @hookimpl
        def register_sr_models(self, register):
            register.add(SRModelSpec(name="oom-once", scales=(2, 4)), OutOfMemoryOnce)

    config = _config(crops_manifest, models=["oom-once"])
    summary = run_benchmark(config, make_registry(Plugins()), store)
    rows = store.results().sort_values("item_id")
    details = [json.loads(d) if isinstance(d, str) else {} for d in rows["details"]]
    notes = [d.get("input_notes", []) for d in details]
    expected = ["SR model 'oom-once': out of memory; retried in 8 px tiles"]
    assert notes.count(expected) == 2 and notes.count([]) == 2  # both metrics of one cell
    assert len(summary.notes) == 1 and expected[0] in summary.notes[0]


def test_a_cpu_run_and_a_standin_gpu_run_keep_separate_rows(
    crops_manifest, registry, store, standin_gpu
):
    """Not a patched key: the second run really computes on the stand-in GPU (``auto`` picks
    it), and both runs' values stay in the database."""
    selection = {"models": ["bicubic", "half-model"], "metrics": ["psnr-y"]}
    cpu = run_benchmark(_config(crops_manifest, **selection), registry, store)
    on_gpu = _config(crops_manifest, **selection, device="auto")
    gpu = run_benchmark(on_gpu, registry, store)
    assert (cpu.computed, gpu.computed, gpu.skipped) == (4, 4, 0)
    rows = store.results()
    assert len(rows) == 8 and standin_gpu.ops > 0
    devices = rows["model_execution"].map(lambda e: json.loads(e)["device"])
    assert sorted(devices) == ["cpu"] * 4 + ["cuda"] * 4
    again = run_benchmark(on_gpu, registry, store)
    assert (again.computed, again.skipped) == (0, 4)
