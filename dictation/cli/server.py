"""Running the service: serve, worker, migrate."""

from __future__ import annotations

import argparse
import secrets

from dictation.cli.common import open_database


def cmd_migrate(args: argparse.Namespace) -> int:
    open_database()
    print("database is up to date")
    return 0


def ensure_first_admin(database) -> tuple[str, str] | None:
    """On the very first start there is nobody to sign in as: make an admin, once."""
    from sqlalchemy import func, select

    from dictation import accounts
    from dictation.models import Role, User

    with database.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
        password = secrets.token_urlsafe(12)
        accounts.create_user(session, "admin@localhost", Role.admin, password=password, name="Admin")
        return "admin@localhost", password


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dictation.cli.common import limit_native_threads
    from dictation.cli.ops import book_retention, start_observability
    from dictation.settings import get_settings

    settings = get_settings()
    processes = settings.web_processes
    # The supervised worker processes inherit it when they are spawned.
    limit_native_threads(settings.cpu_threads)
    # With several web processes every one of them counts, so in shared files, as workers do.
    start_observability(worker_processes=processes > 1, database_gauges=True)
    database = open_database()
    if settings.workers > 0:
        book_retention(database)
    first = ensure_first_admin(database)
    if first:
        print(f"First start: sign in at http://{args.host}:{args.port}/login as {first[0]} "
              f"with password {first[1]}")
        print("(shown once; change it after signing in)")
    database.dispose()
    _start_mail_in()
    workers = None
    if processes > 1:
        # One supervisor of the transcription workers (here), however many processes answer HTTP;
        # and the callers' write marks, shared by those processes (dictation/writemarks.py).
        from dictation.jobs import start_in_process_worker
        from dictation.startup import register_job_kinds
        from dictation.writemarks import SharedMarks, marks_path

        SharedMarks.reset(marks_path(settings.data_dir))
        register_job_kinds()
        workers = start_in_process_worker(settings)
    # A string factory keeps `dictation` free of imports from `api` and `review_ui`:
    # dependencies point one way, and the full app (pages + API) is assembled in review_ui.
    # log_config=None: uvicorn's lines go through our handler (JSON, request ids, redaction).
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from loopback; the
    # app reads it itself, only from DICTATION_TRUSTED_PROXIES (api.deps.client_address).
    try:
        uvicorn.run("review_ui.app:web_app" if processes > 1 else "review_ui.app:serve_app", factory=True,
                    host=args.host, port=args.port, log_config=None, proxy_headers=False,
                    workers=processes if processes > 1 else None)
    finally:
        if workers is not None:
            workers.stop()
    return 0


def _start_mail_in() -> None:
    """With DICTATION_MAIL_IN_SERVE, memos by e-mail arrive in this process too (daemon threads)."""
    from dictation.settings import get_settings

    settings = get_settings()
    if settings.mail_in_serve:
        from dictation.mailin.service import start_mail_in

        start_mail_in(settings)


def cmd_worker(args: argparse.Namespace) -> int:
    from dictation.cli.common import limit_native_threads
    from dictation.cli.ops import start_observability
    from dictation.settings import get_settings

    limit_native_threads(get_settings().cpu_threads)
    # Before the job modules count anything: forked worker processes then count in shared files.
    start_observability(worker_processes=args.workers > 1)
    from dictation.cli.ops import book_retention
    from dictation.jobs import run_worker
    from dictation.startup import register_job_kinds

    register_job_kinds()
    database = open_database()
    book_retention(database)
    database.dispose()
    run_worker(get_settings(), workers=args.workers)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the API, the review desk and an in-process worker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run transcription and publication workers")
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.set_defaults(func=cmd_migrate)
