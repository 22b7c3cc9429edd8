"""What the API sends and accepts, as Pydantic models (they also make the OpenAPI schema).

Output models are built inside the request from loaded rows (`*.of(row)`), never by lazy
loading after the session has closed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dictation import text
from dictation.memos.drafts import Revision
from dictation.models import ApiToken, Comment, Draft, Memo, User
from dictation.ops.retention import removals
from dictation.publish.check import live_differs
from dictation.publish.service import published_url

API = "/api/v1"

# Ids and versions are PostgreSQL `integer` columns: a larger one is refused (422), not a 500.
MAX_ID = 2**31 - 1
Id = Annotated[int, Interval(ge=1, le=MAX_ID)]


# Field limits match the database columns (a longer string would be a 500 on PostgreSQL);
# Text columns get a bound that no real memo reaches (a 3-hour memo is about 150,000 characters).
MAX_DRAFT_CHARS = 300_000
MAX_PASSWORD_CHARS = 1_000  # argon2 hashes any length; a megabyte-long one is only work for us


class Input(BaseModel):
    """What people send. Every string is cleaned by `dictation.text` before the fields' own
    checks (NUL, control characters, lone surrogates), so no route can forget it."""

    one_line: ClassVar[frozenset[str]] = frozenset()  # line breaks and tabs become spaces
    kept_as_sent: ClassVar[frozenset[str]] = frozenset()  # passwords: refused if broken, never changed

    @model_validator(mode="before")
    @classmethod
    def _clean_strings(cls, data):
        if not isinstance(data, dict):
            return data
        return {key: cls._clean(str(key), value) for key, value in data.items()}

    @classmethod
    def _clean(cls, key: str, value):
        if isinstance(value, list):
            return [cls._clean(key, item) for item in value]
        if not isinstance(value, str):
            return value
        if key in cls.kept_as_sent:
            return text.refuse_broken(value, key)
        return (text.clean_line if key in cls.one_line else text.clean_text)(value, key)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    language: str | None
    is_active: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id, email=user.email, name=user.name, role=user.role, language=user.language,
            is_active=user.is_active, created_at=user.created_at,
        )


class PersonOut(BaseModel):
    id: int
    name: str
    email: str

    @classmethod
    def of(cls, user: User | None) -> PersonOut | None:
        return None if user is None else cls(id=user.id, name=user.name, email=user.email)


class MemoLinks(BaseModel):
    self: str
    audio: str | None  # None once the retention policy removed the recording
    playback: str | None  # once the worker made a copy every browser plays (None once removed)
    draft: str | None  # once transcribed


class RemovalOut(BaseModel):
    """Something the retention policy removed from a memo (the draft and the post always stay)."""

    what: Literal["original", "playback", "transcript"]
    removed_at: dt.datetime
    days_after: int  # days after the memo was published (or archived)
    after: Literal["published", "archived"]  # the state that started the retention clock


class MemoOut(BaseModel):
    id: int
    title: str | None
    status: str
    progress: float  # 0..1 of the running job
    error: str | None  # why it failed, until a retry
    priority: str
    due_at: dt.datetime | None
    language: str
    note: str | None
    author: PersonOut
    original_filename: str | None
    content_type: str | None
    size_bytes: int
    sha256: str
    duration_s: float | None
    stated_duration_s: float | None = None  # the length the recording's header states
    decode_gaps: list[tuple[float, float]] = []  # seconds that could not be decoded: silence in the player
    audio_short: bool = False  # under 90 % of the recording decoded: check before trusting the draft
    draft_id: int | None
    published_url: str | None = None  # the post's address once a destination has it
    # When the retention policy (DICTATION_RETAIN_*_DAYS) removed the recording, the playback
    # copy or the timed transcript: the draft stays, but these are gone for good.
    audio_removed_at: dt.datetime | None = None
    playback_removed_at: dt.datetime | None = None
    transcript_removed_at: dt.datetime | None = None
    retention: list[RemovalOut] = []  # the same, with how long after publication: for a sentence
    created_at: dt.datetime
    updated_at: dt.datetime
    links: MemoLinks

    @classmethod
    def of(cls, memo: Memo) -> MemoOut:
        draft = memo.draft
        base = f"{API}/memos/{memo.id}"
        return cls(
            id=memo.id, title=memo.title, status=memo.status, progress=memo.progress or 0.0,
            error=memo.error, priority=memo.priority, due_at=memo.due_at, language=memo.language,
            note=memo.note, author=PersonOut.of(memo.author), original_filename=memo.original_filename,
            content_type=memo.content_type, size_bytes=memo.size_bytes, sha256=memo.media_sha256,
            duration_s=memo.duration_s, draft_id=draft.id if draft else None,
            stated_duration_s=memo.stated_duration_s, decode_gaps=[tuple(g) for g in memo.decode_gaps or []],
            audio_short=memo.audio_short,
            audio_removed_at=memo.original_purged_at, playback_removed_at=memo.playback_purged_at,
            transcript_removed_at=memo.transcript_purged_at,
            retention=[RemovalOut.model_validate(removal, from_attributes=True) for removal in removals(memo)],
            published_url=published_url(memo),
            created_at=memo.created_at, updated_at=memo.updated_at,
            links=MemoLinks(
                self=base,
                audio=f"{base}/audio" if not memo.original_purged_at else None,
                playback=f"{base}/playback" if memo.playback_sha256 and not memo.playback_purged_at else None,
                draft=f"{API}/drafts/{draft.id}" if draft else None,
            ),
        )


class UploadOut(MemoOut):
    """The answer to an upload: the memo, and whether it is one the author had already sent."""

    duplicate: bool = False  # these bytes were sent before: this is the earlier memo, nothing new was made
    kept: list[str] = []  # what of a duplicate's details went onto the earlier memo: "title", "note"

    @classmethod
    def of(cls, memo: Memo, duplicate: bool = False, kept: tuple[str, ...] = ()) -> UploadOut:
        return cls(**MemoOut.of(memo).model_dump(), duplicate=duplicate, kept=list(kept))


class Page(BaseModel):
    total: int  # matching items, all pages together
    limit: int
    offset: int


class MemoPage(Page):
    items: list[MemoOut]


class DraftOut(BaseModel):
    id: int
    memo_id: int
    version: int  # also the ETag: send it back in If-Match
    title: str
    body_markdown: str
    tags: list[str]
    excerpt: str
    slug: str
    machine_markdown: str  # what the transcription made; never overwritten
    paragraphs: list[dict]  # [{text, start, end}]: where each paragraph lies in the audio
    status: str  # the memo's workflow state
    approved_version: int | None = None  # the version the author signed off, if any
    # Of slug, excerpt and tags, those set by hand; the others follow the title and body.
    manual_fields: list[str] = []
    live_differs: bool = False  # a post is live and this draft was changed since: update it
    featured_image: str | None = None  # where to fetch the post's image, when it has one
    assignee: PersonOut | None  # who has claimed it
    actions: list[str]  # what the caller may do now (POST .../transitions)
    memo: str  # link to the memo
    updated_at: dt.datetime

    @classmethod
    def of(cls, draft: Draft, actions: list[str]) -> DraftOut:
        return cls(
            id=draft.id, memo_id=draft.memo_id, version=draft.version, title=draft.title,
            body_markdown=draft.body_markdown, tags=list(draft.tags or []), excerpt=draft.excerpt,
            slug=draft.slug, machine_markdown=draft.machine_markdown,
            paragraphs=list(draft.paragraphs or []), status=draft.memo.status,
            approved_version=draft.approved_version, manual_fields=list(draft.manual_fields or []),
            live_differs=live_differs(draft),
            featured_image=f"{API}/drafts/{draft.id}/featured-image" if draft.featured_image_sha256 else None,
            assignee=PersonOut.of(draft.assignee), actions=actions,
            memo=f"{API}/memos/{draft.memo_id}", updated_at=draft.updated_at,
        )


class DraftPatch(Input):
    """Only the fields sent change. The machine transcript cannot be written."""

    one_line = frozenset({"title", "tags", "slug"})

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=300)
    body_markdown: str | None = Field(None, max_length=MAX_DRAFT_CHARS)
    tags: list[Annotated[str, Field(max_length=100)]] | None = Field(None, max_length=50)
    excerpt: str | None = Field(None, max_length=5_000)
    slug: str | None = Field(None, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    # A slug, excerpt or tags sent is "set by hand" from then on; the others follow the text.
    automatic: list[Literal["slug", "excerpt", "tags"]] = Field(
        [], max_length=3, description="Fields to make from the title and body again (no longer set by hand).")


class RevisionOut(BaseModel):
    version: int
    title: str
    body_markdown: str
    tags: list[str]
    excerpt: str
    slug: str
    saved_by: PersonOut | None  # None: the machine's first version
    created_at: dt.datetime

    @classmethod
    def of(cls, rev: Revision) -> RevisionOut:
        return cls(
            version=rev.version, title=rev.title, body_markdown=rev.body_markdown,
            tags=list(rev.tags), excerpt=rev.excerpt, slug=rev.slug,
            saved_by=PersonOut.of(rev.saved_by), created_at=rev.created_at,
        )


class TransitionIn(Input):
    action: Literal[
        "claim", "release", "submit_for_approval", "withdraw", "approve", "request_changes", "archive", "reassign",
    ]
    comment: str | None = Field(None, max_length=10_000)  # required to request changes
    to_user_id: Id | None = None  # reassign (admins): the assistant who takes the draft over


class TransitionOut(BaseModel):
    action: str
    from_state: str | None
    to_state: str
    draft: DraftOut


class CommentIn(Input):
    body: str = Field(min_length=1, max_length=20_000)


class CommentOut(BaseModel):
    id: int
    body: str
    author: PersonOut
    created_at: dt.datetime

    @classmethod
    def of(cls, comment: Comment) -> CommentOut:
        return cls(id=comment.id, body=comment.body, author=PersonOut.of(comment.user), created_at=comment.created_at)


class WorklistItem(BaseModel):
    memo: MemoOut
    overdue: bool
    assignee: PersonOut | None


class WorklistOut(BaseModel):
    items: list[WorklistItem]
    counts: dict[str, int]  # memos per state, over everything the caller may see


class LoginIn(Input):
    one_line = frozenset({"email"})
    kept_as_sent = frozenset({"password"})

    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str  # send as X-CSRF-Token (or form field csrf_token) on unsafe requests


class TokenIn(Input):
    one_line = frozenset({"name"})

    name: str = Field(min_length=1, max_length=200)
    user_id: Id | None = None  # admins may make a token for someone else


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    user_id: int
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenOut:
        return cls(
            id=row.id, name=row.name, prefix=row.prefix, user_id=row.user_id, created_at=row.created_at,
            last_used_at=row.last_used_at, revoked_at=row.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str  # shown this once; only its hash is kept


class UserIn(Input):
    one_line = frozenset({"email", "name", "language"})
    kept_as_sent = frozenset({"password"})

    email: str = Field(max_length=320)
    role: Literal["author", "assistant", "admin"] = "author"
    name: str = Field("", max_length=200)
    password: str | None = Field(None, min_length=8, max_length=MAX_PASSWORD_CHARS)
    language: str | None = Field(None, max_length=8)


class PasswordChange(Input):
    kept_as_sent = frozenset({"current_password", "new_password"})

    current_password: str = Field(max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(min_length=8, max_length=MAX_PASSWORD_CHARS)


class UserPatch(Input):
    one_line = frozenset({"name", "language"})
    kept_as_sent = frozenset({"password"})

    model_config = ConfigDict(extra="forbid")

    role: Literal["author", "assistant", "admin"] | None = None
    name: str | None = Field(None, max_length=200)
    is_active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=MAX_PASSWORD_CHARS)
    language: str | None = Field(None, max_length=8)
