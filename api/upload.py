"""A memo upload, streamed: the multipart body is parsed as it arrives and the `file` part
goes chunk by chunk into the media store, so a recording is never whole in memory, the
size limit holds while bytes arrive (not after), and a file that is not audio is refused
from its first bytes. Starlette's own form parser would spool the whole body first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from dictation import audio
from dictation.audio.sniff import MEDIA_TYPES as MEDIA_TYPES  # served as; mail-in uses the same table
from dictation.errors import BadAudio, InvalidInput, TooLarge
from dictation.storage import MediaStore, StoredFile

if TYPE_CHECKING:  # python-multipart declares its callback table for type checkers only
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
SNIFF_BYTES = 4096  # enough for every container's signature (mp4's ftyp box, RIFF, EBML)
MAX_FIELD_BYTES = 64 * 1024  # a title or a note; anything bigger is not a form field
MAX_FIELDS = 32
# Multipart boundaries and the other fields ride on top of the file in Content-Length.
FORM_OVERHEAD = 256 * 1024


@dataclass
class ReceivedUpload:
    stored: StoredFile
    filename: str | None  # as the client named it
    content_type: str | None  # as the client declared it (the sniffed kind decides)
    audio_kind: str  # what sniffing found, e.g. "mp4", "ogg"
    fields: dict[str, str] = field(default_factory=dict)  # the other form fields


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str | None = None
    disposition: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


class _Parser:
    def __init__(self) -> None:
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.fields: dict[str, str] = {}
        self.file_part: _Part | None = None
        self.file_done = False
        self.pending: list[bytes] = []  # file bytes parsed but not yet stored

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise InvalidInput("A part of the form has no name.")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options or self.part.name == FILE_FIELD:
            if self.part.name != FILE_FIELD:
                raise InvalidInput(f"Send the recording in the field '{FILE_FIELD}', not '{self.part.name}'.")
            if self.file_part is not None:
                raise InvalidInput("Send one recording per memo.")
            self.part.filename = options.get(b"filename", b"").decode("utf-8", "replace") or None
            declared = self.part.headers.get(b"content-type")
            self.part.content_type = declared.decode("latin-1").strip()[:100] if declared else None
            self.file_part = self.part
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidInput("The form has too many fields.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part is self.file_part:
            self.pending.append(bytes(data[start:end]))
            return
        self.part.data += data[start:end]
        if len(self.part.data) > MAX_FIELD_BYTES:
            raise InvalidInput(f"The field '{self.part.name}' is too long.")

    def on_part_end(self) -> None:
        if self.part is self.file_part:
            self.file_done = True
        else:
            self.fields[self.part.name] = self.part.data.decode("utf-8", "replace")

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data, "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field, "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end, "on_headers_finished": self.on_headers_finished,
        }


async def receive_upload(
    request: Request, store: MediaStore, max_bytes: int, sniff: Callable[[bytes], str]
) -> ReceivedUpload:
    """Store the `file` part of a multipart request; raise TooLarge, BadAudio or InvalidInput
    (leaving no file behind) when it is over `max_bytes`, not audio, or missing."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput(f"Send the recording as multipart/form-data with a '{FILE_FIELD}' field.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        # Refused before a byte of the body is read.
        raise TooLarge(
            f"The upload is larger than the limit of {max_bytes // (1024 * 1024)} MB.", max_bytes=max_bytes
        )

    parser = _Parser()
    multipart = python_multipart.MultipartParser(params[b"boundary"], parser.callbacks())
    kind: list[str] = []

    async def file_chunks() -> AsyncIterator[bytes]:
        head = bytearray()
        sniffed = False
        async for chunk in request.stream():
            try:
                multipart.write(chunk)
            except FormParserError as exc:
                raise InvalidInput("The multipart form is malformed.") from exc
            data, parser.pending = parser.pending, []
            if not sniffed:
                head.extend(b"".join(data))
                if len(head) < SNIFF_BYTES and not parser.file_done:
                    continue
                kind.append(sniff(bytes(head[:SNIFF_BYTES])))
                sniffed, data = True, [bytes(head)]
            for piece in data:
                yield piece
        multipart.finalize()
        if parser.file_part is None:
            raise InvalidInput(f"The form has no '{FILE_FIELD}' field with the recording.")
        if not sniffed:  # a file shorter than SNIFF_BYTES, finished by finalize()
            kind.append(sniff(bytes(head)))
            yield bytes(head)

    stored = await store.asave_stream(file_chunks(), max_bytes=max_bytes)
    file_part = parser.file_part
    assert file_part is not None and kind
    return ReceivedUpload(
        stored=stored, filename=file_part.filename, content_type=file_part.content_type,
        audio_kind=kind[0], fields=parser.fields,
    )


# --- sniffing -------------------------------------------------------------------------



def sniff_audio(head: bytes) -> str:
    """The container the first bytes announce, or BadAudio saying what they look like."""
    if not head:
        raise BadAudio("This file is not audio: it is empty.")
    kind = audio.sniff(head)
    if kind is None:
        what = audio.looks_like(head)  # shared wording with the decoder's own refusals
        raise BadAudio(
            f"This file is not audio: it looks like {what}." if what else
            "This file is not audio: its first bytes match no recording format we read "
            "(m4a, mp3, ogg, webm, 3gp, wav, flac).",
            looks_like=what,
        )
    return kind
