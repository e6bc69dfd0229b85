"""``semfid-bench train`` as a user runs it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.plugin_api.errors import ManifestError

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.mark.slow
def test_train_regressor_command_saves_a_checkpoint_and_prints_test_metrics(
    small_pairs, tmp_path, one_thread
):
    out = tmp_path / "ckpt" / "reg"
    args = ["train", "regressor", "--manifest", str(small_pairs), "--target", "fraction",
            "--backbone", "clip-rn50", "--pretrained", "none", "--depth", "1",
            "--input-size", "32", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "epoch 1: train loss" in result.output and "val srcc" in result.output
    assert "test_untrained" in result.output and "Saved" in result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["model"]["backbone"] == {**record["model"]["backbone"], "pretrained": None}
    assert record["model"]["depth"] == 1 and record["model"]["finetune"] is False
    assert record["training"]["options"]["batch_size"] == 8
    assert out.with_suffix(".safetensors").stat().st_size > 1_000_000  # full RN50 inside


def test_train_with_a_broken_manifest_reports_the_row(small_pairs, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = small_pairs.read_text().splitlines()
    row = json.loads(lines[1])
    row["sr"] = "nowhere.png"
    bad.write_text("\n".join([lines[0], json.dumps(row)]) + "\n")
    result = runner.invoke(app, ["train", "clu", "--manifest", str(bad), "--pretrained", "none"])
    assert isinstance(result.exception, ManifestError)
    assert "line 2 (id 'p000'): sr file not found" in str(result.exception)


@pytest.mark.slow
def test_train_regressor_recipe_thesis_is_recorded_and_explicit_options_win(
    small_pairs, tmp_path, one_thread
):
    out = tmp_path / "thesis"
    args = ["train", "regressor", "--manifest", str(small_pairs), "--target", "fraction",
            "--recipe", "thesis", "--pretrained", "none", "--depth", "1", "--input-size", "32",
            "--epochs", "1", "--feature-norm", "unit", "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    model, options = record["model"], record["training"]["options"]
    assert model["recipe"] == "thesis" and model["backbone"]["family"] == "clip-rn50"
    assert (model["taps"], model["preprocess"], model["crop_pct"]) == ("block3", "crop", 0.9)
    assert (model["backbone_bn"], model["head_init"], model["finetune"]) == (
        "train",
        "default",
        True,
    )
    assert model["feature_norm"] == "unit"  # given explicitly: overrides the recipe's "none"
    assert (options["split"], options["early_stopping"], options["batch_size"]) == (
        "thesis",
        False,
        5,
    )
