"""Image decoding policy (semfid_bench.datasets.images) per kind of file, and a run over every kind:
each gives a value or an error row as documented, and the run goes on."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from semfid_bench.datasets.images import decode_image
from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of the given size whose pixels are all zero, written without
    holding the image in memory (a decompression bomb: tiny file, huge image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sixteen_bit_grey() -> tuple[bytes, np.ndarray]:
    values = RNG.integers(0, 65536, (24, 32), dtype=np.uint16)
    return _encode(Image.fromarray(values)), values


def sixteen_bit_rgb() -> tuple[bytes, np.ndarray]:
    values = RNG.integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", values[..., ::-1])  # OpenCV writes BGR
    assert ok
    return encoded.tobytes(), values


def test_8bit_rgb_grey_and_wrong_suffix_read_as_they_are():
    decoded = decode_image(_encode(Image.fromarray(RGB), "PNG"), "photo.jpg")
    assert np.array_equal(decoded.array, RGB) and decoded.notes == ()
    grey = RGB[..., 0]
    decoded = decode_image(_encode(Image.fromarray(grey)))
    assert np.array_equal(decoded.array, np.repeat(grey[..., None], 3, axis=2))
    assert decoded.notes == ()


def test_16bit_grey_is_scaled_not_clipped():
    data, values = sixteen_bit_grey()
    decoded = decode_image(data)
    expected = np.rint(values.astype(np.float64) / 257.0).astype(np.uint8)  # 65535 / 255
    assert np.array_equal(decoded.array[..., 1], expected)
    assert decoded.array.mean() == pytest.approx(values.mean() / 257.0, abs=0.5)
    assert decoded.notes == ("16-bit grey scaled to 8-bit",)


def test_16bit_rgb_keeps_the_high_byte():
    data, values = sixteen_bit_rgb()
    decoded = decode_image(data)
    assert np.array_equal(decoded.array, (values >> 8).astype(np.uint8))
    assert decoded.notes == ("16-bit RGB reduced to 8-bit (high byte)",)


def test_alpha_is_flattened_on_white():
    alpha = np.zeros((24, 32), np.uint8)
    alpha[:, 16:] = 255
    alpha[0, 0] = 128
    rgba = np.dstack([RGB, alpha])
    decoded = decode_image(_encode(Image.fromarray(rgba, "RGBA")))
    assert np.all(decoded.array[1:, :16] == 255)  # transparent → white
    assert np.array_equal(decoded.array[:, 16:], RGB[:, 16:])  # opaque → unchanged
    expected = np.rint(RGB[0, 0] * (128 / 255) + 255 * (1 - 128 / 255))
    assert np.array_equal(decoded.array[0, 0], expected.astype(np.uint8))
    assert decoded.notes == ("RGBA alpha flattened on white",)


def test_palette_and_cmyk_are_converted_with_a_note():
    palette = Image.fromarray(RGB).quantize(16)
    decoded = decode_image(_encode(palette))
    assert np.array_equal(decoded.array, np.array(palette.convert("RGB")))
    assert decoded.notes == ("palette image expanded to RGB",)
    transparent = palette.copy()
    transparent.info["transparency"] = 0
    assert decode_image(_encode(transparent)).notes == ("PA alpha flattened on white",)
    cmyk = Image.fromarray(RGB).convert("CMYK")
    decoded = decode_image(_encode(cmyk, "TIFF"))
    assert np.array_equal(decoded.array, np.array(cmyk.convert("RGB")))
    assert decoded.notes[0].startswith("CMYK converted to RGB")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "cannot identify image file"),
        (_encode(Image.fromarray(RGB))[:200], "truncated"),
        (_encode(Image.fromarray(RGB), "JPEG")[:300], "(?i)truncated"),
        (b"GIF89a nonsense", "cannot identify image file"),
        (_png_header_only(20_000, 20_000), "decompression bomb refused"),
        (_png_header_only(8_000, 7_000), "56.0 MP, over the pixel cap of 50 MP"),
        (_encode(Image.fromarray(RGB[..., 0].astype(np.float32), "F"), "TIFF"), "floating"),
    ],
    ids=["zero-bytes", "truncated-png", "truncated-jpeg", "garbage", "bomb", "cap", "float"],
)
def test_refused_files_name_the_file(data, message):
    with pytest.raises(ValueError, match=message) as caught:
        decode_image(data, "item.png")
    assert "item.png" in str(caught.value)


def test_a_run_over_every_kind_of_image_stores_a_value_or_an_error_row(
    make_registry, store, tmp_path, monkeypatch
):
    """Files the manifest accepts (its check reads headers only) but decoding refuses become
    error rows; every other kind is scored; a file broken after the manifest was read too."""
    grey16, _ = sixteen_bit_grey()
    rgb16, _ = sixteen_bit_rgb()
    alpha = np.dstack([RGB, np.full((24, 32), 100, np.uint8)])
    files = {
        "rgb": _encode(Image.fromarray(RGB)),
        "wrong-suffix": _encode(Image.fromarray(RGB), "JPEG"),
        "grey": _encode(Image.fromarray(RGB[..., 0])),
        "grey16": grey16,
        "rgb16": rgb16,
        "rgba": _encode(Image.fromarray(alpha, "RGBA")),
        "cmyk": _encode(Image.fromarray(RGB).convert("CMYK"), "JPEG"),
        "palette": _encode(Image.fromarray(RGB).quantize(16)),
        "one-pixel": _encode(Image.new("RGB", (1, 1), (9, 9, 9))),
        "odd-size": _encode(Image.fromarray(RGB[:23, :31])),
        "truncated-jpeg": _encode(Image.fromarray(RGB), "JPEG")[:-400],  # header intact
        "over-cap": _encode(Image.new("RGB", (64, 64))),
        "emptied-later": _encode(Image.fromarray(RGB)),
    }
    suffix = {"wrong-suffix": ".png", "cmyk": ".jpg", "truncated-jpeg": ".jpg"}
    rows = []
    for name, data in files.items():
        path = tmp_path / f"{name}{suffix.get(name, '.png')}"
        path.write_bytes(data)
        rows.append({"id": name, "gt": path.name})
    manifest = tmp_path / "kinds.jsonl"
    write_manifest(manifest, "kinds", rows)

    import semfid_bench.execution.runner as runner

    real_resolve = runner.resolve_manifest

    def resolve_then_break_a_file(config, registry):
        loaded = real_resolve(config, registry)
        (tmp_path / "emptied-later.png").write_bytes(b"")
        return loaded

    monkeypatch.setattr(runner, "resolve_manifest", resolve_then_break_a_file)
    config = RunConfig(
        models=["bicubic"],
        metrics=["psnr"],
        degradations=["bicubic"],
        manifest=manifest,
        max_pixels=32 * 32,
    )
    summary = run_benchmark(config, make_registry(), store)
    frame = store.results(include_errors=True).set_index("item_id")
    assert sorted(frame.index) == sorted(files)  # one row per item: nothing lost
    errors = frame["error"].dropna().to_dict()
    expected = ["emptied-later", "odd-size", "one-pixel", "over-cap", "truncated-jpeg"]
    assert sorted(errors) == expected
    assert "truncated" in errors["truncated-jpeg"].lower()
    assert "over the pixel cap of 0.001024 MP" in errors["over-cap"]
    assert "cannot identify image file" in errors["emptied-later"]
    assert str(tmp_path / "emptied-later.png") in errors["emptied-later"]
    assert "31x23 is not divisible by the scale 4" in errors["odd-size"]
    assert len(summary.errors) == 5
    details = frame["details"].dropna().to_dict()
    notes = {name: input_notes(text) for name, text in details.items()}
    assert notes == {
        "grey16": ["GT: 16-bit grey scaled to 8-bit"],
        "rgb16": ["GT: 16-bit RGB reduced to 8-bit (high byte)"],
        "rgba": ["GT: RGBA alpha flattened on white"],
        "cmyk": ["GT: CMYK converted to RGB without an ICC profile (colours may shift)"],
        "palette": ["GT: palette image expanded to RGB"],
    }
    assert "item 'rgba': GT: RGBA alpha flattened on white" in summary.notes
    scored = frame[frame["error"].isna()]
    assert np.isfinite(scored["value"]).all() and len(scored) == 8


def input_notes(details: str) -> list[str]:
    import json

    return json.loads(details)["input_notes"]


def test_one_pixel_and_odd_sizes_are_error_rows_naming_the_size(make_registry, store, tmp_path):
    """The degradations refuse a size the scale does not divide (no silent crop): an error
    row naming the item and its size; the other items are scored."""
    Image.fromarray(RGB[:23, :31]).save(tmp_path / "odd.png")
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    Image.fromarray(RGB).save(tmp_path / "ok.png")
    rows = [{"id": name, "gt": f"{name}.png"} for name in ("odd", "dot", "ok")]
    write_manifest(tmp_path / "m.jsonl", "sizes", rows)
    config = RunConfig(
        models=["bicubic"],
        metrics=["psnr"],
        degradations=["bicubic"],
        manifest=tmp_path / "m.jsonl",
    )
    run_benchmark(config, make_registry(), store)
    frame = store.results(include_errors=True).set_index("item_id")
    assert "item 'odd'" in frame.loc["odd", "error"] and "31x23" in frame.loc["odd", "error"]
    assert "item 'dot'" in frame.loc["dot", "error"] and "1x1" in frame.loc["dot", "error"]
    assert np.isfinite(frame.loc["ok", "value"]) and pd.isna(frame.loc["ok", "error"])


def test_pixel_cap_option_reaches_the_run(tmp_path):
    from typer.testing import CliRunner

    from semfid_bench.cli import app

    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "--max-megapixels" in result.output and "--allow-outside-paths" in result.output
