"""The rating web app's SQLite database: every answer committed the moment it arrives.

Table ``answers`` has the columns of an answers file (``rater``, ``pair_id``, ``answer``
``yes``/``no``, ``is_trap`` 0/1, ``expected``; see :mod:`semfid_bench.study.answers`) plus
``answered_at``, so ``study mos study.sqlite`` reads it directly. ``raters`` lists who
joined, ``sessions`` the settings of each server start. WAL journal, ``synchronous=FULL``:
an answer acknowledged to the browser survives a crash or restart.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.study.schedule import StudyItem

ANSWER_COLUMNS = ("rater", "pair_id", "answer", "is_trap", "expected", "answered_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    rater TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('yes', 'no')),
    is_trap INTEGER NOT NULL CHECK (is_trap IN (0, 1)),
    expected TEXT CHECK (expected IN ('yes', 'no')),
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_rater ON answers (rater);
CREATE TABLE IF NOT EXISTS raters (code TEXT PRIMARY KEY, joined_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    started_at TEXT NOT NULL, manifest TEXT NOT NULL, seed INTEGER NOT NULL,
    raters_per_pair INTEGER NOT NULL, trap_rate REAL NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _word(value: bool) -> str:
    return "yes" if value else "no"


class StudyStore:
    """One connection shared by the server's threads behind a lock (autocommit)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise SemfidError(f"Cannot use {self.path} as a study database: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_session(self, manifest: Path, seed: int, raters_per_pair: int, trap_rate: float):
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_now(), str(manifest), seed, raters_per_pair, trap_rate),
            )

    def add_rater(self, code: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO raters VALUES (?, ?)", (code, _now()))

    def record(self, rater: str, item: StudyItem, answer: bool) -> None:
        """Store one answer (committed before returning)."""
        expected = None if item.expected is None else _word(item.expected)
        with self._lock:
            self._db.execute(
                "INSERT INTO answers (rater, pair_id, answer, is_trap, expected, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (rater, item.pair_id, _word(answer), int(item.is_trap), expected, _now()),
            )

    def answered(self, rater: str) -> set[str]:
        """The ids a rater answered."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT pair_id FROM answers WHERE rater = ?", (rater,)
            )
            return {r[0] for r in rows}

    def raters_per_pair(self) -> dict[str, int]:
        """Per pair id (traps too), the number of distinct raters who answered it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pair_id, COUNT(DISTINCT rater) FROM answers GROUP BY pair_id"
            )
            return dict(rows.fetchall())

    def rows(self) -> list[tuple]:
        """Every answer in arrival order, as :data:`ANSWER_COLUMNS` tuples."""
        with self._lock:
            return self._db.execute(
                f"SELECT {', '.join(ANSWER_COLUMNS)} FROM answers ORDER BY id"
            ).fetchall()

    def raters(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT code FROM raters ORDER BY joined_at")]
