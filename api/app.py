"""The application factory: one database, one media store and the settings on `app.state`,
the routers and the resumable upload endpoint (`api.uploads`) under /api/v1, and every error
answered as JSON by `api.errors`."""

from __future__ import annotations

import contextlib
import gc

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import errors, middleware, observability, uploads
from api.admission import Admission
from api.paths import API_PREFIX as API_PREFIX  # where the pages and tests look for it
from api.recent import ForgetOnWrite, KeptAtTheDoor, RecentAnswers
from api.routers import (
    additions,
    blog,
    destinations,
    drafts,
    health,
    memos,
    publications,
    session,
    tokens,
    users,
    vocabulary,
    worklist,
)
from api.security import SecurityHeaders
from dictation import accounts, credential_changes
from dictation.db import Base, Database
from dictation.jobs import start_in_process_worker
from dictation.settings import Settings, get_settings
from dictation.startup import register_job_kinds
from dictation.storage import MediaStore
from dictation.writemarks import SharedMarks, marks_path

DESCRIPTION = """
Spoken memos in, blog posts out.

Sign in with `POST /api/v1/session` (a browser session cookie; unsafe requests then carry
`X-CSRF-Token`) or send a personal API token as `Authorization: Bearer dd_…`.
Every error is JSON: `{"error": "<code>", "message": "<a sentence>", …}`.
"""


def prepare_database(database: Database) -> None:
    """Bring the schema up to date: Alembic where the migrations exist, else create the tables."""
    try:
        from dictation.migrations import upgrade
    except ImportError:
        Base.metadata.create_all(database.engine)
    else:
        upgrade(database)


def freeze_startup_objects() -> None:
    """Move what the process holds after its imports and setup (~190,000 objects) out of the
    garbage collector's reach. Without it every full collection walked them all: under load
    bench/load.py saw 8 such pauses in 25 s, up to 290 ms each, and every request waiting on
    the process paid them (the worklist's p95 was those pauses). Once per process: a test
    process builds many apps and only its first startup's objects are frozen."""
    if gc.get_freeze_count() == 0:
        gc.collect()  # startup's own garbage goes now instead of being kept for good
        gc.freeze()


def create_app(settings: Settings | None = None, *, migrate: bool = True, worker: bool = False) -> FastAPI:
    """`worker=True` runs `settings.workers` job workers inside the server (`dictation serve`)."""
    settings = settings or get_settings()
    register_job_kinds()
    database = Database(settings)
    if migrate:
        prepare_database(database)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        handle = None
        freeze_startup_objects()
        if worker:
            handle = start_in_process_worker(settings)  # None when DICTATION_WORKERS=0
        try:
            yield
        finally:
            if handle is not None:
                handle.stop()
            database.dispose()

    app = FastAPI(
        title="Dictation Desk",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.store = MediaStore(settings.media_dir)
    app.state.cookies = accounts.SessionCookies(settings.secret_key, settings.session_max_age_hours * 3600)
    app.state.sign_in_throttle = accounts.SignInThrottle()
    errors.install_error_handlers(app)
    # Middleware, innermost first. Worklist answers kept a second per caller; dropped at the
    # caller's writes, which several server processes (DICTATION_WEB_PROCESSES) must all see.
    marks = SharedMarks(marks_path(settings.data_dir)) if settings.web_processes > 1 else None
    app.state.recent = RecentAnswers(marks=marks)
    # The door's recent verdicts on tokens end at any change to users, tokens or sessions.
    credential_changes.listen(app.state.recent.credentials_changed)
    app.add_middleware(ForgetOnWrite, recent=app.state.recent)
    app.add_middleware(Admission, exempt=middleware.OWN_LIMIT)  # no pool/thread deadlock under bursts
    # Outside the gate: a kept worklist answer does not wait for a place inside.
    app.add_middleware(KeptAtTheDoor, recent=app.state.recent, routes={
        f"{API_PREFIX}{route.path}": route for route in worklist.router.routes if isinstance(route, APIRoute)},
        shared=worklist.answer_shared)
    observability.install(app)  # request ids, latency by route, /metrics
    middleware.install(app, settings)  # body limit, no method overrides
    # Outermost: every answer gets the browser defences, errors and static files included.
    app.add_middleware(SecurityHeaders, docs_path=f"{API_PREFIX}/docs")
    # Most requested first: a request is matched against each route before its own, one by one
    # (a draft read went through 28 of them: ~6 % of its CPU). No two routes answer the same
    # request (tests/test_route_order.py), so the order changes nothing else.
    for module in (drafts, memos, worklist, additions, publications, session, tokens, users, destinations,
                   vocabulary, health):
        app.include_router(module.router, prefix=API_PREFIX)
    uploads.install(app)  # tus, under UPLOADS_PATH; not a router: it holds this app's upload folders
    # Probes at the root as well, where load balancers and orchestrators look for them.
    app.include_router(health.router, include_in_schema=False)
    app.include_router(blog.router)
    return app
