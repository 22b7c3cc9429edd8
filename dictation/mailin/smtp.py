"""The SMTP receiver: aiosmtpd on its own event loop thread, taking each message whole and
answering during the conversation. A refused message gets a 5xx reply with the sentence that
says why (the sender's mail server turns it into a bounce the person reads); a fault of ours
(database down) gets a 451, so the sender's server tries again later. Nothing a sender does
crashes the receiver.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session

from dictation.errors import DictationError
from dictation.mailin.deliver import Deliver, Screen

log = logging.getLogger("dictation.mailin")
T = TypeVar("T")
# aiosmtpd logs every command at INFO, recipients included: a secret memo address
# (memo+<secret>@…) must never reach a log.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Enhanced status codes (RFC 3463) by the kind of refusal.
_CODES = {
    401: "550 5.7.1", 403: "550 5.7.1", 404: "550 5.1.1", 413: "552 5.3.4", 415: "554 5.6.0", 422: "554 5.6.0",
}
TRY_LATER = "451 4.3.0 The desk could not take this memo just now; your mail server will try again."


def smtp_reply(code: str, sentence: str) -> str:
    """A reply of one or more lines: printable ASCII (a refusal may quote a file name), each
    line well under the 512-octet limit."""
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in sentence)
    lines = textwrap.wrap(clean, 400) or [""]
    status = code.split()[0]
    return "\r\n".join(f"{status}{'-' if i < len(lines) - 1 else ' '}{code[4:]} {line}".replace("  ", " ", 1)
                       for i, line in enumerate(lines))


class MailInHandler:
    """aiosmtpd handler: each message goes to `deliver` on a worker thread (intake writes to
    the database and the media store, which must not block the event loop)."""

    def __init__(self, deliver: Deliver, screen: Screen | None = None) -> None:
        self.deliver = deliver
        self.screen = screen

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.screen is not None:
            _, refused = await _off_loop(envelope, "before its data", self.screen, envelope.mail_from, address)
            if refused:
                return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        delivery, refused = await _off_loop(envelope, "", self.deliver, raw, envelope.mail_from,
                                            list(envelope.rcpt_tos))
        if refused or delivery is None:
            return refused or TRY_LATER
        log.info("mail from %s: %s", envelope.mail_from, delivery.summary())
        return smtp_reply("250 2.0.0", f"Received: {delivery.summary()}.")


async def _off_loop(envelope: Envelope, stage: str, call: Callable[..., T], *args: Any) -> tuple[T | None, str]:
    """`call(*args)` on a worker thread: its result, or the SMTP reply that refuses (a
    DictationError's sentence) or defers (451, for a fault of ours) the message."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, call, *args), ""
    except DictationError as exc:
        log.info("mail from %s refused%s: %s", envelope.mail_from, f" {stage}" if stage else "", exc.message)
        return None, _refusal(exc)
    except Exception:
        log.exception("mail from %s could not be taken", envelope.mail_from)
        return None, TRY_LATER


def _refusal(exc: DictationError) -> str:
    return smtp_reply(_CODES.get(exc.status, "554 5.0.0" if exc.status < 500 else "451 4.3.0"), exc.message)


class _DeskSMTP(SMTP):
    """aiosmtpd's size refusals say "Error: Too much mail data"; a person reading the bounce
    should learn the limit and what to do."""

    def __init__(self, *args, limit_mb: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_mb = limit_mb

    async def push(self, status: str) -> None:  # type: ignore[override]  # aiosmtpd pushes str replies only
        if status.startswith("552 Error"):
            status = smtp_reply("552 5.3.4", f"The message is larger than this desk's limit of {self.limit_mb} MB; "
                                             "send the recording alone, or a shorter one.")
        await super().push(status)


class SmtpReceiver:
    """A listening SMTP server on `host:port` (port 0: a free one, see `.port`)."""

    def __init__(self, deliver: Deliver, host: str, port: int, max_mb: int, hostname: str | None = None,
                 screen: Screen | None = None) -> None:
        self.handler = MailInHandler(deliver, screen)
        self.host, self.port, self.max_mb, self.hostname = host, port, max_mb, hostname
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    def _factory(self) -> SMTP:
        return _DeskSMTP(self.handler, limit_mb=self.max_mb, data_size_limit=self.max_mb * 1024 * 1024,
                         enable_SMTPUTF8=True, hostname=self.hostname, ident="Dictation Desk mail-in")

    def start(self) -> SmtpReceiver:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._server = loop.run_until_complete(loop.create_server(self._factory, self.host, self.port))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="dictation-mail-in-smtp", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        log.info("mail-in listening for SMTP on %s:%s", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
