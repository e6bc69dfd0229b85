"""Precomputed SR outputs: matched per item and level, errors per item, several instances."""

import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.sr_models.precomputed import PrecomputedOutputs

runner = CliRunner(env={"COLUMNS": "250"})
RUN = ["run", "--metrics", "psnr,ssim", "--degradations", "bicubic", "--device", "cpu"]


@pytest.fixture(scope="module")
def bicubic_outputs(tmp_path_factory):
    """Bicubic SR images of the sample dataset, saved by a real run, and its scores."""
    root = tmp_path_factory.mktemp("saved")
    db = root / "r.db"
    result = runner.invoke(
        app, [*RUN, "--models", "bicubic", "--db", str(db), "--save-images", str(root / "img")]
    )
    assert result.exit_code == 0, result.output
    with ResultsStore(db) as store:
        scores = store.results().set_index(["item_id", "metric"])["value"]
    return root / "img" / "sample" / "bicubic@1" / "bicubic", scores


def _scores(db):
    with ResultsStore(db) as store:
        return store.results(include_errors=True)


def test_precomputed_outputs_score_like_the_model_that_made_them(tmp_path, bicubic_outputs):
    saved, expected = bicubic_outputs
    shutil.copytree(saved, tmp_path / "out" / "bicubic@1")
    db = tmp_path / "r.db"
    result = runner.invoke(
        app,
        [
            *RUN,
            "--models",
            "precomputed",
            "--db",
            str(db),
            "--set",
            f"precomputed.dir={tmp_path / 'out'}",
        ],
    )
    assert result.exit_code == 0, result.output
    got = _scores(db).set_index(["item_id", "metric"])["value"]
    assert len(got) == 8
    assert got.sort_index().to_dict() == pytest.approx(expected.sort_index().to_dict())


def test_missing_and_mis_sized_outputs_fail_only_their_items(tmp_path, bicubic_outputs):
    saved, _ = bicubic_outputs
    out = tmp_path / "flat"
    shutil.copytree(saved, out)  # flat layout: no <degradation>@<level> folders
    (out / "rocket.png").unlink()
    with Image.open(out / "coffee.png") as image:
        image.resize((image.width // 2, image.height // 2)).save(out / "coffee.png")
    db = tmp_path / "r.db"
    result = runner.invoke(
        app, [*RUN, "--models", "precomputed", "--db", str(db), "--set", f"precomputed.dir={out}"]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no precomputed output for item 'rocket'" in text and str(out) in text
    assert "precomputed output" in text and "coffee.png is" in text
    results = _scores(db)
    ok = results[results["error"].isna()]
    assert set(ok["item_id"]) == {"astronaut", "chelsea"}
    assert len(results[results["error"].notna()]) == 4


def test_several_precomputed_models_are_instances(tmp_path, bicubic_outputs):
    saved, _ = bicubic_outputs
    for name in ("seesr", "pasd"):
        shutil.copytree(saved, tmp_path / name / "bicubic@1")
    db = tmp_path / "r.db"
    result = runner.invoke(
        app,
        [
            *RUN,
            "--models",
            "precomputed:seesr,precomputed:pasd",
            "--db",
            str(db),
            "--set",
            f"precomputed:seesr.dir={tmp_path / 'seesr'}",
            "--set",
            f"precomputed:pasd.dir={tmp_path / 'pasd'}",
        ],
    )
    assert result.exit_code == 0, result.output
    results = _scores(db)
    assert set(results["model"]) == {"precomputed:seesr", "precomputed:pasd"}
    board = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert "precomputed:seesr" in board.output and "precomputed:pasd" in board.output


def test_outputs_are_found_by_gt_file_name_when_ids_differ(tmp_path, sample_manifest):
    from semfid_bench.datasets.manifest import Item
    from semfid_bench.plugin_api.interfaces import UpscaleContext

    (tmp_path / "given-lr@1").mkdir()
    Image.new("RGB", (16, 12)).save(tmp_path / "given-lr@1" / "photo_001.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "unrelated@1.png")
    model = PrecomputedOutputs(scale=4, dir=str(tmp_path))
    item = Item(id="item-1", gt=tmp_path / "gt" / "photo_001.png")
    import torch

    sr = model.upscale(torch.zeros(1, 3, 3, 4), UpscaleContext([item], "given-lr", 1.0, 0))
    assert sr.shape == (1, 3, 12, 16)


def test_folder_is_required():
    with pytest.raises(SemfidError, match="needs the folder"):
        PrecomputedOutputs(scale=4)
    with pytest.raises(SemfidError, match="does not exist"):
        PrecomputedOutputs(scale=4, dir="/nonexistent/outputs")
