"""`semfid-bench run --models seesr` end to end: tiny SeeSR with a tiny DAPE from local files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .ram_layout import TINY_RAM, write_tiny_dape_files
from .tiny_diffusion import write_tiny_seesr


@pytest.fixture(scope="module")
def seesr_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("seesr-cli")
    write_tiny_seesr(root, TINY_RAM.embed_dim)
    dape = write_tiny_dape_files(root / "dape")
    with Image.open(SAMPLE_MANIFEST.parent / "chelsea.png") as photo:
        photo.convert("RGB").crop((140, 100, 204, 164)).save(root / "chelsea.png")
    manifest = root / "crop.jsonl"
    manifest.write_text(
        '{"format": "semfid-bench-manifest", "version": 1, "name": "crop"}\n'
        '{"id": "chelsea", "gt": "chelsea.png"}\n'
    )
    options = {
        "weights": root / "seesr",
        "base": root / "base",
        "ram": dape["ram.pth"],
        "dape": dape["DAPE.pth"],
        "tag_list": dape["tags.txt"],
        "tag_thresholds": dape["thresholds.txt"],
        "ram_config": dape["config.json"],
        "steps": 2,
        "process_size": 64,
    }
    return manifest, [f"seesr.{key}={value}" for key, value in options.items()]


def _run(tmp_path, seesr_files, seed: int):
    manifest, options = seesr_files
    args = ["run", "--models", "seesr", "--metrics", "psnr", "--degradations", "bicubic"]
    args += ["--device", "cpu", "--seed", str(seed), "--manifest", str(manifest)]
    args += ["--db", str(tmp_path / "r.db"), "--save-images", str(tmp_path / "images")]
    for option in options:
        args += ["--set", option]
    result = CliRunner(env={"COLUMNS": "250", "SEMFID_BENCH_OFFLINE": "1"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 results computed" in result.output and "0 errors" in result.output, result.output
    with ResultsStore(tmp_path / "r.db") as store:
        assert np.isfinite(store.results()["value"]).all()
    (lr_path,) = (tmp_path / "images").rglob("LR/chelsea.png")
    (sr_path,) = (tmp_path / "images").rglob("seesr*/chelsea.png")  # the variant label
    return np.asarray(Image.open(lr_path)), np.asarray(Image.open(sr_path))


@pytest.mark.slow
def test_seesr_runs_from_the_cli_four_times_and_seeded(tmp_path, seesr_files):
    lr, sr = _run(tmp_path / "a", seesr_files, seed=5)
    _, again = _run(tmp_path / "b", seesr_files, seed=5)
    _, other = _run(tmp_path / "c", seesr_files, seed=6)
    assert lr.shape == (16, 16, 3)
    assert sr.shape == (64, 64, 3)
    assert np.array_equal(sr, again)
    assert not np.array_equal(sr, other)
