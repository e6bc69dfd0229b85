"""Metric namespaces (pyiqa:<name>) and the captioner plugin kind."""

import importlib.util
import math

import pytest

from semfid_bench.metrics.pyiqa_specs import (
    REVIEWED_HIGHER_IS_BETTER,
    pyiqa_configs,
    resolve_pyiqa,
)
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.plugin_manager import build_registry
from semfid_bench.plugin_api.registry import CaptionerRegistrar, MetricRegistrar, Registry
from semfid_bench.plugin_api.specs import CaptionerSpec, MetricSpec, NamespaceSpec

needs_pyiqa = pytest.mark.skipif(
    importlib.util.find_spec("pyiqa") is None, reason="pyiqa is the optional 'iqa' extra"
)


def test_namespace_resolves_lazily_and_lists_as_one_row():
    calls = []

    def resolver(member):
        calls.append(member)
        return MetricSpec(name=f"fam:{member}", higher_is_better=False), lambda **_: member

    registry = Registry()
    MetricRegistrar(registry, "test").add_namespace(NamespaceSpec("fam", "a family"), resolver)
    assert [r.name for r in registry.namespace_registrations()] == ["fam:<name>"]
    assert calls == [] and registry.names("metric") == []
    assert registry.create("metric", "fam:x") == "x"
    assert registry.get("metric", "fam:x").spec.higher_is_better is False
    assert calls == ["x"]
    with pytest.raises(PluginError, match="fam:<name>"):
        registry.get("metric", "other")


def test_builtin_registry_has_semantic_metrics_captioners_and_the_pyiqa_namespace():
    registry = build_registry(strict=True)
    for name in ("lpips", "clip", "c2i", "c2c", "splice-sym", "splice-nonsym", "splice-nouns"):
        assert name in registry.names("metric")
    assert {"qwen2.5-vl", "qwen2.5-vl-3b"} <= set(registry.names("captioner"))
    assert [r.name for r in registry.namespace_registrations()] == ["pyiqa:<name>"]


@needs_pyiqa
def test_pyiqa_metrics_resolve_with_their_declared_direction():
    registry = build_registry(strict=True)
    assert registry.get("metric", "pyiqa:niqe").spec.higher_is_better is False
    musiq = registry.get("metric", "pyiqa:musiq").spec
    assert musiq.higher_is_better and not musiq.full_reference
    dists = registry.get("metric", "pyiqa:dists").spec
    assert not dists.higher_is_better and dists.full_reference
    assert dists.value_range == (0.0, 1.0)


@needs_pyiqa
def test_pyiqa_direction_never_guessed(monkeypatch):
    configs = pyiqa_configs()
    declared_lower = {n for n, c in configs.items() if c.get("lower_better")}
    assert not REVIEWED_HIGHER_IS_BETTER & declared_lower
    assert set(configs) >= REVIEWED_HIGHER_IS_BETTER
    undeclared = {"metric_opts": {"type": "X"}, "metric_mode": "NR"}
    monkeypatch.setitem(configs, "brand-new", undeclared)
    with pytest.raises(PluginError, match="direction"):
        resolve_pyiqa("brand-new")
    with pytest.raises(PluginError, match="no metric"):
        resolve_pyiqa("not-a-metric")
    assert resolve_pyiqa("ahiq")[0].value_range == (-math.inf, math.inf)  # '~0, ~1'


def test_captioner_registrar_checks_spec_type():
    registry = Registry()
    registrar = CaptionerRegistrar(registry, "test")
    registrar.add(CaptionerSpec("echo"), lambda **_: None)
    assert registry.names("captioner") == ["echo"]
    with pytest.raises(PluginError, match="CaptionerSpec"):
        registrar.add(MetricSpec("m", True), lambda **_: None)


def test_listing_plugins_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys; from semfid_bench.plugin_api.plugin_manager import build_registry\n"
        "build_registry()\n"
        "print(sorted(m for m in ('torch', 'pyiqa', 'open_clip', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
