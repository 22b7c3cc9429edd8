"""Fetching memos from an IMAP mailbox (`DICTATION_IMAP_URL`), for companies whose mail
server delivers to a mailbox rather than forwarding over SMTP.

Each unseen message is read without marking it (BODY.PEEK), delivered, then flagged:
\\Seen once it became memos or was refused, and \\Flagged too when refused, so whoever opens
the mailbox sees which ones were turned away; the reason is logged (there is no conversation
to answer in). A fault of ours leaves the message unseen, to be tried at the next look.
The envelope sender is the Return-Path the delivering server wrote; the recipients are the
Delivered-To / X-Original-To / To / Cc headers.
"""

from __future__ import annotations

import imaplib
import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from dictation.errors import DictationError, InvalidInput
from dictation.mailin.deliver import Deliver
from dictation.mailin.message import header_addresses

log = logging.getLogger("dictation.mailin")


@dataclass(frozen=True)
class Mailbox:
    host: str  # IMAP server
    port: int  # 993 for imaps, 143 for imap
    tls: bool  # imaps: TLS from the first byte
    user: str  # login name
    password: str = field(repr=False)  # never logged, never in a repr
    folder: str = "INBOX"  # the folder memos arrive in

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise InvalidInput("DICTATION_IMAP_URL must look like imaps://user:password@host/INBOX.")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname, port=parts.port or (993 if tls else 143), tls=tls,
            user=unquote(parts.username), password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )

    def shown(self) -> str:
        """For logs: everything but the password."""
        return f"imap{'s' if self.tls else ''}://{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass(frozen=True)
class Look:
    """What one look at the mailbox did."""

    accepted: int = 0  # messages that became memos (or were already memos)
    refused: tuple[str, ...] = ()  # the reasons, one per refused message
    left: int = 0  # messages left unseen after a fault of ours


def fetch_once(mailbox: Mailbox, deliver: Deliver, timeout_s: float = 60.0) -> Look:
    """Deliver every unseen message in the folder once."""
    accepted, refused, left = 0, [], 0
    connection = (imaplib.IMAP4_SSL if mailbox.tls else imaplib.IMAP4)(mailbox.host, mailbox.port, timeout=timeout_s)
    try:
        connection.login(mailbox.user, mailbox.password)
        status, _ = connection.select(_quoted(mailbox.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"no folder {mailbox.folder!r}")
        _, found = connection.uid("SEARCH", "UNSEEN")  # no charset: imaplib leaves a None one out anyway
        for uid in (found[0] or b"").split():
            _, data = connection.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if raw is None:
                continue
            envelope = header_addresses(raw, "return-path")
            recipients = header_addresses(raw, "delivered-to", "x-original-to", "to", "cc")
            try:
                delivery = deliver(raw, envelope[0] if envelope else None, list(recipients))
            except DictationError as exc:
                log.warning("mail %s in %s refused: %s", uid.decode(), mailbox.shown(), exc.message)
                connection.uid("STORE", uid.decode(), "+FLAGS", r"(\Seen \Flagged)")
                refused.append(exc.message)
                continue
            except Exception:
                log.exception("mail %s in %s could not be taken; trying again at the next look",
                              uid.decode(), mailbox.shown())
                left += 1
                continue
            connection.uid("STORE", uid.decode(), "+FLAGS", r"(\Seen)")
            log.info("mail %s in %s: %s", uid.decode(), mailbox.shown(), delivery.summary())
            accepted += 1
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return Look(accepted=accepted, refused=tuple(refused), left=left)


def poll(mailbox: Mailbox, deliver: Deliver, every_s: float, stop: threading.Event) -> None:
    """Look at the mailbox every `every_s` seconds until `stop` is set; a mailbox that does not
    answer is logged and tried again, never the end of the poller."""
    while not stop.is_set():
        try:
            fetch_once(mailbox, deliver)
        except (imaplib.IMAP4.error, OSError) as exc:
            log.warning("the mailbox %s could not be read: %s", mailbox.shown(), exc)
        stop.wait(every_s)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
