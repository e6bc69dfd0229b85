"""Registry lookups: plugin instances named BASE:LABEL."""

import pytest

from semfid_bench.errors import PluginError
from semfid_bench.runner import RunConfig, run_benchmark


def test_an_instance_resolves_to_its_base_plugin(make_registry):
    registry = make_registry()
    assert registry.get("sr_model", "bicubic:other") is registry.get("sr_model", "bicubic")
    with pytest.raises(PluginError, match="Unknown sr model 'nope:x'"):
        registry.get("sr_model", "nope:x")
    with pytest.raises(PluginError, match="Unknown sr model 'bicubic:'"):
        registry.get("sr_model", "bicubic:")


def test_instances_run_with_their_own_options_and_names(make_registry, store, crops_manifest):
    config = RunConfig(
        models=["bicubic", "bicubic:nearest"],
        metrics=["psnr"],
        manifest=crops_manifest,
        device="cpu",
        options={"bicubic:nearest": {"mode": "nearest"}},
    )
    summary = run_benchmark(config, make_registry(), store)
    assert not summary.errors
    means = store.results().groupby("model")["value"].mean()
    assert set(means.index) == {"bicubic", "bicubic:nearest"}
    assert means["bicubic"] > means["bicubic:nearest"]  # nearest is the worse upscaler
