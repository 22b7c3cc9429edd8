"""PostgreSQL read on the event loop: one row, awaited, for the door's token check.

Why: under bench/load.py every thread hop waited 10-40 ms (p95) for the GIL when it started and
again when its result went back to the loop, for a token row that takes a fraction of a
millisecond. On SQLite the door reads that row on the loop itself (`Database.loop_reader`); on
PostgreSQL a read is a round trip that must not hold the loop, so it is awaited here on a
connection of psycopg's asyncio of its own. SQLAlchemy's asyncio engine was tried for this
first and did not stay (it needs greenlet, and its layers cost as much as the hop they save).

It only reads (a read-only session, no transaction left open) and it never makes anyone wait
long: a read that takes over `TIMEOUT_S`, or any error, gives None, so the caller takes the
thread path, whose answers (503 with a sentence for a database away) are the app's; after a
failure it is not tried again for `REST_S`, so a database that is down costs no connect attempt
per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import URL
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

TIMEOUT_S = 0.5  # connect or read; the thread path then answers as the app always has
REST_S = 2.0  # after a failure, how long the thread path is taken without trying
# Reads at once per process: one connection queued every check behind the slowest round trip
# (under bench/load.py up to 25 checks waited on it).
CONNECTIONS = 4


class Unanswered(Exception):
    """The reader cannot answer now: take the thread path."""


class AwaitedReader:
    """Up to `CONNECTIONS` psycopg `AsyncConnection`s, made in the running event loop when
    needed and made again if the loop changes (tests run several loops) or after a failure."""

    def __init__(self, url: URL, dialect: Dialect) -> None:
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.dialect = dialect
        self._idle: list[Any] = []  # psycopg.AsyncConnection, imported only where used
        self._places: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rest_until = 0.0
        self._compiled: dict[int, tuple[ClauseElement, str]] = {}

    async def first(self, statement: ClauseElement, params: dict[str, Any]) -> Sequence[Any] | None:
        """The statement's first row (a tuple in the statement's column order), None when it
        has none. Raises `Unanswered` when this reader cannot answer now."""
        if time.monotonic() < self._rest_until:
            raise Unanswered  # it failed a moment ago: no connect attempt per request
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self._loop, self._places = loop, asyncio.Semaphore(CONNECTIONS)
        assert self._places is not None
        sql = self._sql(statement)
        connection = None
        try:
            async with asyncio.timeout(TIMEOUT_S), self._places:
                connection = self._idle.pop() if self._idle else await self._connect()
                cursor = await connection.execute(sql, params, prepare=True)
                row: Sequence[Any] | None = await cursor.fetchone()
            self._idle.append(connection)
            return row
        except Exception as exc:  # whatever it was, the thread path says it properly
            self._failed(connection)
            raise Unanswered from exc

    def _sql(self, statement: ClauseElement) -> str:
        kept = self._compiled.get(id(statement))
        if kept is None or kept[0] is not statement:
            kept = self._compiled[id(statement)] = (statement, str(statement.compile(dialect=self.dialect)))
        return kept[1]

    async def _connect(self) -> Any:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=max(1, int(TIMEOUT_S + 0.5)))
        try:
            # Not through libpq's options, which the URL may set already (a search_path).
            await connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except BaseException:
            self._finish(connection)
            raise
        return connection

    def _failed(self, connection: Any) -> None:
        """A failed read: its connection and the idle ones go (a restarted database broke them
        all), and nothing is tried for `REST_S`."""
        if connection is not None:
            self._finish(connection)
        self.close()
        self._rest_until = time.monotonic() + REST_S

    def _finish(self, connection: Any) -> None:
        if not connection.closed:
            connection.pgconn.finish()

    def close(self) -> None:
        """Closes the idle connections, from any thread or loop: psycopg's close sends nothing
        and awaits nothing, it ends the libpq connection. One in use is closed by its reader."""
        idle, self._idle = self._idle, []
        for connection in idle:
            self._finish(connection)
