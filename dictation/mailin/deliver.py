"""One received message becomes memos, through the same intake as an upload.

Everything that can refuse a message is checked before the first memo exists (the sender,
the attachments, their sizes), so a refused message leaves nothing behind and the sender can
simply send it again. A message delivered twice (a retrying mail server, a second forward of
the same note) answers with the memos of the first: the Message-ID is the Idempotency-Key,
and intake also knows the same bytes from the same author.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import huey

from dictation.audio import check_stated_length
from dictation.db import Database
from dictation.errors import InvalidInput, TooLarge
from dictation.mailin.message import Attachment, MemoMail, parse_mail
from dictation.mailin.senders import find_author, screen_recipient
from dictation.memos.intake import MAX_TITLE, Intake, Recording, forget_unreferenced, receive_memo
from dictation.settings import Settings
from dictation.storage import MediaStore


@dataclass(frozen=True)
class Delivery:
    author_email: str  # whose memos they became
    memos: tuple[Intake, ...]  # one per recording, in the message's order

    def summary(self) -> str:
        """One line for the SMTP reply and the log."""
        parts = [f"memo {t.memo.id}" + ("" if t.created else " (already received)") for t in self.memos]
        return f"{', '.join(parts)} for {self.author_email}"


# What the SMTP receiver and the IMAP poller call with each message: raw bytes, envelope sender, recipients.
Deliver = Callable[[bytes, str | None, list[str]], Delivery]
# What the SMTP receiver calls at each RCPT, before the message is sent: envelope sender, recipient.
Screen = Callable[[str | None, str], None]


@dataclass(frozen=True)
class MailDesk:
    """What receiving needs: where memos go and the limits that apply."""

    database: Database  # users and memos
    store: MediaStore  # where recordings are kept
    queue: huey.Huey  # where transcription jobs are sent
    settings: Settings  # limits, the desk's address, secret-only mode

    def screen(self, envelope_from: str | None, recipient: str) -> None:
        """Forbidden, before the message is sent, when this recipient or sender cannot make a memo."""
        with self.database.session() as session:
            screen_recipient(session, self.settings, envelope_from, recipient)

    def deliver(self, raw: bytes, envelope_from: str | None, recipients: list[str] | tuple[str, ...]) -> Delivery:
        """The memos this message becomes, or a DictationError whose message tells the sender why not."""
        mail = parse_mail(raw)
        with self.database.session() as session:
            author = find_author(session, self.settings, envelope_from, mail.senders, recipients)
            session.expunge(author)
        if not mail.recordings:
            others = f" (attached: {', '.join(mail.other_files)})" if mail.other_files else ""
            raise InvalidInput(
                f"This message has no audio attachment{others}. Forward the voice note itself "
                "(m4a, ogg, opus, mp3, 3gp, wav...), not a link to it."
            )
        limit = self.settings.max_upload_mb * 1024 * 1024
        for recording in mail.recordings:
            if len(recording.data) > limit:
                raise TooLarge(
                    f"The recording {recording.filename!r} is larger than the limit of "
                    f"{self.settings.max_upload_mb} MB for one memo; nothing from this message was kept."
                )
        max_seconds = self.settings.max_memo_minutes * 60
        stored = [self.store.save_stream(recording.data, max_bytes=limit) for recording in mail.recordings]
        # Every recording's stated length before any becomes a memo: the reply then says what
        # was refused, never "some of it went in".
        for recording, kept in zip(mail.recordings, stored, strict=True):
            try:
                check_stated_length(self.store.path(kept.sha256), max_seconds)
            except TooLarge as exc:
                for unused in stored:
                    forget_unreferenced(self.database, self.store, unused.sha256)
                raise TooLarge(f"The recording {recording.filename!r}: {exc.message} "
                               "Nothing from this message was kept.") from exc
        taken = []
        for index, (recording, kept) in enumerate(zip(mail.recordings, stored, strict=True)):
            fields = _fields(mail, recording, index)
            taken.append(receive_memo(
                self.database, self.store, self.queue, author,
                Recording(stored=kept, media_type=recording.media_type, filename=recording.filename),
                fields, key=mail.key(index), max_seconds=max_seconds,
            ))
        return Delivery(author_email=author.email, memos=tuple(taken))


def _fields(mail: MemoMail, recording: Attachment, index: int) -> dict[str, str]:
    """subject → title, the message's text → note; several recordings are told apart by
    "(2/3)". A subject too long for a title is kept whole in the note."""
    title = mail.subject
    count = len(mail.recordings)
    suffix = f" ({index + 1}/{count})" if count > 1 else ""
    note_lines = [mail.text] if mail.text else []
    if len(title) + len(suffix) > MAX_TITLE:
        note_lines.insert(0, f"Subject: {title}")
        title = title[: MAX_TITLE - len(suffix) - 1].rstrip() + "…"
    if title:
        title += suffix
    if count > 1:
        note_lines.append(f"Recording {index + 1} of {count} in the e-mail: {recording.filename}")
    if mail.other_files:
        note_lines.append(f"Also attached, not audio (not kept): {', '.join(mail.other_files)}")
    return {"title": title, "note": "\n\n".join(note_lines)}
