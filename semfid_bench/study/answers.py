"""Raters' answers to "is there a semantic change between the two images?".

An answers file is a CSV with a header row (or a study SQLite database with an ``answers``
table of the same columns), one answer per row:

==========  ========  ==================================================================
column      required  meaning
==========  ========  ==================================================================
rater       yes       the rater's name or code
pair_id     yes       the id of the pair in the pairs manifest (a trap may be any id)
answer      yes       ``yes`` (there is a semantic change) or ``no``; ``1``/``0`` and
                      ``true``/``false`` are read the same
is_trap     no        ``1``/``yes``/``true`` marks a trap pair (known answer); default no
expected    traps     the known answer of a trap pair (``yes``/``no``)
==========  ========  ==================================================================

Other columns (a time stamp, a confidence) are ignored. When a rater answered the same
pair more than once, the last answer counts.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from semfid_bench.escaping import csv_text_read
from semfid_bench.plugin_api.errors import SemfidError

REQUIRED = ("rater", "pair_id", "answer")
TRUE_WORDS = {"yes", "y", "1", "true"}
FALSE_WORDS = {"no", "n", "0", "false"}


@dataclass(frozen=True)
class Answer:
    """One rater's answer to one pair; ``expected`` is set for trap pairs only."""

    rater: str
    pair_id: str
    answer: bool
    expected: bool | None = None

    @property
    def is_trap(self) -> bool:
        return self.expected is not None


def _boolean(value: object, column: str, where: str, problems: list[str]) -> bool | None:
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    problems.append(f"{where}: {column} must be yes or no, got {value!r}")
    return None


def _parse_row(row: dict, where: str, problems: list[str]) -> Answer | None:
    start = len(problems)
    rater, pair_id = (str(row.get(k) or "").strip() for k in ("rater", "pair_id"))
    if not rater:
        problems.append(f"{where}: rater is empty")
    if not pair_id:
        problems.append(f"{where}: pair_id is empty")
    answer = _boolean(row.get("answer"), "answer", where, problems)
    trap = str(row.get("is_trap") or "").strip() != "" and _boolean(
        row.get("is_trap"), "is_trap", where, problems
    )
    expected = _boolean(row.get("expected"), "expected", where, problems) if trap else None
    if len(problems) > start:
        return None
    return Answer(rater=rater, pair_id=pair_id, answer=bool(answer), expected=expected)


def _csv_rows(path: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [
                {k: csv_text_read(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in reader
            ]
            return list(reader.fieldnames or []), rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SemfidError(f"Answers file {path} is not a readable CSV: {exc}") from exc


def _sqlite_rows(path: Path) -> tuple[list[str], list[dict]]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM answers ORDER BY rowid").fetchall()
            columns = [c[1] for c in db.execute("PRAGMA table_info(answers)")]
    except sqlite3.DatabaseError as exc:
        raise SemfidError(
            f"Study database {path} has no readable answers table: {exc}",
            hint="A study database holds a table 'answers' with columns " + ", ".join(REQUIRED),
        ) from exc
    return columns, [dict(r) for r in rows]


def read_answers(path: Path) -> list[Answer]:
    """Read an answers CSV or study SQLite database; raise listing every bad row."""
    path = Path(path)
    if not path.is_file():
        raise SemfidError(f"Answers file not found: {path}")
    with open(path, "rb") as handle:
        is_sqlite = handle.read(16) == b"SQLite format 3\x00"
    columns, rows = _sqlite_rows(path) if is_sqlite else _csv_rows(path)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SemfidError(
            f"Answers file {path} lacks column(s) {missing}; it has {columns}",
            hint="Columns: rater, pair_id, answer (yes/no), optional is_trap and expected.",
        )
    problems: list[str] = []
    answers: list[Answer] = []
    first = 1 if is_sqlite else 2  # a CSV's first data row is line 2
    for number, row in enumerate(rows, start=first):
        answer = _parse_row(row, f"{'row' if is_sqlite else 'line'} {number}", problems)
        if answer is not None:
            answers.append(answer)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise SemfidError(f"Answers file {path} has {len(problems)} problem(s):\n{shown}{more}")
    if not answers:
        raise SemfidError(f"Answers file {path} holds no answers.")
    return answers
