"""Memo intake: a recording already in the media store becomes a memo queued for transcription.

Both doors call this: the multipart upload (`POST /api/v1/memos`) and the resumable tus upload
when its last chunk arrives. The rules live here once:
- the memo's details (title, priority, due date, language, note) are checked before a memo
  exists, so a bad field refuses the upload with a sentence and leaves nothing behind;
- the same `Idempotency-Key` (a retried request) answers with the first memo; the same bytes
  from the same author under another key are a re-sent recording: answered as a duplicate
  with the existing memo, and what was typed with it is kept there (a new note becomes a
  comment, a title fills an untitled memo) — nothing typed is dropped (a unique constraint
  settles simultaneous uploads);
- a memo whose header says it is longer than the limit is refused before it exists (413);
- a recording that did not become a memo is removed from the store unless another memo uses it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import huey
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dictation.audio import check_stated_length
from dictation.db import Database
from dictation.errors import InvalidInput
from dictation.memos.drafts import add_comment
from dictation.memos.processing import enqueue_processing
from dictation.models import Comment, JobStatus, Memo, MemoAddition, Priority, State, User
from dictation.storage import MediaStore, StoredFile
from dictation.text import clean_line, clean_text, file_name

MAX_TITLE = 300
MAX_FILENAME = 300
_LANGUAGE = re.compile(r"^(auto|[a-z]{2,3})$")
_DATETIME = TypeAdapter(dt.datetime)


@dataclass(frozen=True)
class MemoDetails:
    """What the author said about the memo besides the recording."""

    title: str | None = None  # None: the draft's title comes from the transcript
    priority: Priority = Priority.normal  # orders the worklist after overdue memos
    due_at: dt.datetime | None = None  # in UTC (the sender's zone converted; UTC when they gave none)
    language: str = "auto"  # "auto" lets Whisper detect it; else a code like "en", "fr"
    note: str | None = None  # for the assistant, never published

    def columns(self) -> dict[str, object]:
        return {
            "title": self.title, "priority": self.priority.value, "due_at": self.due_at,
            "language": self.language, "note": self.note,
        }


@dataclass(frozen=True)
class Recording:
    """A recording in the media store, sniffed as audio by the door that received it."""

    stored: StoredFile  # the bytes, by sha256
    media_type: str  # what the bytes are served as (from sniffing, not the client's claim)
    filename: str | None = None  # as the client named it; kept for the worklist and downloads


@dataclass(frozen=True)
class Intake:
    memo: Memo  # author and draft loaded, so a door can render it after the session closed
    created: bool  # False: an earlier memo for the same key or the same bytes
    # True: the author had sent these very bytes before, under another key (not a retry of one request)
    duplicate: bool = False
    kept: tuple[str, ...] = ()  # what of a duplicate's details went onto the earlier memo: "title", "note"


def parse_details(fields: Mapping[str, str]) -> MemoDetails:
    """The memo's details from form fields or tus metadata, or InvalidInput naming the bad one."""
    # Both doors (multipart fields, tus metadata) pass through here: clean once, like the JSON schemas.
    title = clean_line(fields.get("title", ""), "title").strip()
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"The title is longer than {MAX_TITLE} characters.")
    priority = fields.get("priority", "").strip() or Priority.normal.value
    if priority not in Priority.__members__:
        raise InvalidInput(f"The priority must be one of {', '.join(p.value for p in Priority)}, not {priority!r}.")
    due_at = None
    due = fields.get("due_at", "").strip()
    if due:
        try:
            when = _DATETIME.validate_python(due)
        except ValidationError:
            raise InvalidInput(f"The due date {due!r} is not a date and time like 2025-06-30T17:00:00Z.") from None
        due_at = when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    language = fields.get("language", "").strip().lower() or "auto"
    if not _LANGUAGE.match(language):
        raise InvalidInput(f"The language must be 'auto' or a language code like 'en', not {language!r}.")
    note = clean_text(fields.get("note", ""), "note").strip()
    return MemoDetails(
        title=title or None, priority=Priority(priority), due_at=due_at, language=language, note=note or None
    )


def find_by_key(database: Database, author: User, key: str) -> Memo | None:
    """The author's memo made with this Idempotency-Key, if any: a retried upload whose first
    attempt got through is answered without reading its body again."""
    with database.session() as session:
        found = session.scalar(select(Memo.id).where(Memo.author_id == author.id, Memo.idempotency_key == key))
        return _load(session, found) if found is not None else None


def receive_memo(
    database: Database,
    store: MediaStore,
    queue: huey.Huey,
    author: User,
    recording: Recording,
    fields: Mapping[str, str],
    key: str | None = None,
    max_seconds: float | None = None,
) -> Intake:
    """The memo for this recording: an existing one for the same key or the same bytes from the
    same author, else a new one queued for transcription. When no memo takes the recording (a
    bad field, a header over `max_seconds` long, a database error), its file is removed unless
    another memo points at it."""
    try:
        details = parse_details(fields)  # before a memo exists
        check_stated_length(store.path(recording.stored.sha256), max_seconds)
        return _record(database, queue, author, recording, details, key)
    except BaseException:
        forget_unreferenced(database, store, recording.stored.sha256)
        raise


def _record(
    database: Database, queue: huey.Huey, author: User, recording: Recording, details: MemoDetails, key: str | None
) -> Intake:
    sha256 = recording.stored.sha256
    try:
        # One session for the check and the insert: every upload runs this, and each session,
        # query and lazy load was CPU that the readers of a busy server waited behind.
        with database.session() as session:
            existing = _existing(session, author, key, sha256)
            if existing is not None:
                return _answer_existing(session, author, existing, details)
            memo = Memo(
                author_id=author.id, status=State.received.value, idempotency_key=key,
                media_sha256=sha256, size_bytes=recording.stored.size,
                original_filename=(file_name(recording.filename) or "")[:MAX_FILENAME] or None,
                content_type=recording.media_type, **details.columns(),
            )
            session.add(memo)
            session.flush()
            enqueue_processing(session, memo, queue, fresh=True)
            # What a door renders, known without reading it back: a new memo has no draft yet,
            # and its author is the caller.
            set_committed_value(memo, "draft", None)
            set_committed_value(memo, "author", author)
            return Intake(memo, created=True)
    except IntegrityError:
        # Another request with the same key or the same bytes committed first: answer with its memo.
        with database.session() as session:
            existing = _existing(session, author, key, sha256)
            if existing is None:
                raise
            return _answer_existing(session, author, existing, details)


def _existing(session: Session, author: User, key: str | None, sha256: str) -> tuple[int, bool] | None:
    """(memo id, found by its key) of the earlier memo this upload is, if any."""
    if key is not None:
        found = session.scalar(select(Memo.id).where(Memo.author_id == author.id, Memo.idempotency_key == key))
        if found is not None:
            return found, True
    found = session.scalar(
        select(Memo.id).where(Memo.author_id == author.id, Memo.media_sha256 == sha256).order_by(Memo.id).limit(1)
    )
    if found is None:  # the recording a memo had before an addition joined onto it, or that addition
        found = session.scalar(
            select(MemoAddition.memo_id).join(Memo, Memo.id == MemoAddition.memo_id)
            .where(Memo.author_id == author.id,
                   or_(MemoAddition.previous_sha256 == sha256,
                       and_(MemoAddition.media_sha256 == sha256,
                            MemoAddition.status.not_in((JobStatus.failed.value, JobStatus.cancelled.value)))))
            .order_by(MemoAddition.id).limit(1))
    return (found, False) if found is not None else None


def _answer_existing(session: Session, author: User, existing: tuple[int, bool], details: MemoDetails) -> Intake:
    memo_id, by_key = existing
    if by_key:  # the same request again: its details are already there
        return Intake(_load(session, memo_id), created=False)
    kept = keep_resent_details(session, session.get_one(Memo, memo_id), author, details)
    return Intake(_load(session, memo_id), created=False, duplicate=True, kept=kept)


def keep_resent_details(session: Session, memo: Memo, author: User, details: MemoDetails) -> tuple[str, ...]:
    """Put what the author typed when sending the recording again onto its memo: a title on an
    untitled memo, a note as a comment (on the memo's note while it has no draft yet). The same
    text sent twice is kept once; a title that cannot replace the memo's goes into the comment."""
    kept: list[str] = []
    lines: list[str] = []
    shown = memo.draft.title if memo.draft is not None else memo.title
    if details.title and details.title not in (memo.title, shown):
        # Once there is a draft, the worklist and the editor show its title, not the memo's:
        # a title set on the memo then would be kept where nobody looks.
        if not memo.title and memo.draft is None:
            memo.title = details.title
            kept.append("title")
        else:
            lines.append(f"Title: {details.title}")
    if details.note:
        lines.append(details.note)
    text = "\n\n".join(lines)
    if text and not _already_said(session, memo, author, text):
        if memo.draft is not None:
            add_comment(session, author, memo.draft, text)
        else:
            memo.note = f"{memo.note}\n\n{text}" if memo.note else text
        kept.append("note")
    session.flush()
    return tuple(kept)


def _already_said(session: Session, memo: Memo, author: User, text: str) -> bool:
    # Whole paragraphs only: "Monday" inside "not before Monday's board" was not said yet.
    if memo.note and f"\n\n{text}\n\n" in f"\n\n{memo.note}\n\n":
        return True
    if memo.draft is None:
        return False
    return session.scalar(
        select(Comment.id).where(Comment.draft_id == memo.draft.id, Comment.user_id == author.id, Comment.body == text)
    ) is not None


def _load(session: Session, memo_id: int) -> Memo:
    memo = session.get(Memo, memo_id)
    assert memo is not None
    memo.author, memo.draft  # noqa: B018 - loaded now, while the session is open
    return memo


def forget_unreferenced(database: Database, store: MediaStore, sha256: str) -> None:
    """Remove a stored file that no memo and no addition points at (an upload refused after it
    was stored, or the last memo using it deleted). Another author's memo may be the same bytes
    as a follow-up queued for a memo, or as the recording a memo had before an addition."""
    with database.session() as session:
        used = session.scalar(
            select(Memo.id).where(or_(Memo.media_sha256 == sha256, Memo.playback_sha256 == sha256)).limit(1)
        ) or session.scalar(select(MemoAddition.id).where(
            or_(MemoAddition.media_sha256 == sha256, MemoAddition.previous_sha256 == sha256)).limit(1))
    if used is None:
        store.delete(sha256)
