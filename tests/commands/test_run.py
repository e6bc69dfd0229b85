"""``semfid-bench run`` as a user runs it: scoped options, variants, failing plugins."""

import math

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.escaping import md_text
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.specs import MetricSpec

runner = CliRunner(env={"COLUMNS": "250"})


def _run(db, manifest, *args):
    base = ["run", "--manifest", str(manifest), "--degradations", "bicubic", "--db", str(db)]
    return runner.invoke(app, [*base, "--device", "cpu", *args])


def test_a_bare_set_goes_to_the_plugin_that_takes_it(tmp_path, crops_manifest):
    """``bicubic`` is an SR model and (selected here) a degradation: ``mode`` is the model's."""
    result = _run(tmp_path / "r.db", crops_manifest, "--set", "bicubic.mode=bilinear")
    assert result.exit_code == 0, result.output
    assert "bicubic[mode=bilinear]" in result.output


def test_a_set_for_no_selected_plugin_is_refused(tmp_path, crops_manifest):
    result = _run(tmp_path / "r.db", crops_manifest, "--set", "psnr_y.crop_border=0")
    assert isinstance(result.exception, SemfidError)
    assert "no selected plugin is named 'psnr_y'" in str(result.exception)


def test_model_and_metric_variants_are_kept_apart(tmp_path, crops_manifest):
    db = tmp_path / "r.db"
    variant = ["--set", "model:bicubic.mode=bilinear", "--set", "psnr-y.crop_border=0"]
    for extra in ([], variant):
        result = _run(db, crops_manifest, "--models", "bicubic", "--metrics", "psnr-y", *extra)
        assert result.exit_code == 0, result.output
        assert "2 results computed, 0 already done" in result.output
    assert "bicubic[mode=bilinear]" in result.output  # the run's summary table
    assert "psnr-y[crop_border=0]" in result.output
    board = runner.invoke(app, ["leaderboard", "--db", str(db), "--rank-by", "psnr-y"])
    assert board.exit_code == 0, board.output
    assert f"| psnr-y ↑ ★ | {md_text('psnr-y[crop_border=0]')} ↑ |" in board.output
    rows = [line for line in board.output.splitlines() if "| `bicubic" in line]
    assert [row.split(" | ")[1:3] for row in rows] == [
        ["`bicubic`", "2"],
        ["`bicubic[mode=bilinear]`", "2"],
    ]
    assert rows[0].endswith("| – |") and rows[1].split(" | ")[3] == "–"


class Broken(Metric):
    mode = "raise"

    def __init__(self, device=None):
        pass

    def score(self, sr, reference):
        if Broken.mode == "raise":
            raise RuntimeError("broken metric")
        return sr.mean(dim=(1, 2, 3)) * math.nan


class BrokenPlugin:
    @hookimpl
    def register_metrics(self, register):
        register.add(MetricSpec(name="broken", higher_is_better=True), Broken)


@pytest.mark.parametrize("mode", ["raise", "nan"])
def test_a_failing_metric_gives_exit_1_and_the_database_stays_usable(
    tmp_path, crops_manifest, make_registry, monkeypatch, mode
):
    monkeypatch.setattr(Broken, "mode", mode)
    monkeypatch.setattr(
        "semfid_bench.plugin_api.plugin_manager.build_registry",
        lambda: make_registry(BrokenPlugin()),
    )
    db = tmp_path / "r.db"
    for _ in range(2):  # the second run retries the error rows and still prints its summary
        result = _run(db, crops_manifest, "--models", "bicubic", "--metrics", "psnr,broken")
        assert result.exit_code == 1, result.output
        assert "metric broken" in result.output and "bicubic" in result.output
    board = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert board.exit_code == 0, board.output
    assert "| 1 | `bicubic` | 2 |" in board.output


def test_metrics_all_leaves_out_metrics_missing_a_required_option(make_registry, capsys):
    from semfid_bench.commands.run import _runnable

    registry = make_registry()
    names = registry.names("metric")
    kept = _runnable(registry, names, {})
    assert "clu" not in kept and "regressor" not in kept and "psnr" in kept
    notes = capsys.readouterr().err
    assert "leaves out clu: add --set clu.checkpoint=..." in notes
    with_checkpoint = _runnable(registry, names, {"metric:clu": {"checkpoint": "my-clu"}})
    assert "clu" in with_checkpoint and "regressor" not in with_checkpoint


def test_plugins_options_lists_defaults_and_types():
    result = runner.invoke(app, ["plugins", "--options", "psnr-y"])
    assert result.exit_code == 0, result.output
    assert "--set psnr-y.OPTION=VALUE" in result.output
    (row,) = [line for line in result.output.splitlines() if "crop_border" in line]
    assert "4" in row and "int" in row
    both = runner.invoke(app, ["plugins", "--options", "bicubic"]).output
    assert "--set model:bicubic.OPTION=VALUE" in both and "degradation:bicubic" in both
    assert "device" not in both and "scale" not in both
