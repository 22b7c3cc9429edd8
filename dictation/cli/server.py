"""Server-side commands: serve, worker, migrate, user, token, destination, blog."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys


def _database():
    from dictation.db import Database
    from dictation.migrations import upgrade
    from dictation.settings import get_settings

    database = Database(get_settings())
    upgrade(database)
    return database


def cmd_migrate(args: argparse.Namespace) -> int:
    _database()
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

    from dictation.cli.ops import book_retention, start_observability
    from dictation.settings import get_settings

    start_observability(worker_processes=False, database_gauges=True)
    database = _database()
    if get_settings().workers > 0:
        book_retention(database)
    first = ensure_first_admin(database)
    if first:
        print(f"First start: sign in at http://{args.host}:{args.port}/login as {first[0]} "
              f"with password {first[1]}")
        print("(shown once; change it after signing in)")
    database.dispose()
    _start_mail_in()
    # A string factory keeps `dictation` free of imports from `api` and `review_ui`:
    # dependencies point one way, and the full app (pages + API) is assembled in review_ui.
    # log_config=None: uvicorn's lines go through our handler (JSON, request ids, redaction).
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from loopback; the
    # app reads it itself, only from DICTATION_TRUSTED_PROXIES (api.deps.client_address).
    uvicorn.run("review_ui.app:serve_app", factory=True, host=args.host, port=args.port, log_config=None,
                proxy_headers=False)
    return 0


def _start_mail_in() -> None:
    """With DICTATION_MAIL_IN_SERVE, memos by e-mail arrive in this process too (daemon threads)."""
    from dictation.settings import get_settings

    settings = get_settings()
    if settings.mail_in_serve:
        from dictation.mailin.service import start_mail_in

        start_mail_in(settings)


def cmd_worker(args: argparse.Namespace) -> int:
    from dictation.cli.ops import start_observability

    # Before the job modules count anything: forked worker processes then count in shared files.
    start_observability(worker_processes=args.workers > 1)
    from dictation.cli.ops import book_retention
    from dictation.jobs import run_worker
    from dictation.settings import get_settings
    from dictation.startup import register_job_kinds

    register_job_kinds()
    database = _database()
    book_retention(database)
    database.dispose()
    run_worker(get_settings(), workers=args.workers)
    return 0


def _read_secret(from_stdin: bool, prompt: str) -> str | None:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
        return value or None
    if sys.stdin.isatty():
        return getpass.getpass(prompt) or None
    return None


def cmd_user_add(args: argparse.Namespace) -> int:
    from dictation import accounts

    password = _read_secret(args.password_stdin, "Password (empty: token-only account): ")
    with _database().session() as session:
        user = accounts.create_user(session, args.email, args.role, password=password, name=args.name or "",
                                language=args.language)
        print(f"user {user.email} ({user.role}) created")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from dictation import accounts
    from dictation.errors import NotFound
    from dictation.models import User

    with _database().session() as session:
        user = session.scalar(select(User).where(User.email == args.email))
        if user is None:
            raise NotFound(f"There is no user {args.email}.")
        _, token = accounts.create_token(session, user, args.name)
    print(token)
    sys.stderr.write("This token is shown once: store it now.\n")
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

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="add a user")
    p.add_argument("email")
    p.add_argument("--role", choices=["author", "assistant", "admin"], required=True)
    p.add_argument("--name")
    p.add_argument("--language", choices=["en", "fr"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create a personal API token (printed once)")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.set_defaults(func=cmd_token_create)


def cmd_destination_add(args: argparse.Namespace) -> int:
    from dictation.publish import destinations
    from dictation.settings import get_settings

    secret = _read_secret(args.secret_stdin, "Secret (application password, admin key, token): ")
    with _database().session() as session:
        row = destinations.add_destination(
            session, get_settings(), args.name, args.kind, url=args.url, user=args.user, secret=secret,
            default=args.default,
        )
        print(f"destination {row.name} ({row.kind}) added{' as the default' if row.is_default else ''}")
    return 0


def cmd_destination_list(args: argparse.Namespace) -> int:
    from dictation.publish import destinations

    with _database().session() as session:
        for row in destinations.list_destinations(session):
            info = destinations.describe(row)
            flags = " (default)" if info["default"] else ""
            secret = "secret set" if info["has_secret"] else "no secret"
            print(f"{info['id']:>3}  {info['name']:<20} {info['kind']:<10} {info['url'] or '-'}  {secret}{flags}")
    return 0


def cmd_blog_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dictation.publish.cms.blog import export
    from dictation.settings import get_settings

    written = export(Path(args.dir), get_settings())
    print(f"{len(written)} files written to {args.dir}")
    return 0


def add_publishing_commands(sub: argparse._SubParsersAction) -> None:
    dest = sub.add_parser("destination", help="where drafts are published").add_subparsers(
        dest="destination_command", required=True)
    p = dest.add_parser("add", help="add a destination")
    p.add_argument("name")
    p.add_argument("--kind", choices=["blog", "wordpress", "ghost", "micropub", "webhook"], required=True)
    p.add_argument("--url")
    p.add_argument("--user")
    p.add_argument("--secret-stdin", action="store_true",
                   help="read the application password, Ghost admin key, Micropub token or webhook secret from stdin")
    p.add_argument("--default", action="store_true")
    p.set_defaults(func=cmd_destination_add)
    p = dest.add_parser("list", help="list destinations (secrets are never shown)")
    p.set_defaults(func=cmd_destination_list)

    blog = sub.add_parser("blog", help="the built-in blog").add_subparsers(dest="blog_command", required=True)
    p = blog.add_parser("export", help="write the built-in blog as a static folder")
    p.add_argument("dir")
    p.set_defaults(func=cmd_blog_export)
