"""Hostile ids, labels and dataset names: no file outside the target folder, no crash,
nothing parsed as markup, escaped markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from PIL import Image
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.escaping import markdown_table, md_code, md_text
from semfid_bench.safe_paths import MAX_PART, encode_part, path_inside

HOSTILE = [
    "../x",
    "../../../../escaped",
    "/tmp/absolute-id",
    "a\x00b",
    "y" * 300,
    "[/]",
    "photo[a]",
    "a|b",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "line\n# heading",
    "tick`s",
    ".",
    "..",
]
RENDER = MarkdownIt("commonmark").enable("table")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("text", HOSTILE)
def test_each_part_is_one_name_inside_the_root(tmp_path, text):
    path = path_inside(tmp_path / "out", "dataset", text, suffix=".png")
    assert path.parent == tmp_path / "out" / "dataset"
    assert "/" not in path.name and "\x00" not in path.name and not path.name.startswith(".")
    assert len(path.name) <= MAX_PART + len(".png")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")  # the file system accepts the name
    assert _files(tmp_path) == {path}


def test_encoded_names_stay_distinct():
    names = [encode_part(t) for t in [*HOSTILE, "y" * 299, "a%00b", "a_b", "a b"]]
    assert len(set(names)) == len(names)


def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="resolves outside"):
        path_inside(tmp_path / "out", "link", "x", suffix=".png")


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_helpers_keep_text_literal_and_tables_intact(text):
    rendered = RENDER.render(
        "\n".join(
            [
                f"# {md_text(text)}",
                "",
                *markdown_table(["a", "b"], [[md_text(text), md_code(text)]]),
            ]
        )
    )
    assert "<script" not in rendered and "<img" not in rendered
    assert rendered.count("<h1>") == 1 and "<h2>" not in rendered  # a newline made no heading
    assert rendered.count("<td>") == 2  # a pipe made no extra cell
    assert rendered.count("<tr>") == 2


def test_hostile_run_save_leaderboard_publish(tmp_path, monkeypatch):
    """The whole path a user's text takes: manifest → run --save-images → terminal →
    leaderboard (markdown, HTML) → publish; nothing escapes the folders, nothing crashes."""
    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (32, 32), (200, 120, 40)).save(data / "gt.png")
    rows = [{"id": item_id, "gt": "gt.png"} for item_id in HOSTILE]
    for n, label in enumerate(["<script>x</script>", "m|x\n# y", "[/]", "`b`"]):
        Image.new("RGB", (32, 32), (190 - 9 * n, 125, 45)).save(data / f"sr{n}.png")
        rows.append({"id": f"p{n}", "gt": "gt.png", "sr": f"sr{n}.png", "model": label, "mos": n})
    write_manifest(data / "m.jsonl", "../<script>alert(1)</script>|[/]\n# x", rows)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    runner = CliRunner()
    before = _files(tmp_path)
    common = ["--db", "r.db"]
    result = runner.invoke(
        app,
        [
            "run",
            "--manifest",
            str(data / "m.jsonl"),
            "--models",
            "bicubic",
            "--degradations",
            "bicubic",
            "--metrics",
            "psnr",
            "--save-images",
            "saved",
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output  # shown literally in the summary table
    saved = _files(work / "saved")
    assert len(saved) == 2 * len(HOSTILE) + 4  # LR + SR per item, SR per pair: none lost
    assert _files(tmp_path) - before == saved | {work / "r.db"}

    for fmt in ("markdown", "html"):
        shown = runner.invoke(app, ["leaderboard", "--format", fmt, *common])
        assert shown.exit_code == 0, shown.output
        html = RENDER.render(shown.output) if fmt == "markdown" else shown.output
        assert "<script" not in html and "<img src=x" not in html and "onerror" not in html
    published = runner.invoke(app, ["publish", "--out", "report", *common])
    assert published.exit_code == 0, published.output
    index_md = (work / "report" / "index.md").read_text()
    index_html = (work / "report" / "index.html").read_text()
    for html in (RENDER.render(index_md), index_html):
        assert "<script" not in html and "onerror=" not in html
        assert "&lt;script&gt;" in html  # the label is shown, escaped
    assert all(p.resolve().is_relative_to(work) for p in _files(tmp_path) - before)
    assert not any("escaped" in p.name for p in tmp_path.parent.iterdir())


def test_precomputed_outputs_are_found_by_encoded_id_and_never_outside(tmp_path):
    from semfid_bench.datasets.manifest import Item
    from semfid_bench.sr_models.precomputed import PrecomputedOutputs

    outputs, elsewhere = tmp_path / "outputs", tmp_path / "elsewhere"
    outputs.mkdir()
    elsewhere.mkdir()
    Image.new("RGB", (8, 8)).save(elsewhere / "secret.png")
    Image.new("RGB", (8, 8)).save(outputs / f"{encode_part('sub/cat')}.png")
    (outputs / "link.png").symlink_to(elsewhere / "secret.png")
    model = PrecomputedOutputs(dir=str(outputs))
    found = model.find(Item(id="sub/cat", gt=tmp_path / "gt.png"), "bicubic", 1.0)
    assert found == outputs / "sub%2Fcat.png"
    for hostile in ("../elsewhere/secret", str(elsewhere / "secret"), "link"):
        with pytest.raises(FileNotFoundError, match="no precomputed output"):
            model.find(Item(id=hostile, gt=tmp_path / "gt.png"), "bicubic", 1.0)


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "'='"]
)
def test_csv_text_is_inert_in_spreadsheets_and_reads_back(text):
    from semfid_bench.escaping import csv_text, csv_text_read

    cell = csv_text(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_text_read(cell) == text


def test_answers_exported_with_formula_like_ids_read_back_unchanged(tmp_path):
    import csv

    from semfid_bench.escaping import csv_text
    from semfid_bench.study.answers import read_answers

    path = tmp_path / "answers.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rater", "pair_id", "answer", "is_trap", "expected", "answered_at"])
        writer.writerow(["alice", csv_text("=cmd|' /C calc'!A0"), "1", "0", "", "t"])
    assert path.read_text().splitlines()[1].startswith("alice,'=cmd")
    (answer,) = read_answers(path)
    assert answer.pair_id == "=cmd|' /C calc'!A0"
