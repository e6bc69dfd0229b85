"""A result's key holds everything that determined it: change any of it and the row is
computed again, never reused; change nothing (or set an option to its default) and it is
skipped."""

import json

import pytest

from semfid_bench.escaping import md_text
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Degradation, Metric
from semfid_bench.plugin_api.specs import DegradationSpec, MetricSpec


class Darken(Degradation):
    """Box downscaling times ``gain``: a degradation with an option."""

    def __init__(self, scale: int = 4, device=None, gain: float = 1.0) -> None:
        self.scale, self.gain = scale, gain

    def degrade(self, hr, *, level, seed):
        import torch.nn.functional as F

        return (F.avg_pool2d(hr[None], self.scale)[0] * self.gain).clamp(0, 1)


class CaptionLength(Metric):
    """Reads the manifest caption: its length in words (plus ``offset``)."""

    def __init__(self, device=None, offset: float = 0.0) -> None:
        self.offset = offset

    def reference(self, gt, items):
        return [len((item.caption or "").split()) + self.offset for item in items]

    def score(self, sr, reference):
        import torch

        return torch.tensor(reference, dtype=torch.float32)


class KeyPlugins:
    """A degradation with an option and a caption-reading metric at a chosen version and
    default."""

    def __init__(self, version: int = 1, default_offset: float = 0.0) -> None:
        self.version, self.default_offset = version, default_offset

    @hookimpl
    def register_degradations(self, register):
        register.add(DegradationSpec(name="darken", scales=(2, 4)), Darken)

    @hookimpl
    def register_metrics(self, register):
        default = self.default_offset

        def factory(device=None, offset: float = default):
            return CaptionLength(device, offset)

        spec = MetricSpec(name="caption-length", higher_is_better=True, version=self.version)
        register.add(spec, factory)


def _manifest(tmp_path, crops_manifest, caption: str):
    lines = crops_manifest.read_text().splitlines()
    items = [json.loads(line) | {"caption": caption} for line in lines[1:]]
    path = tmp_path / "captioned.jsonl"
    path.write_text("\n".join([lines[0], *map(json.dumps, items)]) + "\n")
    return path


def _config(manifest, **changes):
    base = dict(
        models=["bicubic"],
        metrics=["psnr-y", "caption-length"],
        degradations=["darken"],
        manifest=manifest,
        scale=2,
    )
    return RunConfig(**(base | changes))


@pytest.fixture
def first_run(tmp_path, crops_manifest, make_registry, store):
    manifest = _manifest(tmp_path, crops_manifest, "a cat")
    registry = make_registry(KeyPlugins())
    summary = run_benchmark(_config(manifest), registry, store)
    assert (summary.computed, summary.skipped) == (4, 0)
    return manifest, registry


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 1},
        {"scale": 4},
        {"options": {"psnr-y": {"crop_border": 0}, "caption-length": {"offset": 1.0}}},
        {"options": {"darken": {"gain": 0.5}}},
    ],
    ids=["seed", "scale", "metric-option", "degradation-option"],
)
def test_a_changed_setting_is_computed_again(first_run, store, changes):
    manifest, registry = first_run
    again = run_benchmark(_config(manifest, **changes), registry, store)
    assert (again.computed, again.skipped) == (4, 0)
    assert len(store.results()) == 8


def test_same_settings_and_options_set_to_their_defaults_are_skipped(first_run, store):
    manifest, registry = first_run
    defaults = {"psnr-y": {"crop_border": 4}, "darken": {"gain": 1}, "model:bicubic": {}}
    again = run_benchmark(_config(manifest, options=defaults), registry, store)
    assert (again.computed, again.skipped) == (0, 4)


def test_an_edited_caption_is_scored_again(first_run, tmp_path, crops_manifest, store):
    _, registry = first_run
    edited = _manifest(tmp_path, crops_manifest, "a black and white cat")
    again = run_benchmark(_config(edited), registry, store)
    assert (again.computed, again.skipped) == (4, 0)
    rows = store.results()
    lengths = rows[rows["metric"] == "caption-length"]["value"]
    assert sorted(lengths) == [2.0, 2.0, 5.0, 5.0]


def test_a_bumped_plugin_version_is_computed_again(first_run, make_registry, store):
    manifest, _ = first_run
    bumped = make_registry(KeyPlugins(version=2))
    again = run_benchmark(_config(manifest), bumped, store)
    assert (again.computed, again.skipped) == (2, 2)  # caption-length v2; psnr-y unchanged
    assert set(store.results()["metric_version"]) == {1, 2}


def test_a_changed_default_is_computed_again(first_run, make_registry, store):
    manifest, _ = first_run
    changed = make_registry(KeyPlugins(default_offset=10.0))
    again = run_benchmark(_config(manifest), changed, store)
    assert (again.computed, again.skipped) == (2, 2)
    rows = store.results()
    options = set(rows.loc[rows["metric"] == "caption-length", "metric_options"])
    assert options == {'{"offset":0.0}', '{"offset":10.0}'}


def test_keys_hold_effective_options_and_labels_only_what_differs(first_run, store):
    manifest, registry = first_run
    run_benchmark(_config(manifest, options={"psnr-y": {"crop_border": 0}}), registry, store)
    rows = store.results()
    psnr = rows[rows["metric"] == "psnr-y"]
    assert set(psnr["metric_options"]) == {'{"crop_border":4}', '{"crop_border":0}'}
    assert set(psnr["metric_label"]) == {"psnr-y", "psnr-y[crop_border=0]"}
    assert set(rows["degradation_options"]) == {'{"gain":1.0}'}
    assert set(rows["model_options"]) == {'{"mode":"bicubic"}'} and set(rows["model_label"]) == {
        "bicubic"
    }


def test_captioner_configuration_is_in_the_metric_key(make_registry):
    from semfid_bench.plugin_api.options import effective_options

    registry = make_registry()
    options = effective_options(registry, "metric", "c2c", {})
    assert options["captioner"] == "qwen2.5-vl" and options["captioner_version"] == 1
    assert "max_new_tokens" in options["captioner_options"]
    other = effective_options(
        registry, "metric", "c2c", {"captioner_options": {"max_new_tokens": 7}}
    )
    assert other["captioner_options"]["max_new_tokens"] == 7
    assert other["captioner_options"].keys() == options["captioner_options"].keys()


def test_api_and_publish_keep_variants_apart(tmp_path, crops_manifest, make_registry):
    from semfid_bench import api
    from semfid_bench.execution.store import ResultsStore
    from semfid_bench.report.publish import publish

    db = tmp_path / "r.db"
    registry = make_registry()
    with ResultsStore(db) as store:
        for options in ({}, {"psnr-y": {"crop_border": 0}}):
            config = RunConfig(
                models=["bicubic"],
                metrics=["psnr-y"],
                degradations=["bicubic"],
                manifest=crops_manifest,
                options=options,
            )
            run_benchmark(config, registry, store)
    (table,) = api.model_boards(db)
    assert table.metrics == ["psnr-y", "psnr-y[crop_border=0]"]
    assert table.frame["n"].tolist() == [2] and table.frame["psnr-y_n"].tolist() == [2]
    assert set(api.results(db)["metric_label"]) == {"psnr-y", "psnr-y[crop_border=0]"}
    publish(db, tmp_path / "report")
    models_csv = (tmp_path / "report" / "data" / "models.csv").read_text()
    assert "psnr-y[crop_border=0]_low" in models_csv.splitlines()[0]
    header = f"{md_text('psnr-y[crop_border=0]')} ↑"  # markdown-escaped, shown as typed
    assert header in (tmp_path / "report" / "index.md").read_text()
