"""The results database (SQLite): one row per (item, degradation, level, model, metric).

A result is identified by everything that determines its value, not by the run that
produced it: dataset; item id, GT content hash and a hash of the other manifest inputs
plugins read (caption, labels, mask and given LR contents); degradation, model and metric,
each with its effective options (factory defaults included), its spec ``version`` and its
``execution`` (device type, effective precision, TF32 policy, tiling: see
:mod:`semfid_bench.execution.plugin_execution`); level, scale and seed.
Re-running a command therefore finds finished rows and skips them; anything that changed is
computed again; error rows are retried and replaced. Each row also keeps readable variant
labels (``psnr-y[crop_border=0]``: options that differ from the defaults) so reports keep
variants apart without the registry. Each run's configuration
(versions, seed, device, selection, effective options) is kept in ``runs``; each metric's
spec in ``metric_specs``, and each manifest item's human labels (MOS, split) in ``items``.

Schema 2 added the complete key; schema 3 (this one) the execution fields, so CPU and GPU
(or fp32 and fp16) rows never share a key. An older database is refused with a message
saying so, never migrated: its rows lack what the new key needs, and guessing it would mix
results of different configurations.
"""

from __future__ import annotations

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

from semfid_bench.plugin_api.errors import SemfidError

if TYPE_CHECKING:
    import pandas as pd

    from semfid_bench.datasets.manifest import Item
    from semfid_bench.plugin_api.specs import MetricSpec

SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 30.0
"""How long one statement waits for another process's write lock."""
LOCK_RETRIES = 4
"""Retries (0.1, 0.2, 0.4, 0.8 s apart) after the busy timeout, before giving up."""

_KEY_TYPES = {
    "dataset": "TEXT", "item_id": "TEXT", "gt_hash": "TEXT", "inputs_hash": "TEXT",
    "degradation": "TEXT", "degradation_options": "TEXT", "degradation_version": "INTEGER",
    "degradation_execution": "TEXT", "level": "REAL", "scale": "INTEGER", "seed": "INTEGER",
    "model": "TEXT", "model_options": "TEXT", "model_version": "INTEGER",
    "model_execution": "TEXT", "metric": "TEXT", "metric_options": "TEXT",
    "metric_version": "INTEGER", "metric_execution": "TEXT",
}  # fmt: skip
KEY_COLUMNS = list(_KEY_TYPES)
"""The complete key of a result (and of a set-level metric's item statistics): a
:attr:`CellKey.key` followed by a metric's :attr:`PluginKey.key`."""
_KEY_DDL = "".join(f"    {name} {kind} NOT NULL,\n" for name, kind in _KEY_TYPES.items())
_ROW_TAIL_DDL = f"""    degradation_label TEXT NOT NULL,
    model_label TEXT NOT NULL,
    metric_label TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY ({", ".join(KEY_COLUMNS)})
"""
"""The columns after a row's key and payload, shared by ``results`` and ``item_stats``."""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    host TEXT,
    pid INTEGER
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
{_KEY_DDL}    value REAL,
    error TEXT,
    flag TEXT,
    details TEXT,
{_ROW_TAIL_DDL});
"""


_ITEM_STATS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS item_stats (
{_KEY_DDL}    stats TEXT NOT NULL,
{_ROW_TAIL_DDL});
"""
"""Per-item statistics of set-level metrics
(:class:`~semfid_bench.plugin_api.interfaces.SetMetric`), one row per cell and metric under
the same complete key as ``results``; ``stats`` is the encoding of
:func:`semfid_bench.execution.set_level_stats.encode_stats`. Added to schema 3 as a new
table (older databases gain it when opened); a set-level metric's failures are error rows
in ``results`` like any metric's."""

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


def cell_token(cell: CellKey) -> str:
    """A cell key as one opaque string (hash of its key fields in order), for claims."""
    text = json.dumps(cell.key, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def claim_owner(run_id: str) -> str:
    """This process as a claim owner: host, process id and run."""
    return f"{socket.gethostname()}|{os.getpid()}|{run_id}"


def _owner_gone(owner: str) -> bool:
    """True if ``owner`` was a process on this host that no longer exists."""
    host, _, rest = owner.partition("|")
    pid = rest.partition("|")[0]
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


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


METRIC_KEY_COLUMNS = ["metric", "metric_options", "metric_version", "metric_execution"]
"""The ``results`` columns that hold a metric's :attr:`PluginKey.key`, in its order."""


@dataclass(frozen=True)
class PluginKey:
    """A plugin as it enters a result key: name, effective options (canonical JSON), spec
    version and execution (canonical JSON: device type, precision, ...); ``label`` is its
    readable variant name (not part of the key)."""

    name: str
    options: str = "{}"
    version: int = 0
    label: str = ""
    execution: str = "{}"

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.name, self.options, self.version, self.execution)


@dataclass(frozen=True)
class CellKey:
    """Everything that determines the SR image one metric is computed on."""

    dataset: str
    item_id: str
    gt_hash: str
    inputs_hash: str
    degradation: PluginKey
    level: float
    scale: int
    seed: int
    model: PluginKey

    @property
    def key(self) -> tuple:
        return (
            self.dataset,
            self.item_id,
            self.gt_hash,
            self.inputs_hash,
            *self.degradation.key,
            self.level,
            self.scale,
            self.seed,
            *self.model.key,
        )


@dataclass(frozen=True)
class ResultRow:
    """One metric on one cell: a value (with a ``flag`` where it looks wrong, e.g. outside
    the metric's declared range), or an error message; for a set-level metric, its item
    statistics (``stats``, value None) instead of a value."""

    cell: CellKey
    metric: PluginKey
    value: float | None
    error: str | None = None
    details: dict | None = None
    flag: str | None = None
    stats: dict | None = None


class ResultsStore:
    """Results, runs and metric specs in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            self._check_schema()
            self._db.executescript(_SCHEMA)
            self._db.executescript(_CLAIMS_SCHEMA)
            self._db.executescript(_ITEM_STATS_SCHEMA)
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

    def _check_schema(self) -> None:
        """Refuse a database written with another schema: its rows cannot be mixed."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if "results" not in tables and "meta" not in tables:
            return
        version = None
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
        if version == str(SCHEMA_VERSION):
            return
        self._db.close()
        raise SemfidError(
            f"{self.path} is a results database of schema {version or 'unknown'}; this "
            f"semfid-bench reads and writes schema {SCHEMA_VERSION}, whose result keys also "
            "hold effective plugin options, plugin versions, manifest inputs and how each plugin "
            "executed (device type, precision, TF32, tiling). Its rows "
            "cannot be given those keys after the fact, so it is not migrated.",
            hint="Use a new database (--db NEW.db) and run again; the old file is left as it "
            "is (the semfid-bench version that wrote it still reads it).",
        )

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

    def start_run(self, run_id: str, config: dict, pid: int | None = None) -> None:
        """Record a run as ``running`` by this process (``pid``, default this one)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?)",
                (
                    run_id,
                    now(),
                    json.dumps(config, sort_keys=True, default=str),
                    socket.gethostname(),
                    os.getpid() if pid is None else pid,
                ),
            )

    def mark_interrupted(self) -> list[str]:
        """Runs still ``running`` whose process on this host has died (killed, crashed
        machine) become ``interrupted``; returns their ids. Runs of live processes, or of
        other hosts, are left alone."""
        rows = self._db.execute(
            "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ?",
            (socket.gethostname(),),
        ).fetchall()
        dead = [run_id for run_id, pid in rows if pid is not None and not _alive(pid)]
        with self._transaction() as db:
            db.executemany(
                "UPDATE runs SET status = 'interrupted' WHERE run_id = ?", [(r,) for r in dead]
            )
        return dead

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
        from semfid_bench.plugin_api.specs import MetricSpec

        rows = self._db.execute("SELECT name, spec FROM metric_specs").fetchall()
        specs = {}
        for name, text in rows:
            fields = json.loads(text)
            fields["value_range"] = tuple(fields["value_range"])
            fields["requires"] = tuple(fields.get("requires", ()))
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

    def finished_metrics(self, cell: CellKey) -> set[tuple[str, str, int, str]]:
        """Metric keys (:attr:`PluginKey.key`) that already have a value (or, set-level,
        item statistics) for this cell."""
        where = " AND ".join(f"{c}=?" for c in KEY_COLUMNS[: len(cell.key)])
        columns = ", ".join(METRIC_KEY_COLUMNS)
        rows = self._db.execute(
            f"SELECT {columns} FROM results WHERE {where} AND error IS NULL AND value IS NOT "
            f"NULL UNION SELECT {columns} FROM item_stats WHERE {where}",
            cell.key * 2,
        ).fetchall()
        return {tuple(row) for row in rows}

    def add(self, rows: Iterable[ResultRow], run_id: str) -> None:
        """Write rows in one transaction; a row replaces an earlier one for the same key
        (item statistics replace an earlier error row of their metric)."""
        from semfid_bench.execution.set_level_stats import encode_stats

        stamp = now()
        rows = list(rows)
        with_stats = [r for r in rows if r.stats is not None]
        stats_rows = [  # encoded before taking the write lock
            (
                *r.cell.key,
                *r.metric.key,
                encode_stats(r.stats),
                r.cell.degradation.label,
                r.cell.model.label,
                r.metric.label,
                run_id,
                stamp,
            )
            for r in with_stats
        ]
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO item_stats VALUES ({', '.join('?' * 25)})", stats_rows
            )
            where = " AND ".join(f"{c}=?" for c in KEY_COLUMNS)
            db.executemany(
                f"DELETE FROM results WHERE {where}",
                [(*r.cell.key, *r.metric.key) for r in with_stats],
            )
            db.executemany(
                f"INSERT OR REPLACE INTO results VALUES ({', '.join('?' * 28)})",
                [
                    (
                        *r.cell.key,
                        *r.metric.key,
                        r.value,
                        r.error,
                        r.flag,
                        None if r.details is None else json.dumps(r.details),
                        r.cell.degradation.label,
                        r.cell.model.label,
                        r.metric.label,
                        run_id,
                        stamp,
                    )
                    for r in rows
                    if r.stats is None
                ],
            )

    def runs(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM runs ORDER BY started_at", self._db)

    def results(self, *, include_errors: bool = False) -> pd.DataFrame:
        """All results as a DataFrame (one row per metric value), in the order written.
        Without ``include_errors``, only rows with a value."""
        import pandas as pd

        query = "SELECT * FROM results"
        if not include_errors:
            query += " WHERE error IS NULL AND value IS NOT NULL"
        return pd.read_sql_query(query + " ORDER BY rowid", self._db)

    def item_stats(self) -> pd.DataFrame:
        """Every set-level metric's item statistics (one row per cell and metric, in the
        order written): the key columns, labels, run and ``stats`` decoded to dicts (numpy
        arrays where they were arrays)."""
        import pandas as pd

        from semfid_bench.execution.set_level_stats import decode_stats

        frame = pd.read_sql_query("SELECT * FROM item_stats ORDER BY rowid", self._db)
        return frame.assign(stats=[decode_stats(text) for text in frame["stats"]])

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


def open_store(db: str | Path) -> ResultsStore:
    """The existing results database at ``db`` (readers never create one); a clear error if
    there is none."""
    if not Path(db).is_file():
        raise SemfidError(f"No results database at {db}.", hint="Run `semfid-bench run` first.")
    return ResultsStore(db)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is not ours, or the platform cannot tell
        return True
    return True
