"""People and their tokens: user add, token create."""

from __future__ import annotations

import argparse
import sys

from dictation.cli.common import open_database, read_secret


def cmd_user_add(args: argparse.Namespace) -> int:
    from dictation import accounts

    password = read_secret(args.password_stdin, "Password (empty: token-only account): ")
    with open_database().session() as session:
        user = accounts.create_user(session, args.email, args.role, password=password, name=args.name or "",
                                language=args.language)
        print(f"user {user.email} ({user.role}) created")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from dictation import accounts
    from dictation.errors import NotFound
    from dictation.models import User

    with open_database().session() as session:
        user = session.scalar(select(User).where(User.email == args.email))
        if user is None:
            raise NotFound(f"There is no user {args.email}.")
        _, token = accounts.create_token(session, user, args.name)
    print(token)
    sys.stderr.write("This token is shown once: store it now.\n")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
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
