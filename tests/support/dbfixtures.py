"""Database fixtures and small factories, shared by the test modules that need a database.

The fixtures are a plugin (tests/conftest.py): a test asks for them by name, and imports
only the factories:

- `db`: a `Database` on a fresh SQLite file in the test's data dir, tables created, and
  `get_settings()` pointed at that data dir (so code under test finds the same database).
- `pg_db`: the same on PostgreSQL (127.0.0.1:5432, database `test`, user postgres), in a
  schema of its own that is dropped afterwards; skips (fails under CI=true) when PostgreSQL
  does not answer. `DICTATION_DATABASE_URL` points at it for the test's duration.
- `any_db`: runs the test twice, on SQLite and on PostgreSQL.
- `pg_url`: the URL of a fresh, EMPTY PostgreSQL schema (for migration tests).
- `make_user(session, role=...)`, `make_memo(session, author, status=...)`,
  `make_draft(session, memo)`: rows with sensible defaults, flushed so they have ids;
  any column can be given as a keyword.

Tables are made with `dictation.schema.metadata.create_all` (fast); tests/test_migrations.py checks that
the migrations build the same schema.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import uuid
import warnings

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import need

# Overridable for a laptop whose PostgreSQL listens elsewhere.
PG_URL = os.environ.get("DICTATION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_serial = itertools.count(1)


@functools.cache
def pg_available() -> bool:
    """Whether PostgreSQL answers (asked once per test run)."""
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _need_pg() -> None:
    need(pg_available(), f"PostgreSQL does not answer at {PG_URL}")


@pytest.fixture
def pg_url():
    """URL of a new empty schema (search_path set through libpq options); dropped afterwards."""
    _need_pg()
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            # A connection a failed test left open must not hang the run: give up and say so.
            conn.execute(text("SET lock_timeout = '20s'"))
            try:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            except sa.exc.OperationalError as exc:
                warnings.warn(f"schema {schema} left behind: {exc}", stacklevel=1)
        admin.dispose()


def _database(monkeypatch, url: str | None):
    from dictation import settings
    from dictation.db import Database
    from dictation.schema import metadata

    if url is not None:
        monkeypatch.setenv("DICTATION_DATABASE_URL", url)
    else:
        monkeypatch.delenv("DICTATION_DATABASE_URL", raising=False)
    settings.get_settings.cache_clear()
    database = Database(settings.get_settings())
    metadata.create_all(database.engine)
    return database


@pytest.fixture
def db(data_dir, monkeypatch):
    """A Database on a fresh SQLite file in the test's data dir, tables created."""
    database = _database(monkeypatch, None)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(data_dir, monkeypatch, pg_url):
    """A Database on PostgreSQL, in a schema of its own, tables created."""
    database = _database(monkeypatch, pg_url)
    yield database
    database.dispose()  # before pg_url drops the schema: no connection may hold it


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    """The test runs once per backend."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


# --- factories ---------------------------------------------------------------------------


def make_user(session: Session, role="assistant", **fields):
    """A user with a unique e-mail; `role` is a Role or its name."""
    from dictation.models import Role, User

    n = next(_serial)
    role = Role(role)
    fields.setdefault("email", f"{role.value}{n}@example.test")
    fields.setdefault("name", f"{role.value.title()} {n}")
    user = User(role=role.value, **fields)
    session.add(user)
    session.flush()
    return user


def make_memo(session: Session, author, status="ready", **fields):
    """A memo by `author` in `status` (a State or its name), pointing at made-up media bytes."""
    from dictation.models import Memo, State

    n = next(_serial)
    fields.setdefault("media_sha256", hashlib.sha256(f"memo {n}".encode()).hexdigest())
    fields.setdefault("title", f"Memo {n}")
    fields.setdefault("size_bytes", 1000 + n)
    memo = Memo(author_id=author.id, status=State(status).value, **fields)
    session.add(memo)
    session.flush()
    return memo


def make_draft(session: Session, memo, **fields):
    """The draft of `memo`, with a short body."""
    from dictation.models import Draft

    fields.setdefault("title", memo.title or "Untitled")
    fields.setdefault("body_markdown", "We ship on Friday.\n\nThanks, everyone.")
    fields.setdefault("machine_markdown", fields["body_markdown"])
    draft = Draft(memo_id=memo.id, **fields)
    session.add(draft)
    session.flush()
    session.refresh(memo, ["draft"])
    return draft
