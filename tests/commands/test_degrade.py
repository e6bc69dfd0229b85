"""``semfid-bench degrade``: the contact sheet shows GT and the exact LR images of `run`."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.images import load_image, quantize, read_rgb, to_uint8
from semfid_bench.degradations.bsrgan import BSRGANDegradation
from semfid_bench.degradations.contact_sheet import upscale_nearest
from semfid_bench.plugin_api.seeding import degradation_seed
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

runner = CliRunner(env={"COLUMNS": "200"})
CHELSEA = SAMPLE_MANIFEST.parent / "chelsea.png"
LABEL, GAP = 22, 6


def test_sheet_has_gt_then_each_level_as_run_would_degrade_it(tmp_path):
    out = tmp_path / "sheet.png"
    result = runner.invoke(
        app, ["degrade", str(CHELSEA), "--levels", "0.3,1.0", "--seed", "5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "bsrgan @ 0.3" in result.output and "final jpeg(quality=" in result.output
    sheet = np.array(Image.open(out).convert("RGB"))
    gt = read_rgb(CHELSEA)
    height, width = gt.shape[:2]
    assert sheet.shape == (height + LABEL + 2 * GAP, 3 * width + 4 * GAP, 3)

    def tile(index: int) -> np.ndarray:
        left = GAP + index * (width + GAP)
        return sheet[GAP + LABEL : GAP + LABEL + height, left : left + width]

    assert np.array_equal(tile(0), gt)
    hr = load_image(CHELSEA)
    for index, level in enumerate((0.3, 1.0), start=1):
        seed = degradation_seed(5, "chelsea", "bsrgan")
        lr = quantize(BSRGANDegradation(scale=4).degrade(hr, level=level, seed=seed))
        assert np.array_equal(tile(index), to_uint8(upscale_nearest(lr, (height, width))))


def test_image_not_divisible_by_scale_is_cropped_with_a_note(tmp_path):
    image = tmp_path / "odd.png"
    Image.fromarray(np.full((50, 70, 3), 120, np.uint8)).save(image)
    out = tmp_path / "sheet.png"
    result = runner.invoke(
        app, ["degrade", str(image), "--degradation", "realesrgan", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "cropped to 68x48" in result.output
    assert Image.open(out).size == (4 * 68 + 5 * GAP, 48 + LABEL + 2 * GAP)


def test_bad_level_and_unreadable_image_are_clear_errors(tmp_path):
    bad = runner.invoke(app, ["degrade", str(CHELSEA), "--levels", "1.5", "--out", "x.png"])
    assert bad.exit_code != 0 and "outside [0, 1]" in str(bad.exception)
    typo = runner.invoke(app, ["degrade", str(CHELSEA), "--levels", "0.3;0.7", "--out", "x.png"])
    assert typo.exit_code != 0 and "Bad --levels '0.3;0.7'" in str(typo.exception)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    unreadable = runner.invoke(app, ["degrade", str(junk), "--out", str(tmp_path / "s.png")])
    assert unreadable.exit_code != 0 and "junk.png" in str(unreadable.exception)
