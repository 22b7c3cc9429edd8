"""Recent answers: a worklist read again within a second is answered from memory.

The worklist is the one expensive read (a sorted page of memos with their drafts, people,
jobs and publications: tens of milliseconds of Python per answer), and desks poll it. Under
bench/load.py (100 worklist reads a second beside 50 uploads) computing each one was more CPU
than one server process has. An answer is kept for `TTL_S` per caller (the credential they
came with, hashed) and query string, or, for callers whose answer is everyone's who may see
every memo (assistants and admins, not asking for "mine": `api.routers.worklist.answer_shared`),
once for all of them under `SHARED`, after each is identified; so what others changed shows
within `STALE_S` at most (see below), as the live worklist promises (2 s).
Read-your-writes:
any write request (not GET/HEAD/OPTIONS) from the same credential drops that caller's kept
answers, when it starts and again when it ends, and no answer read before it is given to that
caller (a shared one stays for the others), so after a claim or an edit the next worklist is
fresh. One computation at a time per caller and query: the same reads arriving while it runs
get the answer it replaces when that is under `STALE_S` old and the caller has not written
since, else wait for its answer. Waiting was the tail: under bench/load.py a computation took up
to a few hundred milliseconds, and every worklist read arriving meanwhile sat in one of the
app's ten admission places (api/admission.py), so draft reads queued behind them too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import SESSION_COOKIE, identify_briefly, owner_on_the_loop
from dictation.models import User
from dictation.writemarks import LocalMarks, SharedMarks

TTL_S = 1.0
# The oldest answer given while its successor is being computed: the live worklist's promise.
STALE_S = 2.0
MAX_KEPT = 512  # callers × queries; the oldest go first
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long the door trusts its own check of a bearer token, unless a credential changed since
# (`dictation.credential_changes` marks every change): the bound for changes made outside the app.
VERDICT_S = 1.0
# The key of answers shared by every caller who would get the same (see `RecentAnswers.key`): a
# hex digest, as the write marks' slots are chosen by one (dictation/writemarks.py).
SHARED = hashlib.sha256(b"dictation.recent: the same for every caller who sees it").hexdigest()
# Scope key: when the door saw the request, before its caller was identified (`answer` says why).
ARRIVED = "dictation.recent.arrived"
# Scope key: `RecentAnswers.ready` was asked for this request at the door.
ASKED_AT_THE_DOOR = "dictation.recent.asked_at_the_door"
# Threads the door may use at once to identify callers: well under the pool's 40, which the
# requests inside the admission gate (10) need to finish.
DOOR_THREADS = 8


def _credential(request: Request) -> str | None:
    """The credential `api.deps.identify` will judge, hashed: the Authorization header when it
    is not empty, else the session cookie. The same rule as there, or an answer kept for one
    credential could be given to a request identified by another (the request guard refuses
    a second Authorization header)."""
    raw = request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE)
    return hashlib.sha256(raw.encode()).hexdigest() if raw else None


class RecentAnswers:
    def __init__(
        self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic, stale_s: float = STALE_S,
        marks: LocalMarks | SharedMarks | None = None,
    ) -> None:
        self.ttl_s, self.clock, self.stale_s = ttl_s, clock, stale_s
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str, str], tuple[float, bytes]] = OrderedDict()
        # credential -> when its last write started or ended; shared by the server's processes
        self._wrote: LocalMarks | SharedMarks = marks if marks is not None else LocalMarks()
        self._running: dict[tuple[str, str, str], threading.Event] = {}  # answers being computed
        # Of those, the ones claimed by `ready` for a request on its way to `answer`: key -> when
        self._claimed: dict[tuple[str, str, str], float] = {}
        # Bearer credentials the door found valid: credential -> when that check began, the owner
        self._vouched: OrderedDict[str, tuple[float, User]] = OrderedDict()

    def key(self, request: Request, shared: bool = False, who: str | None = None) -> tuple[str, str, str] | None:
        """The answer's key: the caller's credential (`who`, when the caller already has it), or
        with `shared` (the caller is one of those whose answer to this request is everyone's:
        `worklist.same_for_all`), `SHARED`."""
        who = who or _credential(request)
        return (SHARED if shared else who, request.url.path, request.url.query) if who else None

    @staticmethod
    def who(request: Request) -> str | None:
        """The caller, as the write marks name them: their credential, hashed."""
        return _credential(request)

    def may_have(self, request: Request, who: str) -> bool:
        """Whether an answer is kept, however old, that `ready` might give this caller for this
        request: their own or the shared one."""
        with self._lock:
            return any(key in self._kept for key in (self.key(request, who=who), self.key(request, True, who)))

    def get(self, key: tuple[str, str, str] | None, who: str | None = None) -> bytes | None:
        if key is None:
            return None
        with self._lock:
            return self._fresh(key, who or key[0])

    def _fresh(self, key: tuple[str, str, str], who: str, within_s: float | None = None) -> bytes | None:
        """The kept answer if it is under `within_s` (the TTL) old and no write of the caller
        `who` began after it was read. Answers past any use are dropped: a caller's own, at
        their write; a shared one stays for the others."""
        found = self._kept.get(key)
        if found is None:
            return None
        started, body = found
        age = self.clock() - started
        if (age > max(self.ttl_s, self.stale_s) or (key[0] == who and started <= self._wrote.get(who))
                # A caller's own answer, read under a role they may no longer have. Not the shared
                # one, which is no role's (each caller is identified before it is picked), so that
                # anyone's new token or sign-in does not empty it for everyone.
                or (key[0] != SHARED and started <= self._wrote.credentials_changed())):
            del self._kept[key]
            return None
        if started <= self._wrote.get(who):
            return None  # read before this caller's write: it may miss it
        return body if age <= (self.ttl_s if within_s is None else within_s) else None

    def ready(self, key: tuple[str, str, str] | None, who: str | None = None) -> bytes | None:
        """What `answer` would give at once, without computing or waiting: the kept answer, or
        while its successor is computed the previous one under `stale_s` old. None: call
        `answer`, which computes. The event loop asks this first, so a kept answer costs no
        thread. A None marks the successor as being computed (claimed for this caller's
        `answer`), so the same reads arriving before that computation starts get the previous
        answer too: each had gone inside to compute or wait, and under bench/load.py those were
        ~5 % of worklist reads (one per process and second, plus each one arriving in the tens
        of milliseconds it took the first to start computing): the p95. A claim nobody takes
        (the request failed on its way) lapses after `stale_s`, or goes to the next `answer`."""
        if key is None:
            return None
        who = who or key[0]
        with self._lock:
            body = self._fresh(key, who)
            if body is not None:
                return body
            claimed = self._claimed.get(key)
            if claimed is not None and self.clock() - claimed > self.stale_s:
                self._end_claim(key)
            if key in self._running:
                return self._fresh(key, who, within_s=self.stale_s)
            self._running[key], self._claimed[key] = threading.Event(), self.clock()
            while len(self._claimed) > MAX_KEPT:
                self._end_claim(next(iter(self._claimed)))
            return None

    def _end_claim(self, key: tuple[str, str, str]) -> None:
        del self._claimed[key]
        self._running.pop(key).set()

    def answer(self, key: tuple[str, str, str] | None, compute: Callable[[], bytes], wait_s: float = 30.0,
               who: str | None = None, arrived: float | None = None) -> bytes:
        """The kept answer for `key`, else `compute()`'s, kept. Callers of the same key that come
        while it computes get the previous answer if it is under `stale_s` old, else wait for
        the new one (in threads: the worklist is a sync endpoint)."""
        if key is None:
            return compute()
        who = who or key[0]
        while True:
            with self._lock:
                body = self._fresh(key, who)
                if body is not None:
                    return body
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    break
                if self._claimed.pop(key, None) is not None:
                    break  # claimed by `ready`: this caller computes it, whoever claimed it
                body = self._fresh(key, who, within_s=self.stale_s)
                if body is not None:
                    return body
            # Its answer, or none if the caller wrote meanwhile: then this one computes afresh.
            running.wait(wait_s)
        # Timed from the request's arrival when known: the caller was identified (their role read)
        # after it, so a credential change between the two makes the answer too old to keep.
        started = self.clock() if arrived is None else min(arrived, self.clock())
        try:
            body = compute()
            self.put(key, started, body, who)
            return body
        finally:
            with self._lock:
                del self._running[key]
            running.set()

    def put(self, key: tuple[str, str, str] | None, started: float, body: bytes, who: str | None = None) -> None:
        """Keep `body`, computed for the caller `who` from a read that began at `started`."""
        if key is None:
            return
        with self._lock:
            if started <= self._wrote.get(who or key[0]):
                return  # a write of this caller began meanwhile: the answer may miss it
            self._kept[key] = (started, body)
            self._kept.move_to_end(key)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)

    def wrote(self, credential: str) -> None:
        with self._lock:
            self._wrote.set(credential, self.clock())

    def vouched(self, credential: str) -> User | None:
        """The owner found by a check of this bearer credential that began under `VERDICT_S` ago,
        after the last change to any credential; else None."""
        with self._lock:
            found = self._vouched.get(credential)
            if found is None:
                return None
            checked, owner = found
            if self.clock() - checked > VERDICT_S or checked <= self._wrote.credentials_changed():
                del self._vouched[credential]
                return None
            return owner

    def vouch(self, credential: str, checked_at: float, owner: User) -> None:
        """A check of this bearer credential that began at `checked_at` found it valid, its owner
        `owner` (detached: read, never changed)."""
        with self._lock:
            if checked_at <= self._wrote.credentials_changed():
                return  # it may have read a row as it was before the change
            self._vouched[credential] = (checked_at, owner)
            self._vouched.move_to_end(credential)
            while len(self._vouched) > MAX_KEPT:
                self._vouched.popitem(last=False)

    def credentials_changed(self) -> None:
        """A user, token or browser session row is changing or has changed: no verdict from
        before now is used again, in any of the server's processes."""
        with self._lock:
            self._wrote.change_credentials(self.clock())
            self._vouched.clear()


class ForgetOnWrite:
    """ASGI middleware: a write request drops its caller's kept answers, at its start and end."""

    def __init__(self, app: ASGIApp, recent: RecentAnswers) -> None:
        self.app, self.recent = app, recent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        who = _credential(Request(scope))
        if who is None:
            await self.app(scope, receive, send)
            return
        self.recent.wrote(who)
        try:
            await self.app(scope, receive, send)
        finally:
            self.recent.wrote(who)


class KeptAtTheDoor:
    """ASGI middleware, outside the admission gate: a GET whose caller has a kept answer for it
    (the same path and query) is answered with it once the caller is identified, without
    waiting for one of the app's places or going through routing and dependencies.

    Why: under bench/load.py almost every worklist read is a kept answer (~1.6 ms of CPU), yet
    half of its latency was the wait at the gate behind draft reads, each holding a place for
    several milliseconds. Who the caller is is checked exactly as inside (the token or session
    row, revoked or deactivated refused): a bearer token on the loop, as inside
    (`api.deps.owner_on_the_loop`: read in the loop on SQLite, awaited there on PostgreSQL,
    from connections of their own that neither wait nor write); otherwise `identify_briefly`
    in one thread hop that holds a database connection only while it runs, as the streamed
    upload's own check does, so it cannot deadlock the pool the gate protects, at most
    `DOOR_THREADS` at once, so a burst of them (each may wait on SQLite's writer lock when a
    token's last use is due to be written) leaves threads for the requests inside, whose commits
    free that lock. A bearer token found valid on the loop is not read again for `VERDICT_S` (a
    second) unless a credential changes meanwhile (every change to users, tokens and browser
    sessions is marked, `dictation.credential_changes`, for all the server's processes):
    reading the token's row was most of a kept answer's time at the door on PostgreSQL under
    bench/load.py (p50 0.5 of 1.0 ms, p95 4.8 of 6.4 ms), a round trip to a database process on
    the same busy cores. The caller is
    identified before the answer is picked (their own, or the one `shared` says is theirs too),
    and only when one is kept that could be theirs. Anything else (no kept answer, a credential
    that does not work, a database that does not answer) goes on into the app, which answers it
    the usual way. It sits inside the request guard (a method override or a second Authorization header is refused
    first) and the request context (ids, metrics under the route's template)."""

    def __init__(self, app: ASGIApp, recent: RecentAnswers, routes: dict[str, BaseRoute],
                 shared: Callable[[User, Request], bool]) -> None:
        self.app, self.recent, self.routes, self.shared = app, recent, routes, shared
        self._threads: anyio.CapacityLimiter | None = None  # made in the server's own loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if route is not None:
            scope[ARRIVED] = self.recent.clock()
        request = Request(scope) if route is not None else None
        who = self.recent.who(request) if request is not None else None
        # Who the caller is decides which answer is theirs (their own or the shared one), so they
        # are identified first; not when no answer is kept that could be theirs.
        caller = None
        if request is not None and who is not None and self.recent.may_have(request, who):
            caller = await self._identify(request, who, scope["app"].state)
        if caller is None:  # no kept answer, or refused or unanswered: the app's own path says why
            await self.app(scope, receive, send)
            return
        assert request is not None and route is not None
        body = self.recent.ready(self.recent.key(request, self.shared(caller, request), who), who)
        scope[ASKED_AT_THE_DOOR] = True  # the endpoint does not ask again: a None claimed its computation
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # counted under its template, as the app would
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def _identify(self, request: Request, who: str, state: Any) -> User | None:
        """The caller, judged as `identify` would; None if refused or not answered now."""
        if request.headers.get("authorization"):
            owner = self.recent.vouched(who)
            if owner is not None:
                return owner  # its token was found valid a moment ago, and no credential changed since
            checked_at = self.recent.clock()
            owner = await owner_on_the_loop(request, state.database)
            if owner is not None:
                self.recent.vouch(who, checked_at, owner)
                return owner
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(DOOR_THREADS)
        try:
            caller = await anyio.to_thread.run_sync(identify_briefly, request, state.database, state.cookies,
                                                    limiter=self._threads)
        except Exception:
            return None
        return caller.user
