"""Registry lookups (plugin instances named BASE:LABEL) and factory contexts."""

from dataclasses import replace

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.registry import PluginContext
from semfid_bench.plugin_api.specs import MetricSpec, Registration


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


def test_factories_that_declare_it_get_a_context(make_registry):
    registry = make_registry()
    seen = {}

    def factory(device=None, context=None):
        seen["context"] = context
        return object()

    def legacy(device=None, **options):  # a third-party factory written before contexts
        seen["legacy"] = options
        return object()

    spec = MetricSpec(name="any", higher_is_better=True)
    for name, made in (("new", factory), ("old", legacy)):
        registry.add(Registration("metric", replace(spec, name=name), made, "test"))
    registry.create("metric", "new", device="cpu")
    registry.create("metric", "old", device="cpu", gain=2)
    context = seen["context"]
    assert isinstance(context, PluginContext)
    assert context.registry is registry and context.device == "cpu"
    assert seen["legacy"] == {"gain": 2}  # no context= for factories that do not declare it
    with pytest.raises(PluginError, match="'context' is not an option"):
        registry.create("metric", "new", device="cpu", context="x")


def test_optional_methods_are_recognised_by_their_protocols():
    from semfid_bench.degradations.sampled import SampledDegradation
    from semfid_bench.metrics.c2c import CaptionToCaption
    from semfid_bench.plugin_api.interfaces import (
        DeclaresWeights,
        Degradation,
        ExplainsScores,
        TracesSteps,
    )
    from semfid_bench.sr_models.checkpoint import CheckpointSRModel

    assert isinstance(SampledDegradation(), TracesSteps)
    assert not isinstance(Degradation(), TracesSteps)
    assert isinstance(CheckpointSRModel, DeclaresWeights)
    assert not isinstance(CaptionToCaption, DeclaresWeights)
    assert issubclass(CaptionToCaption, ExplainsScores)
