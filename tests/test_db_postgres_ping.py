"""PostgreSQL connections are kept open between uses, and pinged only after resting in the pool
(dictation/db.py): a connection just given back is handed out again without a round trip, and one
that died while resting is replaced before anyone gets it. On the machine's real PostgreSQL."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from sqlalchemy import event, text

from dictation import db


@pytest.fixture
def counted_pings(pg_url, monkeypatch):
    """(engine, list of pings) with the pool's pings counted."""
    engine = db.make_engine(pg_url)
    pings: list[float] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection):
        pings.append(time.monotonic())
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    yield engine, pings
    engine.dispose()


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_reuse_connection_just_given_back_without_ping(counted_pings):
    engine, pings = counted_pings
    first = _backend(engine)
    assert [_backend(engine) for _ in range(20)] == [first] * 20  # the same connection each time
    assert pings == []


def test_ping_connection_that_rested_in_pool(counted_pings, monkeypatch):
    engine, pings = counted_pings
    monkeypatch.setattr(db, "IDLE_PING_S", 0.05)
    first = _backend(engine)
    time.sleep(0.1)
    assert _backend(engine) == first
    assert len(pings) == 1


def test_replace_connection_that_died_while_resting(counted_pings, monkeypatch):
    engine, pings = counted_pings
    monkeypatch.setattr(db, "IDLE_PING_S", 0.05)
    dead = _backend(engine)
    killer = db.make_engine(engine.url.render_as_string(hide_password=False))
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead}).scalar_one()
    killer.dispose()
    time.sleep(0.1)
    fresh = _backend(engine)  # no error reaches the caller: the ping found it dead
    assert fresh != dead and len(pings) == 1


def test_keep_connections_of_busy_process_open(pg_url):
    """Twelve sessions at once, twice: the second burst is served by the connections the first
    opened (SQLAlchemy's default pool kept 5 and closed the rest, so every burst forked new
    PostgreSQL processes)."""
    engine = db.make_engine(pg_url)
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    try:
        for burst in range(2):
            with ExitStack() as stack:
                conns = [stack.enter_context(engine.connect()) for _ in range(12)]
                pids = {conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in conns}
            assert len(pids) == 12
            assert len(opened) == 12, f"burst {burst + 1} opened {len(opened)} connections in all"
        assert engine.pool.checkedin() == 12
    finally:
        engine.dispose()
