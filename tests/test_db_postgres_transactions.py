"""On PostgreSQL a session opens a transaction only for a write, a lock or a savepoint
(dictation/db.py `_begin_only_to_write`): reads run alone and leave no transaction open, and
from the first write on everything up to the commit or rollback is still one transaction.
Observed from a second connection (pg_stat_activity, locks), on the machine's real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from dictation import db


@pytest.fixture
def engines(pg_url):
    """(the app's engine, a plain engine for looking from outside), on a table `notes`."""
    import sqlalchemy as sa

    engine = db.make_engine(pg_url)
    outside = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with outside.connect() as conn:
        conn.execute(text("CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)"))
        conn.execute(text("INSERT INTO notes VALUES (1, 'kept')"))
    yield engine, outside
    engine.dispose()
    outside.dispose()


def _state(outside, session: Session) -> str:
    """What PostgreSQL says the session's connection is doing ('idle', 'idle in transaction')."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with outside.connect() as conn:
        return conn.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one()


def _bodies(outside) -> list[str]:
    with outside.connect() as conn:
        return list(conn.execute(text("SELECT body FROM notes ORDER BY id")).scalars())


def test_read_leaves_no_transaction_open(engines):
    engine, outside = engines
    with sessionmaker(engine)() as session:
        assert session.execute(text("SELECT body FROM notes")).scalar_one() == "kept"
        assert _state(outside, session) == "idle"


def test_write_after_reads_rolls_back_whole(engines):
    engine, outside = engines
    with sessionmaker(engine)() as session:
        session.execute(text("SELECT count(*) FROM notes"))
        session.execute(text("INSERT INTO notes VALUES (2, 'first')"))
        assert _state(outside, session) == "idle in transaction"
        session.execute(text("SELECT count(*) FROM notes"))  # a read inside it stays inside it
        session.execute(text("INSERT INTO notes VALUES (3, 'second')"))
        assert _bodies(outside) == ["kept"]  # nothing seen outside before the commit
        session.rollback()
    assert _bodies(outside) == ["kept"]


def test_commit_write_then_read_alone_again(engines):
    engine, outside = engines
    with sessionmaker(engine)() as session:
        session.execute(text("UPDATE notes SET body = 'changed' WHERE id = 1"))
        session.commit()
        assert session.execute(text("SELECT body FROM notes")).scalar_one() == "changed"
        assert _state(outside, session) == "idle"
    assert _bodies(outside) == ["changed"]


def test_hold_row_lock_until_commit(engines):
    engine, outside = engines
    import sqlalchemy as sa

    with sessionmaker(engine)() as session:
        session.execute(text("SELECT body FROM notes WHERE id = 1 FOR UPDATE"))
        with outside.connect() as conn, pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            conn.execute(text("SELECT body FROM notes WHERE id = 1 FOR UPDATE NOWAIT"))
        session.commit()
    with outside.connect() as conn:
        assert conn.execute(text("SELECT body FROM notes WHERE id = 1 FOR UPDATE NOWAIT")).scalar_one() == "kept"


def test_hold_advisory_transaction_lock_until_commit(engines):
    engine, outside = engines
    with sessionmaker(engine)() as session:
        session.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        with outside.connect() as conn:
            assert conn.execute(text("SELECT pg_try_advisory_xact_lock(4242)")).scalar_one() is False
        session.commit()
    with outside.connect() as conn:
        assert conn.execute(text("SELECT pg_try_advisory_xact_lock(4242)")).scalar_one() is True


def test_roll_back_savepoint_as_first_statement(engines):
    engine, outside = engines
    with sessionmaker(engine)() as session:
        with session.begin_nested() as savepoint:
            session.execute(text("INSERT INTO notes VALUES (2, 'dropped')"))
            savepoint.rollback()
        session.execute(text("INSERT INTO notes VALUES (3, 'added')"))
        session.commit()
    assert _bodies(outside) == ["kept", "added"]


def test_leave_isolation_level_to_sqlalchemy(engines):
    engine, outside = engines
    # AUTOCOMMIT asked for: CREATE INDEX CONCURRENTLY refuses to run inside a transaction.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE INDEX CONCURRENTLY ix_notes_body ON notes (body)"))
    # REPEATABLE READ asked for: every read of the transaction sees its first snapshot.
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        assert conn.execute(text("SELECT body FROM notes")).scalar_one() == "kept"
        with outside.connect() as other:
            other.execute(text("UPDATE notes SET body = 'changed'"))
        assert conn.execute(text("SELECT body FROM notes")).scalar_one() == "kept"
    with engine.connect() as conn:  # the pooled connection is back to the usual rule
        assert conn.execute(text("SELECT body FROM notes")).scalar_one() == "changed"


def test_stream_rows_as_first_statement(engines):
    engine, _ = engines
    with engine.connect() as conn:  # a server-side cursor is DECLAREd: that needs a transaction
        streamed = conn.execution_options(stream_results=True).execute(text("SELECT body FROM notes"))
        assert list(streamed.scalars()) == ["kept"]


@pytest.mark.parametrize(("statement", "alone"), [
    ("SELECT 1", True),
    ("  select id from notes where body = 'for update'", False),  # conservative: the words decide
    ("SELECT id FROM notes FOR UPDATE", False),
    ("SELECT id FROM notes\nFOR NO KEY UPDATE SKIP LOCKED", False),
    ("SELECT id FROM notes FOR SHARE", False),
    ("SELECT pg_advisory_xact_lock(1)", False),
    ("WITH gone AS (DELETE FROM notes RETURNING id) SELECT count(*) FROM gone", False),
    ("INSERT INTO notes VALUES (9, 'x')", False),
    ("SAVEPOINT sa_savepoint_1", False),
    ("SELECT * INTO notes_copy FROM notes", False),
    ("SELECT pg_notify('memos', '1')", False),  # sent at the commit, or never
    ("SELECT set_config('dictation.actor', '7', true)", False),
])
def test_decide_statement_needs_transaction(statement, alone):
    assert db.reads_only(statement) is alone
