"""Reading one e-mail: who says they sent it, its subject and text, and which attachments are
recordings.

The bytes decide what a recording is, not the sender's label: WhatsApp forwards its voice
notes as `audio/ogg` (Opus) named `PTT-….opus`, Teams and Outlook as `audio/mp4` or
`audio/x-m4a`, Android recorders and webmail often as `application/octet-stream` with a
`.m4a` name, and a note forwarded as an attached message (`message/rfc822`) is one level
deeper. An attachment that *claims* to be audio but is not is refused with its name, so the
sender learns which file was wrong; other attachments (a signature logo, a vCard) are not
what anyone said, and are named in the memo's note rather than dropped unseen.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html.parser
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

from dictation import audio
from dictation.audio.sniff import MEDIA_TYPES
from dictation.errors import BadAudio, InvalidInput

# Names that say "I am a recording": such an attachment that is not audio is refused, not skipped.
AUDIO_EXTENSIONS = {
    "m4a", "mp4", "3gp", "3gpp", "ogg", "oga", "opus", "webm", "mka", "mp3", "aac", "flac", "wav", "amr", "caf",
}
_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|fw|tr|wg|re|aw|rv)\s*:\s*)+", re.IGNORECASE)
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Attachment:
    filename: str  # as the sender named it, or a made-up "attachment-N" when it had none
    declared_type: str  # the Content-Type the mail gave; only a hint
    data: bytes  # decoded from base64 / quoted-printable
    kind: str  # the container sniffing found (m4a, ogg, ...)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.kind, "application/octet-stream")


@dataclass(frozen=True)
class MemoMail:
    message_id: str | None  # the Message-ID header: a resent copy of one message is one memo
    senders: tuple[str, ...]  # addresses in the From header, lower-case
    subject: str  # without Fwd:/TR:/Re: prefixes
    text: str  # the message's own words (plain text, or HTML turned into text)
    recordings: tuple[Attachment, ...]  # in the order of the message
    other_files: tuple[str, ...]  # attachments that are not recordings, by name

    def key(self, index: int) -> str | None:
        """The Idempotency-Key of the memo made from recording `index` of this message."""
        if not self.message_id:
            return None
        return f"mail:{hashlib.sha256(self.message_id.encode()).hexdigest()[:40]}:{index}"


def parse_mail(raw: bytes) -> MemoMail:
    """Read a message, or InvalidInput / BadAudio saying what is wrong with it."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        senders = _addresses(message, "from")
    except Exception as exc:  # the email package raises many kinds on broken headers
        raise InvalidInput(f"This message could not be read as e-mail ({type(exc).__name__}).") from None
    if not isinstance(message, EmailMessage) or not senders:
        raise InvalidInput("This message has no From address we can read, so we cannot tell whose memo it is.")
    recordings: list[Attachment] = []
    others: list[str] = []
    for number, part in enumerate(_leaf_parts(message), start=1):
        found = _recording(part, number)
        if isinstance(found, Attachment):
            recordings.append(found)
        elif found:
            others.append(found)
    return MemoMail(
        message_id=(str(message.get("message-id", "")).strip() or None),
        senders=senders,
        subject=_FORWARD_PREFIX.sub("", str(message.get("subject", "") or "")).strip(),
        text=_body_text(message),
        recordings=tuple(recordings),
        other_files=tuple(others),
    )


def header_addresses(raw: bytes, *names: str) -> tuple[str, ...]:
    """Addresses in the given headers of a raw message (e.g. Return-Path, Delivered-To): what an
    IMAP mailbox keeps of the envelope."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found: list[str] = []
    for name in names:
        for address in _addresses(message, name):
            if address not in found:
                found.append(address)
    return tuple(found)


def _addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    values = [str(v) for v in message.get_all(name, [])]
    return tuple(address.lower() for _, address in getaddresses(values) if "@" in address)


def _leaf_parts(message: EmailMessage):
    # walk() descends into attached messages (message/rfc822) too: a note forwarded "as attachment".
    for part in message.walk():
        if not part.is_multipart():
            yield part


def _recording(part: EmailMessage, number: int) -> Attachment | str | None:
    """The part as a recording, or its name when it is some other attachment, or None for the
    message's own text."""
    declared = part.get_content_type()
    filename = part.get_filename()
    disposition = part.get_content_disposition()
    if declared.startswith("text/") and not filename and disposition != "attachment":
        return None  # the body (or its HTML twin)
    name = filename or f"attachment-{number}"
    claims_audio = declared.startswith("audio/") or name.rpartition(".")[2].lower() in AUDIO_EXTENSIONS
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    # A leaf part decodes to bytes; anything else (a nested message) is no recording.
    data = payload if isinstance(payload, bytes) else b""
    kind = audio.sniff(data[:SNIFF_BYTES]) if data else None
    if kind is not None:
        return Attachment(filename=name, declared_type=declared, data=data, kind=kind)
    if claims_audio:
        what = audio.looks_like(data[:SNIFF_BYTES]) if data else "an empty file"
        raise BadAudio(
            f"The attachment {name!r} is not audio we can read"
            + (f": it looks like {what}." if what else " (its bytes match no recording format).")
            + " Nothing from this message was kept; send the recording again.",
            filename=name,
        )
    return name


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except Exception:
        return ""
    if body.get_content_type() == "text/html":
        content = _html_text(content)
    return "\n".join(line.rstrip() for line in content.strip().splitlines())


class _TextOfHtml(html.parser.HTMLParser):
    _BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"}

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.chunks.append(data)


def _html_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    text = "".join(parser.chunks)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t\xa0]+", " ", text)).strip()
