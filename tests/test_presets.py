"""Presets: spec validation, merging with the command line, the built-in ones resolve, and a
run records the preset it came from."""

import json

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.commands.common import parse_options
from semfid_bench.execution.presets import apply_preset
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.options import factory_options, scoped_options
from semfid_bench.plugin_api.registry import resolve_factory
from semfid_bench.plugin_api.specs import PresetSpec, SpecError

runner = CliRunner(env={"COLUMNS": "250"})

PRESET = PresetSpec(
    name="tiny",
    description="Two datasets, two metrics.",
    datasets=("sample", "user-study-sample"),
    metrics=("psnr", "psnr-y"),
    degradations=("bicubic",),
    levels=(1.0,),
    options=("metric:psnr-y.crop_border=0",),
    reference="a test",
)
TYPED = {
    "dataset": "sample",
    "models": "bicubic",
    "metrics": "psnr,ssim",
    "degradations": "bsrgan",
    "levels": None,
    "options": [],
}


def test_the_preset_fills_what_the_user_did_not_type():
    chosen = apply_preset(PRESET, **TYPED, explicit=set())
    assert chosen.datasets == ["sample", "user-study-sample"]
    assert (chosen.metrics, chosen.degradations, chosen.levels) == ("psnr,psnr-y", "bicubic", "1")
    assert chosen.models == "bicubic"  # the preset names no models: the command line's
    assert chosen.options == ["metric:psnr-y.crop_border=0"]


def test_what_the_user_typed_wins_and_their_set_comes_after_the_presets():
    chosen = apply_preset(
        PRESET,
        **{**TYPED, "metrics": "psnr-y", "options": ["metric:psnr-y.crop_border=8"]},
        explicit={"metrics", "dataset"},
    )
    assert chosen.datasets == ["sample"] and chosen.metrics == "psnr-y"
    assert parse_options(chosen.options) == {"metric:psnr-y": {"crop_border": 8}}


def test_preset_options_for_deselected_plugins_are_dropped():
    chosen = apply_preset(PRESET, **TYPED, explicit={"metrics"})
    assert chosen.options == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bad name"),
        ("datasets", ()),
        ("metrics", ("ok", "")),
        ("levels", (1.5,)),
        ("options", ("no-assignment",)),
        ("description", "two\nlines"),
    ],
)
def test_preset_specs_are_validated(field, value):
    with pytest.raises(SpecError, match=field):
        PresetSpec(**{**PRESET.__dict__, field: value})


def test_every_built_in_preset_names_registered_plugins_and_accepted_options():
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    presets = [registry.get("preset", n).spec for n in registry.names("preset")]
    assert {p.name for p in presets} >= {"seesr-table2", "seesr-table3", "thesis"}
    for preset in presets:
        selection = {
            "metric": list(preset.metrics),
            "sr_model": list(preset.models),
            "degradation": list(preset.degradations),
        }
        for kind, names in [*selection.items(), ("dataset", preset.datasets)]:
            for name in names:
                registry.get(kind, name)  # raises for an unknown name
        scoped = scoped_options(registry, parse_options(list(preset.options)), selection)
        for (kind, name), values in scoped.items():
            factory = resolve_factory(registry.get(kind, name).factory)
            accepted, open_ended = factory_options(factory)
            assert open_ended or set(values) <= {o.name for o in accepted}, (preset.name, name)


@pytest.fixture
def with_tiny_preset(monkeypatch, make_registry):
    class Plugin:
        @hookimpl
        def register_presets(self, register):
            register.add(PRESET)

    registry = make_registry(Plugin())
    monkeypatch.setattr("semfid_bench.plugin_api.plugin_manager.build_registry", lambda: registry)


def test_run_with_a_preset_runs_each_dataset_and_records_the_preset(tmp_path, with_tiny_preset):
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--preset", "tiny", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with ResultsStore(db) as store:
        runs = store.runs()
        results = store.results()
    configs = [json.loads(c) for c in runs["config"]]
    assert [c["dataset"] for c in configs] == ["sample", "user-study-sample"]
    assert {c["preset"] for c in configs} == {"tiny"}
    assert set(results["metric"]) == {"psnr", "psnr-y"}
    assert set(results.loc[results["dataset"] == "sample", "degradation"]) == {"bicubic"}
    psnr_y = results[results["metric"] == "psnr-y"]
    assert [json.loads(o) for o in set(psnr_y["metric_options"])] == [{"crop_border": 0}]


def test_typed_options_override_the_preset(tmp_path, with_tiny_preset):
    db = tmp_path / "r.db"
    args = ["run", "--preset", "tiny", "--dataset", "sample", "--metrics", "ssim"]
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    with ResultsStore(db) as store:
        results = store.results()
    assert set(results["metric"]) == {"ssim"} and set(results["dataset"]) == {"sample"}


def test_a_preset_with_a_manifest_is_refused(tmp_path, with_tiny_preset):
    result = runner.invoke(app, ["run", "--preset", "tiny", "--manifest", str(tmp_path)])
    assert result.exit_code != 0


def test_docs_describe_every_built_in_preset_and_its_metrics():
    from pathlib import Path

    from semfid_bench.plugin_api.plugin_manager import build_registry

    doc = (Path(__file__).parent.parent / "docs" / "presets.md").read_text(encoding="utf-8")
    registry = build_registry()
    for name in registry.names("preset"):
        preset = registry.get("preset", name).spec
        section = doc.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        for metric in preset.metrics:
            assert f"`{metric}`" in section, (name, metric)
