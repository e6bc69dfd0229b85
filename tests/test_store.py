"""The results database: its schema is checked on opening, never mixed."""

import sqlite3

import pytest

from semfid_bench.execution.store import SCHEMA_VERSION, ResultsStore
from semfid_bench.plugin_api.errors import SemfidError


def test_a_new_database_records_its_schema(tmp_path):
    with ResultsStore(tmp_path / "new.db"):
        pass
    with sqlite3.connect(tmp_path / "new.db") as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == str(SCHEMA_VERSION) == "3"
    with ResultsStore(tmp_path / "new.db") as store:  # reopening is fine
        assert store.results().empty


@pytest.mark.parametrize("version", ["1", "2", "4", None])
def test_a_database_of_another_schema_is_refused_and_left_alone(tmp_path, version):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE results (dataset TEXT, value REAL)")
        db.execute("INSERT INTO results VALUES ('sample', 1.0)")
        if version is not None:
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    before = path.read_bytes()
    with pytest.raises(SemfidError, match=f"schema {version or 'unknown'}") as caught:
        ResultsStore(path)
    assert "not migrated" in str(caught.value) and "--db" in caught.value.hint
    assert path.read_bytes() == before
