"""Tests a plugin author writes: registration through a fresh plugin manager, output
shape, the effect of an option, and a real run on the bundled sample images."""

import torch
from semfid_bench_example_sr import plugin

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager


def registry():
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.register(plugin, name="example_sr")
    return build_registry(loaded)


def test_registered_and_upscales_to_scale_times_the_input():
    model = registry().create("sr_model", "sharp-bicubic", scale=4, device="cpu")
    lr = torch.rand(2, 3, 10, 14)
    sr = model.upscale(lr, UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=0))
    assert sr.shape == (2, 3, 40, 56) and sr.min() >= 0 and sr.max() <= 1


def test_amount_zero_is_plain_bicubic():
    reg = registry()
    lr = torch.rand(1, 3, 8, 8)
    context = UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=0)
    plain = reg.create("sr_model", "bicubic", scale=4, device="cpu").upscale(lr, context)
    sharp = reg.create("sr_model", "sharp-bicubic", scale=4, device="cpu", amount=0.0)
    torch.testing.assert_close(sharp.upscale(lr, context), plain)


def test_runs_in_a_benchmark(tmp_path):
    config = RunConfig(models=["sharp-bicubic", "bicubic"], metrics=["psnr"], device="cpu")
    with ResultsStore(tmp_path / "r.db") as store:
        summary = run_benchmark(config, registry(), store)
        results = store.results()
    assert not summary.errors
    assert set(results["model"]) == {"sharp-bicubic", "bicubic"}
