"""Admission: at most `limit` requests inside the app at once; the others wait their turn in the
event loop, where waiting costs nothing.

Why: a request holds a database connection from its first query (the caller's identity) to its
answer, and hops between the event loop and the thread pool (40 threads) meanwhile. Under a
burst (bench/load.py: 200 reads a second beside 50 uploads), every thread ended up waiting for a
connection while every connection (15: SQLAlchemy's pool) belonged to a request waiting for a
thread: nothing moved until the pool's 30 s timeout answered 503s. With fewer requests inside
than connections, a request that holds one always gets a thread and finishes.

Streamed uploads are left out: they hold no connection while their body arrives (their own short
sessions, in one thread each), and counting minutes of a slow phone's upload would starve
everyone else. So are the health probes, which touch no table.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Below the pool's connections (SQLite 5 + 10, PostgreSQL 20 + 10: dictation/db.py): the in-process
# worker and uploads use some too.
LIMIT = 10
_FREE = ("/healthz", "/livez")


class Admission:
    def __init__(self, app: ASGIApp, limit: int = LIMIT, exempt: tuple[tuple[str, str], ...] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt
        self._gate: asyncio.Semaphore | None = None  # made in the server's own loop

    def _free(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return path in _FREE or any(method == m and (path == p.rstrip("/") or path.startswith(p))
                                    for m, p in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._free(scope):
            await self.app(scope, receive, send)
            return
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limit)
        gate = self._gate
        await gate.acquire()
        inside = True

        async def answering(message: Message) -> None:
            # The request's session is committed and closed before its answer starts: a slow
            # client reading a long recording must not keep others waiting at the door.
            nonlocal inside
            if inside and message["type"] == "http.response.start":
                inside = False
                gate.release()
            await send(message)

        try:
            await self.app(scope, receive, answering)
        finally:
            if inside:
                gate.release()
