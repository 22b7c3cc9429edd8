"""The door's PostgreSQL reader (dictation/loopread.py): a row read awaited on the event loop,
on the machine's real PostgreSQL. It only reads, it gives up at once rather than make a request
wait (a slow read, a database away, a connection killed), it does not retry a failed database
at every request, and it recovers by itself; the door then judges the token in a thread."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from dictation import loopread
from dictation.loopread import AwaitedReader, Unanswered


def _reader(pg_db) -> AwaitedReader:
    reader = pg_db.awaited_reader()
    assert reader is not None
    return reader


def test_read_row_from_schema_of_url(pg_db):
    """The URL's own libpq options (the tests' search_path) are kept."""
    with pg_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE marker (x integer)"))
        conn.execute(text("INSERT INTO marker VALUES (41), (42)"))
    reader = _reader(pg_db)

    async def read():
        return await reader.first(text("SELECT max(x) FROM marker WHERE x > :low"), {"low": 0}), \
            await reader.first(text("SELECT x FROM marker WHERE x > :low"), {"low": 99})

    assert asyncio.run(read()) == ((42,), None)


def test_refuse_write_through_reader(pg_db):
    with pg_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE marker (x integer)"))
    reader = _reader(pg_db)
    with pytest.raises(Unanswered):
        asyncio.run(reader.first(text("INSERT INTO marker VALUES (:x) RETURNING x"), {"x": 1}))
    with pg_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM marker")).scalar_one() == 0


def test_give_up_on_slow_read_at_once(pg_db, monkeypatch):
    monkeypatch.setattr(loopread, "TIMEOUT_S", 0.3)
    reader = _reader(pg_db)
    started = time.monotonic()
    with pytest.raises(Unanswered):
        asyncio.run(reader.first(text("SELECT pg_sleep(:s)"), {"s": 5}))
    assert time.monotonic() - started < 3  # gave up, not the 5 s of the statement


def test_rest_after_failure_then_recover(pg_db, monkeypatch):
    """A killed connection fails its read; for REST_S nothing is tried (no connect attempt per
    request while a database is away); then a new connection answers."""
    import psycopg

    reader = _reader(pg_db)
    pid = text("SELECT pg_backend_pid()")
    connects: list[object] = []
    real = psycopg.AsyncConnection.connect

    async def counted(*args, **kwargs):
        connects.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", counted)

    async def scenario():
        first = await reader.first(pid, {})
        assert first is not None and len(connects) == 1
        assert await reader.first(pid, {}) == first  # the same connection, kept
        with pg_db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first[0]}).scalar_one()
        await asyncio.sleep(0.2)
        with pytest.raises(Unanswered):
            await reader.first(pid, {})  # the killed one
        with pytest.raises(Unanswered):
            await reader.first(pid, {})  # resting: not even a connect
        assert len(connects) == 1
        monkeypatch.setattr(reader, "_rest_until", 0.0)
        again = await reader.first(pid, {})
        assert again is not None and again[0] != first[0] and len(connects) == 2

    asyncio.run(scenario())


def test_give_up_when_database_away():
    from sqlalchemy import make_url
    from sqlalchemy.dialects import postgresql

    from tests.support.serve import free_port

    away = make_url(f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/nothing")
    reader = AwaitedReader(away, postgresql.psycopg.dialect())
    started = time.monotonic()
    with pytest.raises(Unanswered):
        asyncio.run(reader.first(text("SELECT 1"), {}))
    assert time.monotonic() - started < 3


def test_read_from_each_event_loop(pg_db):
    """A connection belongs to the loop that made it: another loop (tests run several) gets its own."""
    reader = _reader(pg_db)
    pid = text("SELECT pg_backend_pid()")
    first, second = asyncio.run(reader.first(pid, {})), asyncio.run(reader.first(pid, {}))
    assert first is not None and second is not None and first != second
    pg_db.dispose()
    assert reader._idle == []


def test_read_side_by_side_on_few_connections(pg_db):
    """Reads at once do not queue on one connection, nor open one each."""
    reader = _reader(pg_db)
    slow = text("SELECT pg_backend_pid() FROM pg_sleep(:s)")

    async def together():
        return await asyncio.gather(*(reader.first(slow, {"s": 0.05}) for _ in range(12)))

    backends = {row[0] for row in asyncio.run(together()) if row is not None}
    assert 1 < len(backends) <= loopread.CONNECTIONS
