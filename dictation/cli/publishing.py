"""Where posts go: destination add/list, blog export."""

from __future__ import annotations

import argparse

from dictation.cli.common import open_database, read_secret


def cmd_destination_add(args: argparse.Namespace) -> int:
    from dictation.publish import destinations
    from dictation.settings import get_settings

    secret = read_secret(args.secret_stdin, "Secret (application password, admin key, token): ")
    with open_database().session() as session:
        row = destinations.add_destination(
            session, get_settings(), args.name, args.kind, url=args.url, user=args.user, secret=secret,
            default=args.default,
        )
        print(f"destination {row.name} ({row.kind}) added{' as the default' if row.is_default else ''}")
    return 0


def cmd_destination_list(args: argparse.Namespace) -> int:
    from dictation.publish import destinations

    with open_database().session() as session:
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


def add_commands(sub: argparse._SubParsersAction) -> None:
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
