"""The door's PostgreSQL reader (dictation/loopread.py): a row read awaited on the event loop,
on the machine's real PostgreSQL. It only reads, it gives up at once rather than make a request
wait (a slow read, a database away, a connection killed), it does not retry a failed database
at every request, and it recovers by itself; the door then judges the token in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest
from sqlalchemy import text

from dictation import loopread
from dictation.loopread import AwaitedReader, Unanswered


def _run(coroutine):
    """`asyncio.run` in a thread of its own: the suite's browser tests (Playwright's sync API)
    leave an event loop running in the main thread, where `asyncio.run` refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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

    assert _run(read()) == ((42,), None)


def test_refuse_write_through_reader(pg_db):
    with pg_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE marker (x integer)"))
    reader = _reader(pg_db)
    with pytest.raises(Unanswered):
        _run(reader.first(text("INSERT INTO marker VALUES (:x) RETURNING x"), {"x": 1}))
    with pg_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM marker")).scalar_one() == 0


def test_give_up_on_slow_read_at_once(pg_db, monkeypatch):
    monkeypatch.setattr(loopread, "TIMEOUT_S", 0.3)
    reader = _reader(pg_db)
    started = time.monotonic()
    with pytest.raises(Unanswered):
        _run(reader.first(text("SELECT pg_sleep(:s)"), {"s": 5}))
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

    _run(scenario())


def test_give_up_when_database_away():
    from sqlalchemy import make_url
    from sqlalchemy.dialects import postgresql

    from tests.support.serve import free_port

    away = make_url(f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/nothing")
    reader = AwaitedReader(away, postgresql.psycopg.dialect())
    started = time.monotonic()
    with pytest.raises(Unanswered):
        _run(reader.first(text("SELECT 1"), {}))
    assert time.monotonic() - started < 3


def test_wait_once_for_database_that_never_answers():
    """A server that takes connections and never answers (a hung host): one caller waits
    TIMEOUT_S for the connection being made, the others meanwhile are told at once."""
    import socket

    from sqlalchemy import make_url
    from sqlalchemy.dialects import postgresql

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    try:
        reader = AwaitedReader(make_url(f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing"),
                               postgresql.psycopg.dialect())

        async def timed() -> float:
            started = time.monotonic()
            with pytest.raises(Unanswered):
                await reader.first(text("SELECT 1"), {})
            return time.monotonic() - started

        async def together():
            return await asyncio.gather(*(timed() for _ in range(20)))

        waits = sorted(_run(together()))
    finally:
        listener.close()
    assert waits[-1] < 1.5  # TIMEOUT_S, not the connect's own time-out
    assert waits[-2] < 0.2  # the other 19: at once


def test_read_from_each_event_loop(pg_db):
    """A connection belongs to the loop that made it: another loop (tests run several) gets its own."""
    reader = _reader(pg_db)
    pid = text("SELECT pg_backend_pid()")
    first, second = _run(reader.first(pid, {})), _run(reader.first(pid, {}))
    assert first is not None and second is not None and first != second
    pg_db.dispose()
    assert reader._idle == []
    with pytest.raises(Unanswered):
        _run(reader.first(pid, {}))  # closed for good


def test_read_side_by_side_on_few_connections(pg_db, monkeypatch):
    """Reads at once each get a connection of their own, up to CONNECTIONS; past that a caller
    waits for one to be free within TIMEOUT_S, and one that cannot get it in time is told so
    without anything being closed or rested (busy is not broken)."""
    monkeypatch.setattr(loopread, "TIMEOUT_S", 1.0)
    reader = _reader(pg_db)
    slow = text("SELECT pg_backend_pid() FROM pg_sleep(:s)")

    async def start_all(seconds: float) -> list:
        reads = []
        for _ in range(loopread.CONNECTIONS):
            reads.append(asyncio.ensure_future(reader.first(slow, {"s": seconds})))
            await asyncio.sleep(0.01)
            while reader._connecting:  # connections are made one at a time
                await asyncio.sleep(0.01)
        return reads

    async def scenario():
        reads = await start_all(0.6)
        waited = await reader.first(slow, {"s": 0})  # a place frees within its 1 s
        first = await asyncio.gather(*reads)
        reads = await start_all(2.5)  # their callers give up; the reads go on, holding the places
        with pytest.raises(Unanswered):
            await reader.first(slow, {"s": 0})  # none frees in time
        await asyncio.gather(*reads, return_exceptions=True)
        await asyncio.sleep(1.5)  # the reads end and give their connections back
        after = await asyncio.gather(*(reader.first(slow, {"s": 0.1}) for _ in range(loopread.CONNECTIONS)))
        return waited, first, after

    waited, first, after = _run(scenario())
    backends = {row[0] for row in first}
    assert len(backends) == loopread.CONNECTIONS
    assert waited[0] in backends  # it waited for one of them, no fifth was made
    assert {row[0] for row in after} == backends  # nothing closed or rested for those who gave up


def test_give_up_on_read_without_cancelling_it(pg_db, monkeypatch):
    """A caller gives up after TIMEOUT_S while the read goes on by itself (cancelling it in place
    makes psycopg wait for the server) and gives its connection back for the next."""
    monkeypatch.setattr(loopread, "TIMEOUT_S", 0.2)
    reader = _reader(pg_db)
    pid = text("SELECT pg_backend_pid() FROM pg_sleep(:s)")

    async def scenario():
        first = await reader.first(pid, {"s": 0})
        started = time.monotonic()
        with pytest.raises(Unanswered):
            await reader.first(pid, {"s": 0.6})
        gave_up_in = time.monotonic() - started
        await asyncio.sleep(0.8)  # the slow read ends meanwhile
        return first, gave_up_in, await reader.first(pid, {"s": 0})

    first, gave_up_in, after = _run(scenario())
    assert gave_up_in < 0.5
    assert after == first  # not rested, not reconnected: the same connection


def test_keep_no_connection_after_close(pg_db):
    """Closed while a read is under way: that connection ends with its read, none is kept, and
    no read starts after."""
    reader = _reader(pg_db)
    pid = text("SELECT pg_backend_pid() FROM pg_sleep(:s)")

    async def scenario():
        reading = asyncio.ensure_future(reader.first(pid, {"s": 0.2}))
        await asyncio.sleep(0.1)
        reader.close()
        row = await reading
        with pytest.raises(Unanswered):
            await reader.first(pid, {"s": 0})
        return row[0]

    backend = _run(scenario())
    assert reader._idle == []
    with pg_db.engine.connect() as conn:
        alive = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": backend}).scalar_one()
    assert alive == 0


def test_connect_with_password_url_cannot_render(monkeypatch):
    """The connection's arguments are the app pool's (a password with a space survives)."""
    from sqlalchemy import make_url
    from sqlalchemy.dialects import postgresql

    url = make_url("postgresql+psycopg://someone:p%20ss%23@127.0.0.1:5432/test?options=-csearch_path%3Dabc")
    reader = AwaitedReader(url, postgresql.psycopg.dialect())
    assert reader._connect_args["password"] == "p ss#"
    assert reader._connect_args["options"] == "-csearch_path=abc"


def test_build_owner_on_loop_as_session_loads_it(any_db):
    """The owner the loop's check builds from its row is the user a session loads: the same
    values of the same types (the role an enum, times aware), on both backends."""
    from dictation import accounts
    from dictation.models import Role, User

    with any_db.session() as session:
        user = User(email="ada@example.org", name="Ada", role=Role.assistant, language="fr")
        session.add(user)
        session.flush()
        _, token = accounts.create_token(session, user, "phone")
    with any_db.session() as session:
        accounts.user_for_token(session, token)  # records its use: the loop's check then answers
    with any_db.session() as session:
        loaded = session.get(User, user.id)
        expected = {key: getattr(loaded, key) for key in User.__mapper__.columns.keys()}

    async def on_the_loop():
        if (awaited := any_db.awaited_reader()) is not None:
            return await accounts.token_owner_awaited(awaited, token)
        with any_db.loop_reader().connect() as connection:
            return accounts.token_owner(connection, token)

    owner = _run(on_the_loop())
    assert owner is not None
    built = {key: getattr(owner, key) for key in User.__mapper__.columns.keys()}
    assert built == expected
    assert {key: type(value) for key, value in built.items()} == {key: type(value) for key, value in expected.items()}
    assert built["created_at"].tzinfo is not None


def test_leave_no_unretrieved_error_after_giving_up(pg_db, monkeypatch, caplog):
    """A read whose caller gave up and which then fails leaves nothing for asyncio to complain
    about ("Task exception was never retrieved")."""
    import gc
    import logging

    monkeypatch.setattr(loopread, "TIMEOUT_S", 0.1)
    reader = _reader(pg_db)

    async def scenario():
        with pytest.raises(Unanswered):
            await reader.first(text("SELECT 1 / (0 * count(*)) FROM pg_sleep(0.3)"), {})
        await asyncio.sleep(0.6)  # the read fails meanwhile (division by zero), unwatched
        gc.collect()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        _run(scenario())
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
