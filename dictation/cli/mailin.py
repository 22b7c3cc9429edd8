"""`dictation mail-in`: memos by e-mail, received over SMTP or fetched from an IMAP mailbox."""

from __future__ import annotations

import argparse
import signal
import threading


def cmd_mail_in(args: argparse.Namespace) -> int:
    from dictation.cli.common import open_database
    from dictation.errors import InvalidInput
    from dictation.mailin.imap import Mailbox, fetch_once
    from dictation.mailin.senders import memo_address
    from dictation.mailin.service import mail_desk, start_mail_in
    from dictation.settings import get_settings
    from dictation.telemetry.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)  # refusals from the mailbox are only logged: they must show
    open_database().dispose()  # migrated before the first message arrives
    if args.once:
        if not settings.imap_url:
            raise InvalidInput("--once fetches the IMAP mailbox once: set DICTATION_IMAP_URL first.")
        mailbox = Mailbox.from_url(settings.imap_url)
        look = fetch_once(mailbox, mail_desk(settings).deliver)
        print(f"{mailbox.shown()}: {look.accepted} taken, {len(look.refused)} refused, "
              f"{look.left} left for the next look")
        for reason in look.refused:
            print(f"refused: {reason}")
        return 0
    if args.no_smtp and not settings.imap_url:
        raise InvalidInput("With --no-smtp there is nothing to do: set DICTATION_IMAP_URL to fetch a mailbox.")
    running = start_mail_in(settings, smtp=not args.no_smtp, port=args.port, host=args.host)
    if running.smtp is not None:
        print(f"mail-in: SMTP on {running.smtp.host}:{running.smtp.port}, memos to {memo_address(settings)}",
              flush=True)
    if running.imap is not None and settings.imap_url:
        print(f"mail-in: fetching {Mailbox.from_url(settings.imap_url).shown()} every {settings.imap_poll_s:g} s",
              flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    running.stop()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mail-in", help="turn e-mailed voice notes into memos (SMTP receiver, IMAP mailbox)")
    p.add_argument("--host", help="address to listen on (default DICTATION_MAIL_IN_HOST)")
    p.add_argument("--port", type=int, help="SMTP port (default DICTATION_MAIL_IN_PORT)")
    p.add_argument("--no-smtp", action="store_true", help="only fetch the IMAP mailbox (DICTATION_IMAP_URL)")
    p.add_argument("--once", action="store_true", help="fetch the IMAP mailbox once and exit (for cron)")
    p.set_defaults(func=cmd_mail_in)
