"""Property test: malformed manifests never escape ``load_manifest`` as anything but a
:class:`ManifestError` whose every problem names its line (or, for file-level problems, the
error names the file)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from semfid_bench.datasets.manifest import FORMAT, Manifest, load_manifest
from semfid_bench.plugin_api.errors import ManifestError

HEADER = {"format": FORMAT, "version": 1, "name": "fuzz"}
FILE_LEVEL = ("the manifest is empty", "the manifest has no items")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(root / "a.png")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(root / "b.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "sub").mkdir()
    return root


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


numbers = st.one_of(
    st.sampled_from(["1e309", "-1e309", "1" * 5000, "-" + "9" * 400, "NaN", "Infinity", "1.5"]),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
paths = st.one_of(
    st.sampled_from(["a.png", "b.png", "broken.png", "sub", "missing.png", "../a.png"]),
    st.sampled_from(["/etc/passwd", "a.png\\u0000x", "x" * 300 + ".png", "sub/" * 50 + "a"]),
    st.sampled_from(["\\ud800.png", "", ".", "~/a.png", "sub/../a.png", "sub/../../a.png"]),
    st.text(max_size=20).map(lambda t: json.dumps(t)[1:-1]),
)
ids = st.one_of(
    st.sampled_from(['"a"', '"b"', "7", "true", "null", '""', '"\\ud800"', '["a"]', '{"a":1}']),
    st.text(max_size=30).map(json.dumps),
)
fields = st.sampled_from(["id", "gt", "lr", "sr", "mask", "mos", "level", "labels"])
fields |= st.sampled_from(["caption", "split", "model", "degradation", "colour", "id"])
fields |= st.sampled_from(["panoptic", "segments"])
segment_values = st.one_of(
    st.sampled_from(["[]", "{}", "[1]", '[{"id": 1}]', '[{"id": 1, "category_id": 1}]']),
    st.sampled_from(['[{"id": 1, "category_id": 1}, {"id": 1, "category_id": 2}]']),
    st.sampled_from(['[{"id": 0, "category_id": -1, "iscrowd": 2, "colour": 1}]']),
    st.sampled_from(['[{"id": 16777216, "category_id": true, "iscrowd": 1.0}]']),
)


@st.composite
def item_lines(draw) -> bytes:
    """A JSON-ish item line assembled from raw fragments, so that values the ``json``
    module would never write (huge numbers, duplicate keys, bad escapes) appear."""
    parts = [f'"id": {draw(ids)}']
    for _ in range(draw(st.integers(0, 5))):
        key = draw(fields)
        if key in ("gt", "lr", "sr", "mask", "panoptic"):
            value = f'"{draw(paths)}"'
        elif key in ("mos", "level"):
            value = draw(numbers)
        elif key == "segments":
            value = draw(segment_values)
        elif key == "labels":
            value = f'{{"x": {draw(numbers)}}}' if draw(st.booleans()) else draw(numbers)
        else:
            value = draw(st.one_of(ids, numbers))
        parts.append(f'"{key}": {value}')
    if draw(st.booleans()):
        parts.append('"gt": "a.png"')
    return ("{" + ", ".join(draw(st.permutations(parts))) + "}").encode()


headers = st.one_of(
    st.just(_json(HEADER)),
    st.sampled_from([{**HEADER, "version": True}, {**HEADER, "version": 1.0}, {"format": "x"}]).map(
        _json
    ),
    st.sampled_from([[HEADER], {**HEADER, "name": ""}, {**HEADER, "name": 3}]).map(_json),
    st.just(b'{"format": "semfid-bench-manifest", "version": 1, "version": 2}'),
)
garbage = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\xff\xfe", b'{"id": "\xed\xa0\x80"}', b"\xef\xbb\xbf{}", b"[]", b"1"]),
    st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b"   ", b"", b"\t", b"\x0c", b"\x00", b'{"id": "a", "id": "b"}']),
)
lines = st.one_of(item_lines(), headers, garbage)


@st.composite
def manifests(draw) -> bytes:
    body = draw(st.lists(lines, max_size=6))
    if draw(st.booleans()):
        body.insert(0, draw(st.sampled_from([b"", b"  "])))
    if draw(st.booleans()):
        body.insert(0, _json(HEADER))
    separator = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    return separator.join(body)


def check(folder: Path, data: bytes) -> None:
    path = folder / "m.jsonl"
    path.write_bytes(data)
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        assert exc.problems and str(path) in str(exc)
        for problem in exc.problems:
            assert re.match(r"line \d+[: ]", problem) or problem in FILE_LEVEL, problem
    else:
        assert isinstance(manifest, Manifest) and len(manifest) >= 1
        for item in manifest:
            assert isinstance(item.id, str) and item.gt.parent == folder


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=manifests())
def test_malformed_manifests_give_line_numbered_errors(folder, data):
    check(folder, data)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"id": "a", "gt": "a.png", "mos": 1e309}', "line 2 (id 'a'): 'mos' must be a finite"),
        (b'{"id": "a", "gt": "a.png", "level": ' + b"1" * 5000 + b"}", "'level' must be"),
        (b'{"id": "a", "gt": "a.png", "labels": {"x": -1e400}}', "label 'x' must be a finite"),
        (b'{"id": "\xff", "gt": "a.png"}', "line 2: not valid UTF-8 (byte 0xff at column 9)"),
        (b'{"id": "\\udc00", "gt": "a.png"}', "line 2: text '\\udc00' holds a lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "line 2: JSON nested too deeply"),
        (b'{"id": "a", "gt": "a.png\\u0000"}', "contains a NUL character"),
        (b'{"id": "a", "gt": "' + b"x" * 400 + b'.png"}', "cannot be used: [Errno 36]"),
        (b'{"id": 7, "gt": "a.png"}', "line 2 (id 7): 'id' is required (a non-empty string)"),
        (b'{"id": "a", "gt": "a.png", "id": "b"}', "line 2: duplicate key 'id'"),
        (b'{"id": "a", "gt": "../a.png"}', "outside the manifest's folder"),
        (b'{"id": "a", "gt": "/etc/hostname"}', "outside the manifest's folder"),
    ],
)
def test_each_class_of_bad_line_is_reported(folder, line, expected):
    path = folder / "one.jsonl"
    path.write_bytes(_json(HEADER) + b"\n" + line + b"\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_header_is_checked_on_the_first_non_blank_line(folder):
    path = folder / "noheader.jsonl"
    path.write_bytes(b"\n   \n" + _json({"id": "a", "gt": "a.png"}) + b"\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert caught.value.problems[0].startswith("line 3: header must be")
    path.write_bytes(b"\n" + _json({**HEADER, "version": True}) + b"\n")
    with pytest.raises(ManifestError, match="line 2: manifest version True"):
        load_manifest(path)


def test_outside_paths_only_with_explicit_permission(folder, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "out.png")
    path = folder / "outside.jsonl"
    rows = [{"id": "rel", "gt": "sub/../a.png"}, {"id": "abs", "gt": str(tmp_path / "out.png")}]
    path.write_bytes(b"\n".join(_json(r) for r in [HEADER, *rows]))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert len(caught.value.problems) == 1 and "line 3 (id 'abs')" in caught.value.problems[0]
    manifest = load_manifest(path, allow_outside_paths=True)
    assert [item.gt for item in manifest] == [folder / "a.png", tmp_path / "out.png"]
