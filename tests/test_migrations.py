"""Alembic migrations: they build exactly models.py on SQLite and PostgreSQL, and re-run safely."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from sqlalchemy import inspect, text

from dictation import migrations
from dictation.db import make_engine
from dictation.errors import Conflict
from dictation.schema import metadata

MODEL_TABLES = set(metadata.tables)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'migrate.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def tables(url) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_builds_schema_equal_to_models(empty_url):
    assert tables(empty_url) == set()
    assert migrations.upgrade(empty_url) == migrations.head()
    assert tables(empty_url) == MODEL_TABLES | {"alembic_version"}
    assert migrations.differences(empty_url) == []


def test_differences_notice_a_missing_column(sqlite_url):
    """The comparison above could fail: drop a column and it is reported."""
    migrations.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE memos DROP COLUMN note"))
    engine.dispose()
    found = migrations.differences(sqlite_url)
    assert any(d[0] == "add_column" and d[3].name == "note" for d in found), found


def test_upgrade_twice_is_a_no_op_and_keeps_rows(empty_url):
    migrations.upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, name, role, is_active, session_epoch, created_at) "
                 "VALUES ('ada@example.test', 'Ada', 'author', true, 0, CURRENT_TIMESTAMP)")
        )
    assert migrations.upgrade(empty_url) == migrations.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM users")).scalars().all() == ["ada@example.test"]
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_upgrade_concurrent_starts_both_succeed(empty_url):
    """The API and the worker start together: the migration lock lets one migrate."""
    results, errors = [], []
    barrier = threading.Barrier(2)

    def start():
        try:
            barrier.wait()
            results.append(migrations.upgrade(empty_url))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)  # a lost lock shows as a failure here, not as a hung run
    assert not any(t.is_alive() for t in threads), "a concurrent call never returned"
    assert errors == []
    assert results == [migrations.head()] * 2
    assert migrations.differences(empty_url) == []


def test_upgrade_stamps_database_made_by_create_all(empty_url):
    engine = make_engine(empty_url)
    metadata.create_all(engine)
    engine.dispose()
    assert migrations.current(empty_url) is None
    assert migrations.upgrade(empty_url) == migrations.head()
    assert migrations.current(empty_url) == migrations.head()


def test_upgrade_refuses_unversioned_database_that_differs(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE memos (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(Conflict, match="no migration history"):
        migrations.upgrade(sqlite_url)
    assert migrations.current(sqlite_url) is None


def test_downgrade_to_base_removes_every_table(empty_url):
    migrations.upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        command.downgrade(migrations.config(conn), "base")
    engine.dispose()
    assert tables(empty_url) <= {"alembic_version"}
    assert migrations.upgrade(empty_url) == migrations.head()


def test_upgrade_accepts_database_object(pg_url, data_dir, monkeypatch):
    from dictation import settings
    from dictation.db import Database

    monkeypatch.setenv("DICTATION_DATABASE_URL", pg_url)
    settings.get_settings.cache_clear()
    database = Database(settings.get_settings())
    try:
        assert migrations.upgrade(database) == migrations.head()
        assert migrations.current(database.engine) == migrations.head()
    finally:
        database.dispose()


def test_revisions_form_one_line_from_base():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.config())
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    # Revisions must not import the app's types: they outlive them.
    for rev in revisions:
        source = open(rev.path).read()
        assert "dictation." not in source, rev.path
