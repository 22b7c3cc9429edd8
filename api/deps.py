"""Typed dependencies: the settings, a database session per request, and the caller.

A caller proves who they are with `Authorization: Bearer <token>` (phones, scripts; no
CSRF needed, a cross-site page cannot set that header) or with the session cookie (the
browser), in which case every unsafe request must also carry the session's CSRF token, in
the `X-CSRF-Token` header or a `csrf_token` form field.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dictation import accounts
from dictation.db import Database, nothing_to_send
from dictation.errors import Forbidden, NotAuthenticated
from dictation.models import Role, User
from dictation.settings import Settings
from dictation.storage import MediaStore

SESSION_COOKIE = "dictation_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Declared only so the OpenAPI schema shows both ways in; the parsing is ours (below).
_bearer = HTTPBearer(auto_error=False, description="A personal API token: `Authorization: Bearer dd_…`.")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The browser session from POST /api/v1/session; unsafe requests also need X-CSRF-Token.",
)


class CsrfFailed(Forbidden):
    code = "csrf_failed"


# `async def`, though nothing here waits: FastAPI runs a plain `def` dependency on the thread
# pool, and these four hops (of ~28 a request made) cost more than the lookups they wrap.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.database


async def get_store(request: Request) -> MediaStore:
    return request.app.state.store


async def get_cookies(request: Request) -> accounts.SessionCookies:
    return request.app.state.cookies


_QUEUE_MADE = threading.Lock()


def queue_of(request: Request):
    """The job queue (SQLite or Redis per the settings), built on first use (SQLite's makes
    its tables: in a thread, or from one)."""
    queue = getattr(request.app.state, "queue", None)
    if queue is None:
        with _QUEUE_MADE:  # the first uploads of a burst would each build one
            queue = getattr(request.app.state, "queue", None)
            if queue is None:
                from dictation import jobs

                queue = request.app.state.queue = jobs.make_queue(request.app.state.settings)
    return queue


async def get_queue(request: Request):
    """`queue_of` without a thread hop once the queue is built. As a plain `def` every upload
    paid a hop for an attribute read: under bench/load.py its thread waited up to 130 ms (p95)
    for the GIL, with no work to do."""
    queue = getattr(request.app.state, "queue", None)
    return queue if queue is not None else await run_in_threadpool(queue_of, request)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session: committed on success, rolled back on error, as
    `Database.session`. Made on the event loop (a session takes no connection until its first
    query) and ended there when ending it sends nothing to the database (a kept worklist answer,
    a read); otherwise ended in a thread, since a commit waits on the database. A plain `def`
    generator cost two thread hops a request, each more CPU than a kept answer's own work."""
    session = request.app.state.database.sessionmaker()
    try:
        yield session
    except BaseException:
        await _end_session(session, commit=False)
        raise
    await _end_session(session, commit=True)


async def _end_session(session: Session, commit: bool) -> None:
    if nothing_to_send(session):
        session.close()
    else:
        await run_in_threadpool(_commit_or_roll_back, session, commit)


def _commit_or_roll_back(session: Session, commit: bool) -> None:
    with session:  # closes it
        if not commit:
            session.rollback()
            return
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
StoreDep = Annotated[MediaStore, Depends(get_store)]
QueueDep = Annotated[object, Depends(get_queue)]
CookiesDep = Annotated[accounts.SessionCookies, Depends(get_cookies)]
# scope="function": commit before the answer leaves, so a client that reads right after a
# 201 sees what it created, and a failed commit is an error answer, not a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass
class Caller:
    user: User
    via: Literal["token", "session"]
    cookie: str | None  # the session cookie, when that is how they came in


def bearer_token(header: str) -> str | None:
    """The token of an Authorization header reading 'Bearer <token>'; None for anything else.
    The one reading of the header, for `identify` and the door's check alike."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def identify(
    request: Request, session: Session, cookies: accounts.SessionCookies, database: Database | None = None
) -> Caller:
    """Who sent this request (bearer token first, then the session cookie), or NotAuthenticated."""
    database = database or request.app.state.database
    header = request.headers.get("authorization")
    if header:
        token = bearer_token(header)
        if token is None:
            raise NotAuthenticated("The Authorization header must read 'Bearer <your API token>'.")
        # Its own short transaction: recording the token's last use is a write, and the
        # request's transaction must not hold a write lock (SQLite has one) while it works.
        with database.session() as own:
            found = accounts.user_for_token(own, token)
        # Into the request's session as loaded, without reading the row again.
        user = session.merge(found, load=False) if found is not None else None
        if user is None:
            raise NotAuthenticated("This API token is not valid: it may have been revoked.")
        return Caller(user, "token", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = cookies.user(session, cookie)
        if user is None:
            raise NotAuthenticated("Your session has expired or was signed out; please sign in again.")
        return Caller(user, "session", cookie)
    raise NotAuthenticated("Please sign in, or send an API token as 'Authorization: Bearer <token>'.")


def check_csrf(cookies: accounts.SessionCookies, caller: Caller, supplied: str | None) -> None:
    if caller.via == "session" and not cookies.check_csrf(caller.cookie or "", supplied):
        raise CsrfFailed(
            "This request did not carry the page's security token (CSRF); reload the page and try again."
        )


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORM_TYPES


async def owner_on_the_loop(request: Request, database: Database) -> User | None:
    """For the door (api/recent.py): the bearer token's owner, judged on the event loop as
    `identify` would, where that reads one row and writes nothing: on SQLite in a file in the
    loop itself (`Database.loop_reader`: the read takes ~0.2 ms, a thread hop waited 10-40 ms at
    p95 for the GIL under bench/load.py), on PostgreSQL awaited there (`Database.awaited_reader`).
    The owner comes detached. None: ask `identify` in a thread (a session cookie, a token refused
    or whose use is due to be recorded, a database busy or away), which also words any refusal."""
    header = request.headers.get("authorization")
    if not header:
        return None
    token = bearer_token(header)
    if token is None:
        return None
    awaited = database.awaited_reader()
    if awaited is not None:
        return await accounts.token_owner_awaited(awaited, token)
    reader = database.loop_reader()
    if reader is None:
        return None
    try:
        with reader.connect() as connection:
            return accounts.token_owner(connection, token)
    except Exception:  # noqa: BLE001 - as the thread path: whatever failed, `identify` says
        return None


def identify_briefly(request: Request, database: Database, cookies: accounts.SessionCookies) -> Caller:
    """`identify` in a short session of its own: for callers outside a request's session (the
    streamed upload, a kept answer at the door), which must not hold a connection longer."""
    with database.session() as session:
        caller = identify(request, session, cookies, database)
        session.expunge(caller.user)
    return caller


async def current_caller_deferred_csrf(
    request: Request,
    database: DatabaseDep,
    cookies: CookiesDep,
    _b: Annotated[object, Security(_bearer)] = None,
    _c: Annotated[object, Security(_cookie)] = None,
) -> Caller:
    """The caller, without the CSRF check: for the streamed upload, whose form field
    arrives in the body the handler parses itself (it must call `check_csrf`). Its own short
    session: an upload may take minutes and must not hold a database connection meanwhile."""
    return await run_in_threadpool(identify_briefly, request, database, cookies)


async def _current_caller_in_session(
    request: Request,
    session: SessionDep,
    cookies: CookiesDep,
    database: DatabaseDep,
    _b: Annotated[object, Security(_bearer)] = None,
    _c: Annotated[object, Security(_cookie)] = None,
) -> Caller:
    # In a thread, not `owner_on_the_loop` as at the door: tried for every API request (paired
    # runs, 4 December), it saved 7 % of the CPU and the drafts' p95, and the kept worklist,
    # which is the event loop's own work, waited longer for the busier loop in every round.
    return await run_in_threadpool(identify, request, session, cookies, database)


async def current_caller(
    request: Request,
    cookies: CookiesDep,
    caller: Annotated[Caller, Depends(_current_caller_in_session)],
) -> Caller:
    """The caller, with the CSRF check for browser sessions; the user row belongs to the
    request's session, so handlers can change it."""
    if request.method not in SAFE_METHODS and caller.via == "session":
        supplied = request.headers.get(CSRF_HEADER)
        if supplied is None and _is_form(request):
            # Starlette caches the parsed form: the handler can still read it.
            form_value = (await request.form()).get(CSRF_FIELD)
            supplied = form_value if isinstance(form_value, str) else None
        check_csrf(cookies, caller, supplied if isinstance(supplied, str) else None)
    request.state.user = caller.user
    # Read now, as a plain value: a refusal is worded after the request's session is closed.
    request.state.user_language = caller.user.language
    return caller


# Async for the same reason as get_settings: no waiting, no thread hop (the user row is loaded).
async def current_user(caller: Annotated[Caller, Depends(current_caller)]) -> User:
    return caller.user


async def staff_user(user: Annotated[User, Depends(current_user)]) -> User:
    accounts.require_role(user, Role.assistant, Role.admin, doing="do this")
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    accounts.require_role(user, Role.admin, doing="manage accounts")
    return user


CallerDep = Annotated[Caller, Depends(current_caller)]
CurrentUser = Annotated[User, Depends(current_user)]
StaffUser = Annotated[User, Depends(staff_user)]
AdminUser = Annotated[User, Depends(admin_user)]


@functools.lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _is_trusted(host: str, networks) -> bool:
    try:
        address = ipaddress.ip_address(host.strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_address(request: Request) -> str:
    """The address of the person's machine. X-Forwarded-For is believed only from the
    proxies in DICTATION_TRUSTED_PROXIES (anyone can send the header): read from the right,
    the first hop that is not one of ours is the client."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(request.app.state.settings.trusted_proxies)
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop, networks):
            return hop[:64]
    return peer


def cookie_is_secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://") or settings.environment == "production"


def set_session_cookie(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=settings.session_max_age_hours * 3600, path="/",
        httponly=True, samesite="lax", secure=cookie_is_secure(settings),
    )
