"""The command line as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from semfid_bench.cli import app

runner = CliRunner(env={"COLUMNS": "250"})


def test_run_then_leaderboard_then_resume(tmp_path):
    db = tmp_path / "r.db"
    first = runner.invoke(
        app,
        [
            "run",
            "--models",
            "bicubic,nearest",
            "--metrics",
            "psnr,ssim",
            "--device",
            "cpu",
            "--db",
            str(db),
        ],
    )
    assert first.exit_code == 0, first.output
    assert "48 results computed, 0 already done and skipped, 0 errors" in first.output
    again = runner.invoke(
        app, ["run", "--models", "bicubic,nearest", "--metrics", "psnr,ssim", "--db", str(db)]
    )
    assert "0 results computed, 48 already done and skipped" in again.output
    out = tmp_path / "lb.md"
    board = runner.invoke(
        app, ["leaderboard", "--db", str(db), "--rank-by", "ssim", "--out", str(out)]
    )
    assert board.exit_code == 0, board.output
    text = out.read_text()
    assert "| 1 | `bicubic` | 4 |" in text and "| 2 | `nearest` | 4 |" in text
    assert "ssim ↑ ★" in text


def test_errors_set_the_exit_code(tmp_path):
    manifest = tmp_path / "m.jsonl"
    odd = tmp_path / "odd.png"
    from PIL import Image

    Image.new("RGB", (30, 30)).save(odd)  # not divisible by 4: degradation fails
    manifest.write_text(
        '{"format": "semfid-bench-manifest", "version": 1}\n{"id": "odd", "gt": "odd.png"}\n'
    )
    result = runner.invoke(
        app, ["run", "--manifest", str(manifest), "--db", str(tmp_path / "r.db")]
    )
    assert result.exit_code == 1
    assert "not divisible by the scale 4" in result.output


def test_known_errors_are_printed_without_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "semfid_bench.cli",
            "run",
            "--models",
            "nope",
            "--db",
            str(tmp_path / "r.db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Unknown sr model 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_manifest_lists_row_and_path(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"format": "semfid-bench-manifest", "version": 1}\n{"id": "x", "gt": "gone.png"}\n'
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "semfid_bench.cli",
            "run",
            "--manifest",
            str(manifest),
            "--db",
            str(tmp_path / "r.db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "line 2 (id 'x'): gt file not found:" in proc.stderr
    assert "gone.png" in proc.stderr


def test_plugins_lists_kinds_and_sources():
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "sr_model" in result.output and "semfid-bench (built-in)" in result.output
    assert "psnr-y" in result.output


def test_manifest_command(tmp_path, sample_manifest):
    import shutil

    shutil.copy(sample_manifest.parent / "coffee.png", tmp_path / "coffee.png")
    result = runner.invoke(app, ["manifest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "manifest.jsonl").is_file() and "1 items" in result.output


def test_help_and_plugin_listing_do_not_import_torch():
    code = (
        "import sys\n"
        "from semfid_bench.cli import app\n"
        "from semfid_bench.plugin_api.plugin_manager import build_registry\n"
        "build_registry()\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers', 'pyiqa') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "semfid_bench.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "COLUMNS": "400"},
    )


def test_bad_option_values_and_paths_are_messages_with_exit_2(tmp_path):
    """Usage errors that used to end in tracebacks: each a one-line message, exit 2."""
    folder_db = tmp_path / "folder.db"
    folder_db.mkdir()
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("just text, not SQLite\n" * 100)
    a_file = tmp_path / "report"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = {
        ("run", "--levels", "abc", "--db", str(tmp_path / "l.db")): "Bad --levels 'abc'",
        ("run", "--device", "foo", "--db", str(tmp_path / "d.db")): "Unknown device 'foo'",
        ("run", "--db", str(folder_db)): f"Cannot use {folder_db} as a results database",
        ("run", "--db", str(not_a_db)): "file is not a database",
        ("leaderboard", "--db", str(not_a_db)): "file is not a database",
        ("run", "--models", "[/]", "--db", str(tmp_path / "m.db")): "Unknown sr model '[/]'",
    }
    for args, message in cases.items():
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    db = tmp_path / "r.db"
    proc = _cli("run", "--metrics", "psnr", "--levels", "1", "--set", "bicubic.mode=bilinear",
                "--db", str(db))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "bicubic[mode=bilinear]" in proc.stdout  # options shown, not eaten as markup
    proc = _cli("leaderboard", "--rank-by", "[/]", "--db", str(db))
    assert proc.returncode == 2 and "Cannot rank by '[/]'" in proc.stderr, proc.stderr
    proc = _cli("publish", "--out", str(a_file), "--db", str(db))
    assert proc.returncode == 2 and f"--out {a_file} is a file" in proc.stderr, proc.stderr
    if os.geteuid() != 0:  # root may write anywhere
        proc = _cli("publish", "--out", str(locked / "r"), "--db", str(db))
        assert proc.returncode == 2 and "Permission denied" in proc.stderr, proc.stderr
    proc = _cli("leaderboard", "--out", str(a_file / "x.md"), "--db", str(db))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
