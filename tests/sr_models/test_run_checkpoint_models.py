"""`semfid-bench run` with checkpoint models: missing weights up front, local paths run."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.store import ResultsStore


@pytest.mark.slow
def test_run_without_weights_lists_every_missing_file_before_any_work(tmp_path):
    db = tmp_path / "r.db"
    env = {**os.environ, "SEMFID_BENCH_OFFLINE": "1", "SEMFID_BENCH_CACHE": str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "semfid_bench.cli",
            "run",
            "--models",
            "bsrgan,swinir",
            "--metrics",
            "psnr,ssim",
            "--device",
            "cpu",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())  # undo rich's line wrapping
    for expected in (
        "BSRGAN.pth",
        "https://github.com/cszn/KAIR/releases/download/v1.0/BSRGAN.pth",
        "--set bsrgan.weights=PATH",
        "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth",
        "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/",
        "--set swinir.weights=PATH",
        "semfid-bench prefetch",
    ):
        assert expected in err, expected
    assert "Traceback" not in proc.stderr
    if db.exists():
        with ResultsStore(db) as store:
            assert store.results().empty


@pytest.mark.slow
def test_run_with_local_checkpoints(tmp_path, checkpoint_file, crops_manifest):
    db = tmp_path / "r.db"
    result = CliRunner(env={"COLUMNS": "250", "SEMFID_BENCH_OFFLINE": "1"}).invoke(
        app,
        [
            "run",
            "--models",
            "bsrgan,swinir,bicubic",
            "--metrics",
            "psnr,ssim",
            "--degradations",
            "bicubic",
            "--device",
            "cpu",
            "--db",
            str(db),
            "--manifest",
            str(crops_manifest),
            "--set",
            f"bsrgan.weights={checkpoint_file('bsrgan')}",
            "--set",
            f"swinir.weights={checkpoint_file('swinir')}",
            "--set",
            "swinir.tile=16",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "12 results computed" in result.output and "0 errors" in result.output
    with ResultsStore(db) as store:
        results = store.results()
    assert set(results["model"]) == {"bsrgan", "swinir", "bicubic"}
    assert results["value"].notna().all()
