"""E-mail notifications over SMTP: a new draft is ready (to the assistants), a sign-off
is requested and a post is published (to the author).

Best effort: a mail server that is down must not fail a publication, so `Mailer.send`
returns a `Delivery` saying what happened instead of raising. Off when no SMTP host is
set. The SMTP password is used for login only, never logged nor put in a message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dictation.settings import Settings
from dictation.text import clean_line

log = logging.getLogger("dictation.notify")


@dataclass(frozen=True)
class Delivery:
    sent: bool
    recipients: tuple[str, ...]
    error: str = ""  # why it was not sent, in words; "" when sent or when mail is off


class Mailer:
    def __init__(self, settings: Settings, timeout_s: float = 20.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    def link(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.settings.public_url.rstrip("/") + "/" + path_or_url.lstrip("/")

    def send(self, recipients: list[str] | tuple[str, ...], subject: str, text: str) -> Delivery:
        # Titles and names come from people: a line break in one would be a new header
        # (injection), and the email package raises on it. One line each, always.
        to = tuple(clean_line(r, refuse=False).strip() for r in recipients if r)
        subject = clean_line(subject, refuse=False)
        s = self.settings
        if not s.smtp_host or not to:  # mail is off (no SMTP host) or nobody to tell
            return Delivery(sent=False, recipients=to)
        try:
            message = EmailMessage()
            message["From"] = s.smtp_from
            message["To"] = ", ".join(to)
            message["Subject"] = subject
            message["Date"] = formatdate(localtime=False)
            message["Message-ID"] = make_msgid(domain=s.smtp_from.rpartition("@")[2] or "localhost")
            message.set_content(text)
        except (ValueError, TypeError) as exc:  # e.g. an address the email package refuses
            log.warning("e-mail %r not built: %s", subject, exc)
            return Delivery(sent=False, recipients=to, error=f"The message could not be built: {exc}")
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    if not smtp.has_extn("starttls"):
                        raise smtplib.SMTPNotSupportedError(
                            "the server does not offer STARTTLS (set DICTATION_SMTP_STARTTLS=false "
                            "only for a server on the same machine)"
                        )
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            reason = _without(str(exc) or type(exc).__name__, s.smtp_password)
            log.warning("e-mail %r to %d recipient(s) not sent: %s", subject, len(to), reason)
            return Delivery(sent=False, recipients=to, error=f"{type(exc).__name__}: {reason}")
        log.info("e-mail %r sent to %d recipient(s)", subject, len(to))
        return Delivery(sent=True, recipients=to)

    # --- the messages of the workflow ------------------------------------------------
    def draft_ready(self, assistants: list[str], title: str, author: str, link: str) -> Delivery:
        return self.send(
            assistants,
            f"New draft ready: {title}",
            f"{author or 'An author'} dictated a memo; its draft \"{title}\" is ready for editing.\n\n"
            f"Open it in the worklist: {self.link(link)}\n",
        )

    def signoff_requested(self, author_email: str, title: str, requested_by: str, link: str) -> Delivery:
        return self.send(
            [author_email],
            f"Sign-off requested: {title}",
            f"{requested_by or 'Your assistant'} asks you to sign off \"{title}\" before it is published.\n\n"
            f"Read it, approve it or ask for changes: {self.link(link)}\n",
        )

    def published(self, author_email: str, title: str, url: str, destination: str = "") -> Delivery:
        where = f" on {destination}" if destination else ""
        return self.send(
            [author_email],
            f"Published: {title}",
            f"Your post \"{title}\" is published{where}.\n\nRead it here: {url}\n",
        )


def _without(text: str, secret: str | None) -> str:
    return text.replace(secret, "••••") if secret else text
