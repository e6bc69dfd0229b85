"""The results database (SQLite): one row per (item, degradation, level, model, metric).

A result is identified by what determines its value, not by the run that produced it:
dataset, item id and GT content hash, degradation with level, scale and seed, model with
its options, metric with its options. Re-running a command therefore finds finished rows
and skips them; error rows are retried and replaced. Each run's configuration (versions,
seed, device, selection) is kept in ``runs``; each metric's spec in ``metric_specs``, and
each manifest item's human labels (MOS, split) in ``items``, so leaderboards and agreement
with MOS can be built from the database alone. (``items`` was added to schema 1 as a new
table; older databases gain it when opened.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from semfid_bench.errors import SemfidError

if TYPE_CHECKING:
    import pandas as pd

    from semfid_bench.manifest import Item
    from semfid_bench.specs import MetricSpec

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
"""How long one statement waits for another process's write lock."""
LOCK_RETRIES = 4
"""Retries (0.1, 0.2, 0.4, 0.8 s apart) after the busy timeout, before giving up."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metric_specs (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    dataset TEXT NOT NULL,
    item_id TEXT NOT NULL,
    mos REAL,
    split TEXT,
    paired INTEGER NOT NULL,
    PRIMARY KEY (dataset, item_id)
);
CREATE TABLE IF NOT EXISTS results (
    dataset TEXT NOT NULL,
    item_id TEXT NOT NULL,
    gt_hash TEXT NOT NULL,
    degradation TEXT NOT NULL,
    level REAL NOT NULL,
    scale INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    model TEXT NOT NULL,
    model_options TEXT NOT NULL,
    metric TEXT NOT NULL,
    metric_options TEXT NOT NULL,
    value REAL,
    error TEXT,
    details TEXT,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset, item_id, gt_hash, degradation, level, scale, seed,
                 model, model_options, metric, metric_options)
);
"""


_CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    cell TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""
"""Cells a run is computing now, so that concurrent runs on one database share the work.
Added to schema 1 as a new table (older databases gain it when opened); a claim is
released when its cell is stored, and counts for nothing once expired or once its owner
process (on this host) is gone."""


def cell_token(cell: object) -> str:
    """A cell key as one opaque string (hash of its fields in order), for claims."""
    fields = dataclasses.astuple(cell)
    text = json.dumps(fields, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def claim_owner(run_id: str) -> str:
    """This process as a claim owner: host, process id and run."""
    return f"{socket.gethostname()}|{os.getpid()}|{run_id}"


def _owner_gone(owner: str) -> bool:
    """True if ``owner`` was a process on this host that no longer exists."""
    host, _, rest = owner.partition("|")
    pid = rest.partition("|")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _retry_locked(action: Callable[[], object]) -> None:
    """Run ``action``; on ``database is locked``/``busy`` retry with exponential backoff."""
    for attempt in range(LOCK_RETRIES + 1):
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if attempt == LOCK_RETRIES or ("locked" not in message and "busy" not in message):
                raise
            time.sleep(0.1 * 2**attempt)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def canonical_options(options: dict | None) -> str:
    """Options as canonical JSON: the form they take in result keys."""
    return json.dumps(options or {}, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class CellKey:
    """Everything that determines the SR image one metric is computed on."""

    dataset: str
    item_id: str
    gt_hash: str
    degradation: str
    level: float
    scale: int
    seed: int
    model: str
    model_options: str


@dataclass(frozen=True)
class ResultRow:
    """One metric on one cell: a value, or an error message."""

    cell: CellKey
    metric: str
    metric_options: str
    value: float | None
    error: str | None = None
    details: dict | None = None


class ResultsStore:
    """Results, runs and metric specs in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            self._db.executescript(_SCHEMA)
            self._db.executescript(_CLAIMS_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise SemfidError(
                f"Cannot use {self.path} as a results database: {exc}.",
                hint="--db names an SQLite file (created if missing), not a folder or a file "
                "of another kind.",
            ) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. The write lock is taken up front (``BEGIN IMMEDIATE``),
        so a concurrent writer makes it wait, never fail half-way; waiting beyond the busy
        timeout is retried with backoff before ``database is locked`` is raised."""
        _retry_locked(lambda: self._db.execute("BEGIN IMMEDIATE"))
        try:
            yield self._db
        except BaseException:
            self._db.rollback()
            raise
        _retry_locked(self._db.commit)

    def start_run(self, run_id: str, config: dict) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?)",
                (run_id, now(), json.dumps(config, sort_keys=True, default=str)),
            )

    def finish_run(self, run_id: str, status: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                (now(), status, run_id),
            )

    def save_metric_specs(self, specs: Iterable[MetricSpec]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO metric_specs VALUES (?, ?)",
                [(s.name, json.dumps(asdict(s))) for s in specs],
            )

    def metric_specs(self) -> dict[str, MetricSpec]:
        from semfid_bench.specs import MetricSpec

        rows = self._db.execute("SELECT name, spec FROM metric_specs").fetchall()
        specs = {}
        for name, text in rows:
            fields = json.loads(text)
            fields["value_range"] = tuple(fields["value_range"])
            specs[name] = MetricSpec(**fields)
        return specs

    def save_items(self, dataset: str, items: Iterable[Item]) -> None:
        """Record each item's MOS and split as the manifest states them now."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
                [(dataset, i.id, i.mos, i.split, int(i.paired)) for i in items],
            )

    def items(self) -> pd.DataFrame:
        """Every recorded item's labels: dataset, item_id, mos, split, paired."""
        import pandas as pd

        frame = pd.read_sql_query("SELECT * FROM items", self._db)
        return frame.astype({"paired": bool})

    def finished_metrics(self, cell: CellKey) -> set[tuple[str, str]]:
        """(metric, metric_options) pairs that already have a value for this cell."""
        rows = self._db.execute(
            "SELECT metric, metric_options FROM results WHERE dataset=? AND item_id=? AND "
            "gt_hash=? AND degradation=? AND level=? AND scale=? AND seed=? AND model=? AND "
            "model_options=? AND error IS NULL",
            tuple(asdict(cell).values()),
        ).fetchall()
        return {(m, o) for m, o in rows}

    def add(self, rows: Iterable[ResultRow], run_id: str) -> None:
        """Write rows in one transaction; a row replaces an earlier one for the same key."""
        stamp = now()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO results VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        *asdict(r.cell).values(),
                        r.metric,
                        r.metric_options,
                        r.value,
                        r.error,
                        None if r.details is None else json.dumps(r.details),
                        run_id,
                        stamp,
                    )
                    for r in rows
                ],
            )

    def runs(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM runs ORDER BY started_at", self._db)

    def results(self, *, include_errors: bool = False) -> pd.DataFrame:
        """All results as a DataFrame (one row per metric value)."""
        import pandas as pd

        query = "SELECT * FROM results"
        if not include_errors:
            query += " WHERE error IS NULL"
        return pd.read_sql_query(query, self._db)

    def claim(self, token: str, owner: str, lease_s: float) -> bool:
        """Claim a cell (see :func:`cell_token`) for ``lease_s`` seconds; False if another
        owner holds a live claim. An expired claim, or one whose process is gone, is taken."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT owner, expires FROM claims WHERE cell = ?", (token,)
            ).fetchone()
            held = row is not None and row[0] != owner and row[1] > time.time()
            if held and not _owner_gone(row[0]):
                return False
            expires = time.time() + lease_s
            db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (token, owner, expires))
        return True

    def release(self, token: str, owner: str) -> None:
        """Give up a claim (after the cell's rows are stored, or when it fails)."""
        with self._transaction() as db:
            db.execute("DELETE FROM claims WHERE cell = ? AND owner = ?", (token, owner))

    def release_all(self, owner: str) -> None:
        """Give up every claim of ``owner`` (a run ending, finished or interrupted)."""
        with self._transaction() as db:
            db.execute("DELETE FROM claims WHERE owner = ?", (owner,))
