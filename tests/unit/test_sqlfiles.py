"""The loader of named query blocks and numbered migrations, and the SQLite files it
serves: every query the SQLite backend names exists and compiles against the schema."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from ttsqueue.backends import sqlfiles
from ttsqueue.backends.sqlite_db import split_statements

BACKENDS = Path(sqlfiles.__file__).parent


@pytest.fixture
def fake_dialect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dialect directory of our own, read by the uncached loader functions."""
    root = tmp_path / "sql"
    monkeypatch.setattr(sqlfiles, "_dir", lambda dialect: root / dialect)
    (root / "fake" / "migrations").mkdir(parents=True)
    return root / "fake"


def test_queries_splits_named_blocks(fake_dialect: Path) -> None:
    (fake_dialect / "queries.sql").write_text(
        "-- a header comment\n\n"
        "-- name: first\nSELECT 1\n\n"
        "-- name: second_one\n-- a comment inside the block\nSELECT 2\nFROM t\n",
        encoding="utf-8",
    )
    blocks = sqlfiles.queries.__wrapped__("fake")
    assert blocks == {
        "first": "SELECT 1",
        "second_one": "-- a comment inside the block\nSELECT 2\nFROM t",
    }


def test_queries_refuses_a_name_defined_twice(fake_dialect: Path) -> None:
    (fake_dialect / "queries.sql").write_text(
        "-- name: q\nSELECT 1\n-- name: q\nSELECT 2\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="defined twice"):
        sqlfiles.queries.__wrapped__("fake")


def test_migrations_in_version_order(fake_dialect: Path) -> None:
    for name in ("002_second.sql", "001_first.sql", "notes.txt", "3_bad_name.sql"):
        (fake_dialect / "migrations" / name).write_text(f"-- {name}\n", encoding="utf-8")
    found = sqlfiles.migrations.__wrapped__("fake")
    assert [(m.version, m.name) for m in found] == [(1, "first"), (2, "second")]
    assert found[0].sql == "-- 001_first.sql\n"


def test_migrations_refuse_a_gap(fake_dialect: Path) -> None:
    for name in ("001_first.sql", "003_third.sql"):
        (fake_dialect / "migrations" / name).write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected version 2, found 3"):
        sqlfiles.migrations.__wrapped__("fake")


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = (
        "-- leading comment\n"
        "CREATE TABLE a (x INTEGER);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "    UPDATE a SET x = 1;\n"
        "    UPDATE a SET x = 2;\n"
        "END;\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_split_statements_refuses_an_unfinished_statement() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE a (x INTEGER);\nCREATE TABLE b (y\n")


def test_sqlite_migrations_are_numbered_from_one() -> None:
    found = sqlfiles.migrations("sqlite")
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found, "the sqlite dialect has migrations"


def test_every_query_the_sqlite_backend_names_exists() -> None:
    named: set[str] = set()
    for module in BACKENDS.glob("sqlite*.py"):
        named |= set(re.findall(r'Q\["(\w+)"', module.read_text(encoding="utf-8")))
    blocks = sqlfiles.queries("sqlite")
    # names built from parts in the code (page and count variants)
    named |= {n for n in blocks if n.startswith(("jobs_page", "job_counts", "task_counts"))}
    named |= {n for n in blocks if n.startswith(("user_count", "oldest_pending", "claim_"))}
    named |= {"begin_exclusive", "begin_read", "begin_immediate"}
    assert named - set(blocks) == set(), "queries named in code but missing from queries.sql"
    assert set(blocks) - named == set(), "queries.sql blocks no code uses"


def sqlite_schema() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for migration in sqlfiles.migrations("sqlite"):
        for statement in split_statements(migration.sql):
            conn.execute(statement)
    conn.execute(sqlfiles.queries("sqlite")["create_schema_versions"])
    return conn


def statements() -> list[tuple[str, str]]:
    return [
        (name, sql)
        for name, sql in sqlfiles.queries("sqlite").items()
        if not name.startswith(("begin_", "commit", "rollback", "pragma_"))
    ]


def test_sqlite_queries_never_walk_a_whole_big_table() -> None:
    """Jobs, tasks and events grow without bound: only the admin-wide task count may
    read all of them; every other query goes through an index."""
    conn = sqlite_schema()
    allowed = {"task_counts"}
    for name, sql in statements():
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, _AnyParams())]
        full = [
            step
            for step in plan
            if re.match(r"SCAN (jobs|tasks|events|t|c|j)\b", step) and "INDEX" not in step
        ]
        if name not in allowed:
            assert full == [], f"{name} scans a whole table: {plan}"


def test_every_sqlite_query_compiles_against_the_schema() -> None:
    conn = sqlite_schema()
    for name, sql in statements():
        try:
            conn.execute("EXPLAIN " + sql, _AnyParams())
        except sqlite3.Error as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"query {name} does not compile: {exc}")


class _AnyParams(dict[str, object]):
    """Binds None to every named parameter, so EXPLAIN can compile any query."""

    def __missing__(self, key: str) -> object:
        return None
