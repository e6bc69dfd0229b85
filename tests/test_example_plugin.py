"""The example plugin package, installed for real, seen through its entry point."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "semfid-bench-example-sr"
runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-install the example (no dependencies, no network) into a folder on sys.path;
    built from a copy so that no build files land in the repository."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("semfid_bench_example_sr")]:
        del sys.modules[name]


def test_example_is_listed_with_its_distribution_as_source(installed_example):
    registration = build_registry().get("sr_model", "sharp-bicubic")
    assert registration.source == "semfid-bench-example-sr 0.1.0"
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "sharp-bicubic" in line)
    assert "semfid-bench-example-sr 0.1.0" in row


def test_example_runs_in_a_benchmark(installed_example, tmp_path, crops_manifest):
    db = tmp_path / "r.db"
    result = runner.invoke(
        app,
        [
            "run",
            "--models",
            "sharp-bicubic,bicubic",
            "--metrics",
            "psnr",
            "--device",
            "cpu",
            "--db",
            str(db),
            "--manifest",
            str(crops_manifest),
            "--set",
            "sharp-bicubic.amount=0.8",
        ],
    )
    assert result.exit_code == 0, result.output
    with ResultsStore(db) as store:
        results = store.results()
    by_model = results.groupby("model")["value"].mean()
    assert set(by_model.index) == {"sharp-bicubic", "bicubic"}
    assert by_model["sharp-bicubic"] != pytest.approx(by_model["bicubic"])
