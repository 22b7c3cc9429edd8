"""PostgreSQL read on the event loop: one row, awaited, for checking a caller's token.

Why: under bench/load.py every thread hop waited 10-40 ms (p95) for the GIL when it started and
again when its result went back to the loop, for a token row that takes a fraction of a
millisecond. On SQLite that row is read on the loop itself (`Database.loop_reader`); on
PostgreSQL a read is a round trip that must not hold the loop, so it is awaited here on
connections of psycopg's asyncio of their own. SQLAlchemy's asyncio engine was tried for this
first and did not stay (it needs greenlet, and its layers cost as much as the hop they save).

It only reads (read-only sessions, autocommit), and it never makes a request wait more than
`TIMEOUT_S`: the caller gets `Unanswered` and takes the thread path, whose answers (a 503 with a
sentence for a database away) are the app's. A read is never cancelled in place (psycopg then
sends a cancel and waits for the result, seconds on a dead link): it goes on by itself and gives
its connection back, or ends it. When every connection is busy a caller waits for one within its
`TIMEOUT_S` (busy is not broken: nothing is closed for it); while the first one is being made,
`Unanswered` at once. After a failure nothing is tried for `REST_S`, so a
database that is down or hung costs one attempt per rest, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import URL
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

log = logging.getLogger(__name__)

TIMEOUT_S = 0.5  # a caller's wait for a row; then the thread path answers as the app always has
REST_S = 2.0  # after a failure, how long the thread path is taken without trying
# Reads at once per process: one connection queued every check behind the slowest round trip
# (under bench/load.py up to 25 checks waited on it). Each is a PostgreSQL backend: count them
# with the pool's (dictation/db.py) when sizing max_connections.
CONNECTIONS = 4
# A link that died silently (a NAT or firewall dropping an idle connection) is given up after
# this instead of TCP's minutes, so a read stuck on it frees its connection.
_LINK_CHECKS = {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 2,
                "keepalives_count": 2, "tcp_user_timeout": 5000}


class Unanswered(Exception):
    """The reader cannot answer now: take the thread path."""


class AwaitedReader:
    """Up to `CONNECTIONS` psycopg `AsyncConnection`s, made in the running event loop when
    needed, and made anew if the loop changes (tests run several loops) or after a failure."""

    def __init__(self, url: URL, dialect: Dialect) -> None:
        # The app pool's own connection arguments (a password with a space, a search_path in
        # the URL's options), not a URL rendered again.
        _, self._connect_args = dialect.create_connect_args(url)
        self.dialect = dialect
        self._idle: list[Any] = []  # psycopg.AsyncConnection, imported only where used
        self._busy = 0  # reads under way in this loop, each holding or making a connection
        self._connecting = False
        self._freed = asyncio.Event()  # set when a read ends and gives its place back
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0  # a read of an earlier loop, or from before `close`, keeps nothing
        self._closed = False
        self._rest_until = 0.0
        self._told = False  # a failure is logged once until the reader answers again
        self._compiled: dict[int, tuple[ClauseElement, str, list[Any]]] = {}

    async def first(self, statement: ClauseElement, params: dict[str, Any]) -> Sequence[Any] | None:
        """The statement's first row (a tuple in the statement's column order, with the
        columns' own types as SQLAlchemy gives them), None when it has none. Raises
        `Unanswered` when this reader cannot answer now."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start_over(loop)
        deadline = loop.time() + TIMEOUT_S
        while self._busy >= CONNECTIONS:  # all in use: wait for one, as long as a caller may
            freed = self._freed
            try:
                await asyncio.wait_for(freed.wait(), deadline - loop.time())
            except TimeoutError:
                raise Unanswered from None  # busy, not broken: nothing is closed for it
        if self._closed or time.monotonic() < self._rest_until or (not self._idle and self._connecting):
            raise Unanswered  # a connection being made may take seconds on a hung server
        sql, processors = self._compile(statement)
        # Taken now, not when the read starts: the callers of this same turn of the loop see it.
        connection = self._idle.pop() if self._idle else None
        self._connecting |= connection is None
        self._busy += 1
        reading = loop.create_task(self._read(connection, sql, params, self._generation))
        reading.add_done_callback(_seen)
        done, _ = await asyncio.wait({reading}, timeout=max(0.0, deadline - loop.time()))
        if not done:
            raise Unanswered  # the read goes on without anyone waiting for it
        row = reading.result()
        if row is None:
            return None
        try:
            return tuple(value if convert is None or value is None else convert(value)
                         for value, convert in zip(row, processors or [None] * len(row), strict=True))
        except Exception as exc:  # a value SQLAlchemy would have refused: the thread path says so
            raise Unanswered from exc

    async def _read(self, connection: Any, sql: str, params: dict[str, Any],
                    generation: int) -> Sequence[Any] | None:
        try:
            if connection is None:
                try:
                    connection = await self._connect()
                finally:
                    if generation == self._generation:
                        self._connecting = False
            cursor = await connection.execute(sql, params, prepare=True)
            row: Sequence[Any] | None = await cursor.fetchone()
        except BaseException as exc:
            if connection is not None:
                _finish(connection)
            if generation == self._generation:
                self._failed(exc)
            if isinstance(exc, Exception):
                raise Unanswered from exc
            raise
        finally:
            if generation == self._generation:
                self._busy -= 1
                self._freed.set()  # wakes those waiting for a place; later ones wait on a new one
                self._freed = asyncio.Event()
        if generation == self._generation and not self._closed:
            self._idle.append(connection)
            self._told = False
        else:
            _finish(connection)
        return row

    def _compile(self, statement: ClauseElement) -> tuple[str, list[Any]]:
        kept = self._compiled.get(id(statement))
        if kept is None or kept[0] is not statement:
            # A plain text() statement has no column types: its values come as psycopg gives them.
            processors = [column.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
                          for column in getattr(statement, "selected_columns", ())]
            kept = (statement, str(statement.compile(dialect=self.dialect)), processors)
            self._compiled[id(statement)] = kept
        return kept[1], kept[2]

    async def _connect(self) -> Any:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(autocommit=True, **{**self._connect_args, **_LINK_CHECKS})
        try:
            # Not through libpq's options, which the URL may set already (a search_path).
            await connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except BaseException:
            _finish(connection)
            raise
        return connection

    def _failed(self, exc: BaseException) -> None:
        """A failed read: the idle connections go too (a restarted database broke them all), and
        nothing is tried for `REST_S`. Said once in the log: the thread path answers meanwhile."""
        self._drop_idle()
        self._rest_until = time.monotonic() + REST_S
        if not self._told and isinstance(exc, Exception):
            self._told = True
            log.warning("token checks on PostgreSQL go through threads for now: %s", type(exc).__name__)

    def _start_over(self, loop: asyncio.AbstractEventLoop) -> None:
        self._drop_idle()
        self._loop, self._busy, self._connecting, self._freed = loop, 0, False, asyncio.Event()
        self._generation += 1

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            _finish(connection)

    def close(self) -> None:
        """For good (the app's database is disposed), from any thread: the idle connections end
        now, those in use when their reads end, and no read starts."""
        self._closed = True
        self._generation += 1
        self._drop_idle()


def _finish(connection: Any) -> None:
    """Ends a connection from any thread or loop: psycopg's close sends nothing and awaits
    nothing, it ends the libpq connection."""
    if not connection.closed:
        connection.pgconn.finish()


def _seen(reading: asyncio.Task[Any]) -> None:
    """Takes a read's outcome, so that one nobody waited for (its caller gave up) does not end
    in asyncio's "exception was never retrieved" in the log."""
    if not reading.cancelled():
        reading.exception()
