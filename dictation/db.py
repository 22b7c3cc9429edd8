"""Database engine and sessions: SQLite (WAL) in the data dir by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, DateTime, Result, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool
from sqlalchemy.types import TypeDecorator

from dictation import credential_changes
from dictation.loopread import AwaitedReader
from dictation.settings import Settings


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: conditional claims and take-overs hinge on it.

    `Session.execute` is typed as returning a plain `Result`; for those statements it is a
    `CursorResult`, which carries the count."""
    return cast(CursorResult[Any], result).rowcount


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend: SQLite hands back naive ones otherwise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime}


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means the server is away for now (restarting, unreachable,
    out of connections), not that the statement was wrong: the same request works later."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                            sa_exc.DisconnectionError))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the API read while a worker writes; busy_timeout rides out short locks.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        _one_writer_at_a_time(engine)
        return engine
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    _ping_when_idle(engine)
    _begin_only_to_write(engine)
    return engine


# PostgreSQL connections a process keeps open between uses, and how many more it may open for a
# while. SQLAlchemy's default keeps 5 and closes any connection given back beyond them; a busy
# process has more than 5 in use at once (10 requests inside the app, uploads' short sessions, the
# door identifying callers), so under bench/load.py it opened and closed ~45 connections a second,
# each a new PostgreSQL process forked on the same two cores. Kept: 60 sessions a run instead of
# ~860, worklist p95 0.35 and 0.90 s against 3.5 and 3.6 s (alternated 20 s runs, a slow hour).
# Connections are still opened only when needed: a quiet process keeps only what it used at once.
POOL_SIZE = 20
POOL_OVERFLOW = 10
# A connection back in the pool for less than this is handed out again without a ping.
IDLE_PING_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping pings on every checkout: one more round trip for each session,
    two of a read's nine on PostgreSQL (the caller's session and the request's). Here only a
    connection that rested in the pool for `IDLE_PING_S` or more is pinged, which is where a
    restart or an idle timeout leaves dead ones; a broken one is replaced before anyone gets it.
    One just used that broke meanwhile fails its request with a 503 (`unavailable`), and that
    error makes the pool drop every connection older than it."""
    from sqlalchemy import exc as sa_exc

    @event.listens_for(engine.pool, "checkin")
    def _rested(_dbapi_connection, record):
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        since = record.info.pop("idle_since", None)  # none: a new connection
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - the driver's errors vary; the pool retries
            raise sa_exc.DisconnectionError("The database connection was closed while idle.") from exc


def _begin_only_to_write(engine: Engine) -> None:
    """A statement that starts while no transaction is open opens one only if it writes or takes
    a lock; a plain SELECT runs on its own (the driver's autocommit). The driver otherwise sends
    BEGIN before a session's first statement and COMMIT at its end, each a round trip: a draft
    read made six (the caller's token, then the draft) where two carry the work. Under
    bench/load.py (PostgreSQL, 2 processes, 30 s, three alternated pairs, 4 December) the server
    used 5-8 % less CPU a request, PostgreSQL ~20 % less, worklist p95 135, 267 and 94 ms against
    2,416, 269 and 160 ms. Nothing is weaker: at PostgreSQL's READ COMMITTED each statement sees
    its own snapshot inside a transaction too, and from a session's first write (or lock, or
    savepoint) to its commit or rollback everything is one transaction, as before. A read no
    longer leaves its connection "idle in transaction" while the request finishes."""
    from psycopg import pq

    idle = pq.TransactionStatus.IDLE

    @event.listens_for(engine, "before_cursor_execute")
    def _begin(conn, cursor, statement, _parameters, context, _executemany):
        dbapi_connection = cursor.connection
        if dbapi_connection.pgconn.transaction_status != idle or "isolation_level" in conn.get_execution_options():
            return  # inside a transaction; or SQLAlchemy sets the level (AUTOCOMMIT, REPEATABLE READ)
        # A server-side cursor (stream_results) is DECLAREd, which needs a transaction.
        alone = reads_only(statement) and not (context is not None and context.execution_options.get("stream_results"))
        if dbapi_connection.autocommit != alone:
            dbapi_connection.autocommit = alone


_READS_ONLY = re.compile(
    r"\s*SELECT\b(?!.*\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b)"
    r"(?!.*(?:advisory_xact|\bINTO\b|pg_notify|set_config|\blo_))",  # locks, or effects held to the commit
    re.IGNORECASE | re.DOTALL,
)


@functools.lru_cache(maxsize=4096)  # statements are the same few strings, from SQLAlchemy's cache
def reads_only(statement: str) -> bool:
    """Whether a statement needs no transaction: a SELECT that takes no row or advisory lock held
    to the end of one and has no effect that waits for a commit (SELECT INTO, pg_notify,
    set_config, large objects). Anything else (writes, DDL, SAVEPOINT, WITH …) opens one."""
    return _READS_ONLY.match(statement) is not None


_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _one_writer_at_a_time(engine: Engine) -> None:
    """SQLite lets one transaction write at a time. Left to SQLite, a writer that finds the
    database locked sleeps in its busy handler (1, 2, 5 … 100 ms steps) and wakes to find it
    taken again: under bench/load.py's 50 uploads the server sat at half a core, uploads took
    seconds, and reads queued for pool connections that sleeping writers held. Writers of this
    process queue on a lock instead and go the moment the last one is done (its connection back
    in the pool, after its commit); other processes still meet SQLite's own lock."""
    writer = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn, _cursor, statement, _parameters, _context, _executemany):
        # After 30 s SQLite's busy timeout decides, as it did before this lock.
        if "writer" not in conn.info and _WRITES.match(statement) and writer.acquire(timeout=30):
            conn.info["writer"] = True

    @event.listens_for(engine.pool, "checkin")
    def _give_back(_dbapi_connection, record):
        if record is not None and record.info.pop("writer", False):  # None: a detached connection
            writer.release()


class Database:
    """One engine and session factory per process, for the settings given."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if self.settings.database_url is None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.settings.sqlalchemy_url)
        credential_changes.watch(self.engine)  # the door's verdicts on tokens end at each change
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessionmaker, "after_begin", _mark_connected)
        self._loop_reader = self._make_loop_reader()  # connects only when first used
        self._awaited_reader = (AwaitedReader(self.engine.url, self.engine.dialect)
                                if self.engine.url.get_backend_name() == "postgresql" else None)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def loop_reader(self) -> Engine | None:
        """SQLite in a file: an engine whose connections read only and never wait (a lock is an
        error at once, not SQLite's 30 s of retries), for a row read on the event loop itself.
        There, a thread hop costs more than the read: under bench/load.py a hop waited 10-40 ms
        (p95) for the GIL on each side, a token's row takes 0.2 ms. One connection per thread
        (a server process has one event loop; tests may run several). None on PostgreSQL, where
        a read is a round trip that must not hold the loop, and for an in-memory database, which
        a second connection would not see."""
        return self._loop_reader

    def awaited_reader(self) -> AwaitedReader | None:
        """PostgreSQL: a few connections of its own for a row read awaited on the event loop
        (`dictation.loopread`). None on SQLite, which has `loop_reader`."""
        return self._awaited_reader

    def _make_loop_reader(self) -> Engine | None:
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        # mode=rw: a missing file is an error (the app path then says so), not a new empty database.
        address = f"{Path(url.database).resolve().as_uri()}?mode=rw"
        reader = create_engine(
            "sqlite://", poolclass=SingletonThreadPool,
            creator=lambda: sqlite3.connect(address, uri=True, timeout=0, check_same_thread=False),
        )

        @event.listens_for(reader, "connect")
        def _never_wait_never_write(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=0")
            cursor.execute("PRAGMA query_only=1")
            cursor.close()

        return reader

    def dispose(self) -> None:
        self.engine.dispose()
        if self._loop_reader is not None:
            self._loop_reader.dispose()
        if self._awaited_reader is not None:
            self._awaited_reader.close()


_CONNECTION = "dictation.db.connection"


def _mark_connected(session: Session, _transaction: Any, connection: Any) -> None:
    session.info[_CONNECTION] = connection  # the latest: a session that committed may take another


# session.info key: work waiting for the session's commit (jobs to send to the queue); a session
# holding any is committed, never only closed.
AFTER_COMMIT = "dictation.db.after_commit"


def nothing_to_send(session: Session) -> bool:
    """Whether ending this session (from `Database.sessionmaker`) sends nothing to the database,
    so it may end anywhere, the event loop included: it holds nothing to write, and it never took
    a connection or its connection has no transaction open. A session that only read has none:
    SQLite's driver begins a transaction only before a write, and on PostgreSQL
    `_begin_only_to_write` does the same."""
    if session.new or session.dirty or session.deleted or session.info.get(AFTER_COMMIT):
        return False
    if not session.is_active:
        return False  # a failed flush: the usual ending raises it, rather than pass for done
    connection = session.info.get(_CONNECTION)
    if connection is None or connection.closed:
        return True
    if connection.invalidated:
        return False  # let the usual ending deal with a broken connection
    return not _transaction_open(connection.connection.dbapi_connection)


def _transaction_open(dbapi_connection: Any) -> bool:
    """Whether the database holds a transaction open on this connection (psycopg or sqlite3)."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is not None:
        from psycopg import pq

        return bool(pgconn.transaction_status != pq.TransactionStatus.IDLE)
    return bool(dbapi_connection.in_transaction)
