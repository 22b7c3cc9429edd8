"""Starting mail-in: the SMTP receiver, and the IMAP poller when a mailbox is set. Called by
`dictation mail-in` and, with `DICTATION_MAIL_IN_SERVE`, by `dictation serve`."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from dictation import jobs
from dictation.db import Database
from dictation.mailin.deliver import MailDesk
from dictation.mailin.imap import Mailbox, poll
from dictation.mailin.smtp import SmtpReceiver
from dictation.settings import Settings
from dictation.storage import MediaStore


def mail_desk(settings: Settings) -> MailDesk:
    return MailDesk(database=Database(settings), store=MediaStore.from_settings(settings),
                    queue=jobs.make_queue(settings), settings=settings)


@dataclass
class MailIn:
    desk: MailDesk
    smtp: SmtpReceiver | None  # None: IMAP only
    imap: threading.Thread | None  # None: no mailbox set
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        if self.smtp is not None:
            self.smtp.stop()
        if self.imap is not None:
            self.imap.join(30)


def start_mail_in(settings: Settings, smtp: bool = True, imap: bool = True, port: int | None = None,
                  host: str | None = None) -> MailIn:
    """The receivers asked for, running in background threads of this process."""
    desk = mail_desk(settings)
    stop_event = threading.Event()
    receiver = None
    if smtp:
        receiver = SmtpReceiver(desk.deliver, host or settings.mail_in_host,
                                settings.mail_in_port if port is None else port, settings.mail_in_max_mb,
                                screen=desk.screen).start()
    poller = None
    if imap and settings.imap_url:
        mailbox = Mailbox.from_url(settings.imap_url)
        poller = threading.Thread(target=poll, args=(mailbox, desk.deliver, settings.imap_poll_s, stop_event),
                                  name="dictation-mail-in-imap", daemon=True)
        poller.start()
    return MailIn(desk=desk, smtp=receiver, imap=poller, stop_event=stop_event)
