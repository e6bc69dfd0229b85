"""End to end from the CLI on the bundled illustrative user study: run, both leaderboards
in every format, and the published report with readable plots."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.plugin_api.errors import SemfidError

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "results.db"
    result = invoke(
        "run", "--dataset", "user-study-sample", "--metrics", "psnr,ssim", "--db", str(path)
    )
    assert result.exit_code == 0, result.output
    assert "56 results computed" in result.output.replace("\n", " ")
    return path


def test_metric_leaderboard_json(db):
    result = invoke(
        "leaderboard",
        "--db",
        str(db),
        "--kind",
        "metrics",
        "--format",
        "json",
        "--resamples",
        "200",
    )
    payload = json.loads(result.output)
    rows = {(r["split"], r["metric"]): r for r in payload["metrics"]}
    assert set(rows) == {(s, m) for s in ("all", "train", "test") for m in ("psnr", "ssim")}
    assert rows[("all", "psnr")]["n"] == 28 and rows[("test", "psnr")]["n"] == 7
    # object edits lower PSNR and were rated as changes: the agreement is negative
    assert rows[("all", "psnr")]["srcc"] < 0 and rows[("all", "psnr")]["srcc_high"] < 0
    assert len(payload["pairwise"]) == 3


@pytest.mark.parametrize("fmt", ["markdown", "csv", "html", "json"])
@pytest.mark.parametrize("kind", ["models", "metrics"])
def test_every_leaderboard_format_writes_a_file(db, tmp_path, kind, fmt):
    out = tmp_path / f"board.{fmt}"
    invoke(
        "leaderboard",
        "--db",
        str(db),
        "--kind",
        kind,
        "--format",
        fmt,
        "--out",
        str(out),
        "--resamples",
        "50",
    )
    text = out.read_text()
    assert "object-edit" in text if kind == "models" else "ssim" in text
    assert "nan" not in text.lower() or fmt in ("csv", "json")


def test_publish_writes_page_plots_and_config(db, tmp_path):
    out = tmp_path / "report"
    invoke("publish", "--db", str(db), "--out", str(out), "--resamples", "200")
    markdown = (out / "index.md").read_text()
    for part in ("split test", "Models", "Run configuration", "bicubic-noise 0.5, 1", "cpu"):
        assert part in markdown
    pngs = sorted((out / "plots").glob("*.png"))
    assert {p.name.split("_")[0] for p in pngs} == {"correlations", "scatter", "levels"}
    for png in pngs:
        with Image.open(png) as image:
            assert image.size[0] > 300 and image.size[1] > 200
        assert f"plots/{png.name}" in markdown
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(pngs)
    assert (out / "data" / "metrics.csv").is_file() and (out / "data" / "runs.csv").is_file()


def test_publish_explains_the_worst_pairs_by_the_chosen_metric(db, tmp_path):
    out = tmp_path / "report"
    invoke("publish", "--db", str(db), "--out", str(out), "--resamples", "20",
           "--explain", "1", "--explain-by", "ssim")  # fmt: skip
    markdown = (out / "index.md").read_text()
    assert "the 1 pair(s) with the lowest ssim ↑" in markdown
    links = [line for line in markdown.splitlines() if line.startswith("- [")]
    assert len(links) == len(list((out / "items").glob("*.html"))) == 7  # model × level cells
    with pytest.raises(SemfidError, match="Cannot explain pairs by 'lpips'"):
        invoke("publish", "--db", str(db), "--out", str(tmp_path / "r2"), "--explain-by", "lpips")
    assert not (tmp_path / "r2").exists()  # refused before anything is written


def test_metric_leaderboard_without_mos_is_a_clear_error(tmp_path):
    db = tmp_path / "plain.db"
    invoke("run", "--dataset", "sample", "--metrics", "psnr", "--db", str(db))
    with pytest.raises(SemfidError, match="No paired items"):
        invoke("leaderboard", "--db", str(db), "--kind", "metrics")
    invoke("publish", "--db", str(db), "--out", str(tmp_path / "report"))  # models only
    assert "No paired items" in (tmp_path / "report" / "index.md").read_text()


def test_unknown_kind_and_format_are_refused(db):
    with pytest.raises(SemfidError, match="Unknown --kind"):
        invoke("leaderboard", "--db", str(db), "--kind", "people")
    with pytest.raises(SemfidError, match="Unknown format"):
        invoke("leaderboard", "--db", str(db), "--format", "pdf")
