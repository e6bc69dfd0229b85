"""The regressor: learning a known answer, reproducibility, checkpoints as a metric plugin."""

from __future__ import annotations

import json

import pytest
import torch

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.learned.checkpoints import CheckpointError, load_checkpoint
from semfid_bench.learned.recipes import train_model
from semfid_bench.learned.regressor import RegressorConfig
from semfid_bench.learned.training import TrainOptions
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import sha256_of

from .synthetic import make_pairs


def _config(backbone, size=32, **kwargs):
    return RegressorConfig(backbone=backbone, depth=3, input_size=size, finetune=True, **kwargs)


@pytest.mark.slow
def test_training_learns_the_replaced_fraction_far_better_than_untrained(
    tmp_path, tiny_backbone, one_thread
):
    """SR = GT crop shifted by up to 10 px with a rectangle replaced by another photograph;
    label = replaced fraction. The shift makes raw feature differences a poor guess."""
    manifest = make_pairs(tmp_path, 400, size=32, noise=0.02, shift=10, seed=0)
    options = TrainOptions(epochs=15, lr=6e-3, batch_size=8, seed=0, patience=15)
    trained = train_model(manifest, _config(tiny_backbone), options, target="fraction")
    metrics = trained.record["metrics"]
    untrained, test = metrics["test_untrained"]["srcc"], metrics["test"]["srcc"]
    print(f"test SRCC untrained {untrained:.3f} → trained {test:.3f}")
    assert test > untrained + 0.2
    assert test > 0.8
    assert metrics["test"]["mse"] < metrics["test_untrained"]["mse"] / 2


def test_same_seed_gives_identical_weights_and_another_seed_does_not(
    small_pairs, tiny_backbone, one_thread
):
    options = TrainOptions(epochs=2, lr=1e-3, batch_size=4, seed=7, patience=2)
    runs = [
        train_model(small_pairs, _config(tiny_backbone), o, target="fraction").model.state_dict()
        for o in (options, options, TrainOptions(2, 1e-3, 4, seed=8, patience=2))
    ]
    assert runs[0].keys() == runs[1].keys()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, small_pairs):
    from semfid_bench.learned.backbones import backbone_config

    tiny = backbone_config("clip-rn50", None, layers=(1, 1, 1, 1), width=8)
    out = tmp_path_factory.mktemp("ckpt") / "reg"
    options = TrainOptions(epochs=1, lr=1e-3, batch_size=4, seed=0, patience=1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_model(small_pairs, _config(tiny), options, target="fraction", out=out)
    finally:
        torch.set_num_threads(before)


def test_checkpoint_is_safetensors_plus_json_with_training_record(checkpoint):
    assert checkpoint.weights.suffix == ".safetensors"
    record = json.loads(checkpoint.config_path.read_text())
    assert record["kind"] == "regressor"
    assert record["model"]["depth"] == 3
    assert record["model"]["backbone"]["family"] == "clip-rn50"
    assert record["model"]["backbone"]["mean"][0] == pytest.approx(0.48145466)
    assert len(record["training"]["data_sha256"]) == 64
    assert record["training"]["target"] == "fraction"
    assert record["training"]["pairs"] == {"train": 14, "val": 5, "test": 5}
    assert set(record["metrics"]["test"]) == {"srcc", "plcc", "mse"}


def test_reloaded_checkpoint_scores_like_the_trained_model_through_the_plugin(
    checkpoint, make_registry
):
    registry = make_registry()
    metric = registry.create("metric", "regressor", device=torch.device("cpu"),
                             checkpoint=str(checkpoint.config_path.with_suffix("")))  # fmt: skip
    torch.manual_seed(0)
    gt, sr = torch.rand(3, 3, 40, 40), torch.rand(3, 3, 40, 40)
    with torch.no_grad():
        expected = checkpoint.model.eval()(gt, sr)
    scores = metric.score(sr, metric.reference(gt, []))
    assert scores.shape == (3,)
    assert torch.allclose(scores, expected, atol=1e-6)
    assert not torch.allclose(scores, metric.score(gt, metric.reference(gt, [])))


def test_checkpoint_found_by_name_in_the_checkpoints_folder(checkpoint):
    model, record = load_checkpoint("reg", "regressor", checkpoint.config_path.parent)
    assert record["kind"] == "regressor" and not model.training


@pytest.mark.slow
def test_regressor_runs_inside_the_benchmark(checkpoint, make_registry, store, sample_manifest):
    config = RunConfig(
        models=["bicubic", "nearest"],
        metrics=["regressor"],
        degradations=["bicubic"],
        levels=[1.0],
        manifest=sample_manifest,
        device="cpu",
        options={"regressor": {"checkpoint": str(checkpoint.weights)}},
    )
    summary = run_benchmark(config, make_registry(), store)
    assert summary.errors == [] and summary.computed == 8
    values = store.results()["value"]
    assert values.notna().all() and (values >= 0).all()


def test_corrupt_weights_are_a_clear_error(checkpoint, tmp_path):
    bad = tmp_path / "bad"
    bad.with_suffix(".json").write_text(checkpoint.config_path.read_text())
    bad.with_suffix(".safetensors").write_bytes(checkpoint.weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_checkpoint(bad, "regressor")
    record = json.loads(checkpoint.config_path.read_text())
    record["weights_sha256"] = sha256_of(bad.with_suffix(".safetensors"))
    bad.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(WeightsUnavailableError, match=r"Cannot read weights file .*bad\.safet"):
        load_checkpoint(bad, "regressor")


def test_config_that_does_not_fit_the_weights_is_a_clear_error(checkpoint, tmp_path):
    record = json.loads(checkpoint.config_path.read_text())
    record["model"]["depth"] = 1
    other = tmp_path / "other"
    other.with_suffix(".json").write_text(json.dumps(record))
    other.with_suffix(".safetensors").write_bytes(checkpoint.weights.read_bytes())
    with pytest.raises(CheckpointError, match="do not fit the model") as info:
        load_checkpoint(other, "regressor")
    assert "unexpected heads.2.weight" in str(info.value)


def test_wrong_kind_and_missing_checkpoint_are_clear_errors(checkpoint, make_registry):
    with pytest.raises(CheckpointError, match="is a 'regressor' model, not a 'clu' one"):
        load_checkpoint(checkpoint.config_path, "clu")
    with pytest.raises(CheckpointError, match="No checkpoint 'nope'"):
        load_checkpoint("nope", "regressor")
    with pytest.raises(Exception, match="needs a trained checkpoint"):
        make_registry().create("metric", "regressor", device=torch.device("cpu"))
