"""Plugin discovery: built-ins, real entry points, broken plugins, allowlist, strict mode."""

import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.plugin_manager import (
    BUILTIN_SOURCE,
    build_registry,
    make_plugin_manager,
)
from semfid_bench.plugin_api.specs import MetricSpec, SRModelSpec

PLUGIN_MODULE = '''
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import SRModelSpec


class Doubler:
    """Nearest-neighbour upscaling, brightened, so its scores differ from bicubic's."""

    def __init__(self, scale, device, gain=1.0):
        self.scale, self.gain = scale, gain

    def upscale(self, lr, context):
        import torch.nn.functional as F

        return (F.interpolate(lr, scale_factor=self.scale, mode="nearest") * self.gain).clamp(0, 1)


@hookimpl
def register_sr_models(register):
    register.add(SRModelSpec(name="doubler", scales=(4,), description="test"), Doubler)
'''


def _install_distribution(root: Path, name: str, module: str, entry_points_txt: str) -> None:
    """A real installed distribution: a module plus a .dist-info that importlib sees."""
    (root / f"{module}.py").write_text(PLUGIN_MODULE)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))


@pytest.fixture
def installed(tmp_path, monkeypatch):
    _install_distribution(
        tmp_path,
        "semfid-doubler",
        "semfid_doubler",
        """
        [semfid_bench]
        doubler = semfid_doubler
        broken = semfid_doubler_missing_module
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SEMFID_BENCH_LOAD_PLUGINS", raising=False)
    yield tmp_path
    sys.modules.pop("semfid_doubler", None)


def test_builtins_register_through_the_hooks():
    registry = build_registry(make_plugin_manager(load_entry_points=False))
    assert {"bicubic", "nearest"} <= set(registry.names("sr_model"))
    assert {"psnr", "ssim", "psnr-y", "ssim-y"} <= set(registry.names("metric"))
    assert "sample" in registry.names("dataset")
    assert registry.get("metric", "psnr").source == BUILTIN_SOURCE
    assert registry.problems == []


def test_entry_point_plugin_is_discovered_and_runs(installed, store):
    assert "doubler" in {ep.name for ep in entry_points(group="semfid_bench")}
    registry = build_registry()
    registration = registry.get("sr_model", "doubler")
    assert registration.source == "semfid-doubler 0.1"
    # The broken entry point is reported but does not take the working one down.
    assert any("'broken'" in p and "failed to load" in p for p in registry.problems)

    config = RunConfig(
        models=["doubler", "bicubic"], metrics=["psnr"], options={"doubler": {"gain": 1.5}}
    )
    summary = run_benchmark(config, registry, store)
    assert summary.errors == []
    results = store.results()
    assert set(results["model"]) == {"doubler", "bicubic"}
    assert set(results.loc[results["model"] == "doubler", "model_options"]) == {'{"gain":1.5}'}
    by_model = results.groupby("model")["value"].mean()
    assert by_model["bicubic"] > by_model["doubler"]


def test_allowlist_limits_entry_points(installed, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_LOAD_PLUGINS", "broken")
    registry = build_registry()
    assert "doubler" not in registry.names("sr_model")
    assert len(registry.problems) == 1
    monkeypatch.setenv("SEMFID_BENCH_LOAD_PLUGINS", "")
    assert build_registry().problems == []


def test_strict_mode_raises_on_broken_plugin(installed):
    with pytest.raises(PluginError, match="broken"):
        build_registry(strict=True)


class _Duplicate:
    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="psnr", higher_is_better=True), "x:y")
        register.add(MetricSpec(name="fresh", higher_is_better=False), "x:y")


class _Failing:
    @hookimpl
    def register_sr_models(self, register):
        raise RuntimeError("boom")


class _WrongSpec:
    @hookimpl
    def register_sr_models(self, register):
        register.add(MetricSpec(name="oops", higher_is_better=True), "x:y")


def test_duplicates_and_failing_hooks_are_reported_not_fatal(make_registry):
    registry = make_registry(_Duplicate(), _Failing(), _WrongSpec())
    text = "\n".join(registry.problems)
    assert "metric 'psnr'" in text and "already registered by semfid-bench (built-in)" in text
    assert "register_sr_models failed: boom" in text
    assert "expects a SRModelSpec, got MetricSpec" in text
    assert "fresh" in registry.names("metric")
    assert registry.get("metric", "psnr").source == BUILTIN_SOURCE
    assert "bicubic" in registry.names("sr_model")


def test_unknown_plugin_names_the_registered_ones(make_registry):
    with pytest.raises(PluginError, match=r"Unknown sr model 'nope'\. Registered: bicubic"):
        make_registry().get("sr_model", "nope")


def test_factory_must_be_callable_or_module_string(make_registry):
    class Bad:
        @hookimpl
        def register_sr_models(self, register):
            register.add(SRModelSpec(name="bad"), "no-colon")

    registry = make_registry(Bad())
    assert any("must be a callable or a 'module:attribute'" in p for p in registry.problems)


class _Misspelled:
    """A plugin whose hook name has a typo: pluggy would silently never call it."""

    @hookimpl
    def register_sr_modelz(self, register):
        register.add(SRModelSpec(name="never"), "x:y")

    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="still-registered", higher_is_better=True), "x:y")


def test_misspelled_hook_is_a_listed_problem(make_registry):
    registry = make_registry(_Misspelled())
    [problem] = registry.problems
    assert "test-plugin-0" in problem and "unknown hook 'register_sr_modelz'" in problem
    assert "did you mean 'register_sr_models'" in problem
    assert "never" not in registry.names("sr_model")
    assert "still-registered" in registry.names("metric")  # its valid hooks still count


def test_misspelled_hook_is_fatal_in_strict_mode(monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_STRICT_PLUGINS", "1")
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.register(_Misspelled(), name="typo")
    with pytest.raises(PluginError, match=r"typo.*unknown hook 'register_sr_modelz'"):
        build_registry(loaded)


def test_misspelled_hook_is_listed_by_the_plugins_command(monkeypatch):
    from typer.testing import CliRunner

    import semfid_bench.plugin_api.plugin_manager as plugin_manager
    from semfid_bench.cli import app

    real = plugin_manager.make_plugin_manager

    def with_typo(**kwargs):
        loaded = real(load_entry_points=False)
        loaded.pm.register(_Misspelled(), name="typo")
        return loaded

    monkeypatch.setattr(plugin_manager, "make_plugin_manager", with_typo)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["plugins"])
    assert "unknown hook 'register_sr_modelz'" in result.output


class _Override:
    """Registers a metric named like a built-in; ``tryfirst`` makes pluggy call it first."""

    def __init__(self, tryfirst: bool):
        marker = hookimpl(tryfirst=tryfirst)

        def register_metrics(register):
            register.add(MetricSpec(name="psnr", higher_is_better=True, description="mine"), "x:y")

        self.register_metrics = marker(register_metrics)


@pytest.mark.parametrize("tryfirst", [True, False])
def test_tryfirst_is_honoured(make_registry, tryfirst):
    registry = make_registry(_Override(tryfirst))
    psnr = registry.get("metric", "psnr")
    # The first registration of a name is kept, so call order decides which psnr wins.
    assert (psnr.source == "test-plugin-0") is tryfirst
    assert (psnr.spec.description == "mine") is tryfirst
    loser = BUILTIN_SOURCE if tryfirst else "test-plugin-0"
    assert any(p.startswith("metric 'psnr' from " + loser) for p in registry.problems)


class _Wrapper:
    """A new-style hook wrapper around every plugin's ``register_datasets`` call."""

    calls = 0

    @hookimpl(wrapper=True)
    def register_datasets(self, register):
        _Wrapper.calls += 1
        return (yield)


def test_wrappers_wrap_each_plugins_call(make_registry):
    _Wrapper.calls = 0
    registry = make_registry(_Wrapper())
    assert "sample" in registry.names("dataset") and registry.problems == []
    assert _Wrapper.calls == 2  # two built-in plugins register datasets (sample, standard)


def test_hooks_are_called_through_pluggy_with_only_declared_arguments(make_registry):
    """An implementation that names no argument still gets called (pluggy passes only
    what it declares), which a direct ``impl.function(register=...)`` call would not."""
    called = []

    class NoArguments:
        @hookimpl
        def register_captioners(self):
            called.append(True)

    make_registry(NoArguments())
    assert called == [True]


def test_plugin_text_is_not_read_as_terminal_markup(monkeypatch):
    """Problems and descriptions come from plugins: rich markup in them is shown as text,
    never styled or allowed to crash the listing."""
    from typer.testing import CliRunner

    import semfid_bench.plugin_api.plugin_manager as plugin_manager
    from semfid_bench.cli import app

    class Hostile:
        @hookimpl
        def register_metrics(self, register):
            spec = MetricSpec(name="tag", higher_is_better=True, description="[/red]x")
            register.add(spec, "x:y")

        @hookimpl
        def register_sr_models(self, register):
            raise RuntimeError("[bold]boom[/bold] [/]")

    real = plugin_manager.make_plugin_manager

    def with_hostile(**kwargs):
        loaded = real(load_entry_points=False)
        loaded.pm.register(Hostile(), name="hostile")
        return loaded

    monkeypatch.setattr(plugin_manager, "make_plugin_manager", with_hostile)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "[/red]x" in result.output and "[bold]boom[/bold] [/]" in result.output
