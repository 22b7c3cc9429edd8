"""The tables. A memo is the executive's recording and carries the workflow state of the
whole item (DESIGN.md "States"); its draft is the text the assistant edits."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dictation.context import current_request_id
from dictation.db import Base, utcnow


class Role(enum.StrEnum):
    author = "author"  # the executive: uploads, sees own memos, signs off
    assistant = "assistant"  # worklist of all memos, edits, publishes
    admin = "admin"  # also users, tokens, destinations


class Priority(enum.StrEnum):
    normal = "normal"
    high = "high"
    urgent = "urgent"


class State(enum.StrEnum):
    received = "received"
    transcribing = "transcribing"
    ready = "ready"
    in_review = "in_review"
    awaiting_approval = "awaiting_approval"
    approved = "approved"
    changes_requested = "changes_requested"
    scheduled = "scheduled"
    publishing = "publishing"
    published = "published"
    failed = "failed"
    archived = "archived"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class PublicationStatus(enum.StrEnum):
    """Where one draft stands on one destination (Publication.status)."""

    scheduled = "scheduled"  # waiting for its time or a worker
    publishing = "publishing"  # an attempt is under way
    published = "published"  # live; remote_id and remote_url are set
    failed = "failed"  # gave up after the last attempt; error says why
    cancelled = "cancelled"  # its job was cancelled before it ran
    unpublished = "unpublished"  # taken down again


def _enum(e: type[enum.Enum]) -> String:
    # Plain strings, not native enums: adding a state must not need a type migration.
    return String(max(len(m.value) for m in e) + 8)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(_enum(Role), default=Role.author)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2; None = no password login
    language: Mapped[str | None] = mapped_column(String(8))  # UI language; None = Accept-Language
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or sign-out everywhere: old session cookies stop working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # sha256 of the secret in the user's memo-by-mail address (memo+<secret>@…), shown once.
    mail_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; the token is shown once
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart in lists
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class BrowserSession(Base):
    """A signed-in browser. The cookie names it; deleting the row signs that browser out."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's session id
    user_agent: Mapped[str] = mapped_column(String(300), default="")  # to tell the sessions apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Memo(Base):
    __tablename__ = "memos"
    __table_args__ = (
        UniqueConstraint("author_id", "idempotency_key", name="uq_memo_idempotency"),
        # The same recording sent twice (a phone retrying without its key) is one memo, even
        # when both uploads finish at the same moment.
        UniqueConstraint("author_id", "media_sha256", name="uq_memo_recording"),
        # Covers the worklist's sort and filters (and the live worklist's stamp): SQLite keeps the
        # waveform and transcript inline in each row, so a sort that reads rows reads those too.
        Index("ix_memos_worklist", "status", "priority", "due_at", "created_at", "author_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    priority: Mapped[str] = mapped_column(_enum(Priority), default=Priority.normal)
    due_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="auto")  # auto, en, fr
    status: Mapped[str] = mapped_column(_enum(State), default=State.received, index=True)
    error: Mapped[str | None] = mapped_column(Text)  # why the last job failed, kept until retry
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 of the running job
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The original bytes, content-addressed in the media store.
    media_sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)  # as decoded, lost packets counted as silence
    # The length the container's header states (None where it has none): a decode ending
    # sooner lost the rest, and the difference is a decode gap.
    stated_duration_s: Mapped[float | None] = mapped_column(Float)
    # [[start, end], ...] seconds of the recording that could not be decoded (silence in the
    # playback copy and in the transcript's timeline); [] when all of it decoded.
    decode_gaps: Mapped[list | None] = mapped_column(JSON)
    playback_sha256: Mapped[str | None] = mapped_column(String(64))  # Opus copy browsers play
    # Retention (DICTATION_RETAIN_*_DAYS) removed these; the editor and the API say so and when.
    original_purged_at: Mapped[dt.datetime | None]
    playback_purged_at: Mapped[dt.datetime | None]
    transcript_purged_at: Mapped[dt.datetime | None]
    # Deferred: lists of memos never need these large JSON columns, only the editor does.
    peaks: Mapped[list | None] = mapped_column(JSON, deferred=True)  # waveform for the player
    transcript: Mapped[dict | None] = mapped_column(JSON, deferred=True)  # Transcript.to_dict(), never edited
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    draft: Mapped[Draft | None] = relationship(back_populates="memo", uselist=False)

    @property
    def lost_seconds(self) -> float:
        return round(sum(end - start for start, end in self.decode_gaps or []), 3)

    @property
    def audio_short(self) -> bool:
        """Under 90 % of the recording could be decoded: the assistant must know before trusting the draft."""
        length = self.stated_duration_s or self.duration_s or 0.0
        return length > 0 and self.lost_seconds > 0.1 * length


class Draft(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    memo_id: Mapped[int] = mapped_column(ForeignKey("memos.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    excerpt: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)  # the ETag; bumped by every save
    # The version the author signed off; None when nobody has (or an edit since undid it).
    approved_version: Mapped[int | None] = mapped_column(Integer)
    # Of slug, excerpt and tags, those set by hand; the others follow the title and body.
    manual_fields: Mapped[list | None] = mapped_column(JSON, default=list)
    # Indexes (in transcript order) of the low-confidence words someone clicked to hear.
    looked_at: Mapped[list | None] = mapped_column(JSON, default=list)
    featured_image_sha256: Mapped[str | None] = mapped_column(String(64))  # in the media store
    featured_image_mime: Mapped[str | None] = mapped_column(String(50))
    # What compose() made of the transcript: kept for the diff, never overwritten.
    machine_markdown: Mapped[str] = mapped_column(Text, default="")
    paragraphs: Mapped[list] = mapped_column(JSON, default=list)  # [{text, start, end}] time ranges
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the claim lock
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memo: Mapped[Memo] = relationship(back_populates="draft")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    # Loaded with the draft: memo answers show the post's address after the session closes.
    publications: Mapped[list[Publication]] = relationship(order_by="Publication.id", viewonly=True,
                                                             lazy="selectin")


class DraftRevision(Base):
    __tablename__ = "draft_revisions"
    __table_args__ = (UniqueConstraint("draft_id", "version", name="uq_revision_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    excerpt: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str] = mapped_column(String(200), default="")
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None = the machine
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MemoAddition(Base):
    """A follow-up the author recorded onto a memo (the dictaphone's append mode): its own
    recording, transcribed alone and joined after the memo's, so nothing already edited moves."""

    __tablename__ = "memo_additions"

    id: Mapped[int] = mapped_column(primary_key=True)
    memo_id: Mapped[int] = mapped_column(ForeignKey("memos.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    media_sha256: Mapped[str] = mapped_column(String(64), index=True)  # the added part alone
    # The memo's recording before this part was joined on: kept, so nothing recorded is lost.
    previous_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    original_filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(_enum(JobStatus), default=JobStatus.queued)
    offset_s: Mapped[float | None] = mapped_column(Float)  # where the part starts in the joined memo
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Every state change: who, when, from, to, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    memo_id: Mapped[int] = mapped_column(ForeignKey("memos.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None = the system
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Our record of a queued task: progress, errors and recovery live here, not in the queue,
    so a worker killed mid-job is noticed (stale heartbeat) and the job runs again."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # process (prepare+transcribe+compose), publish
    memo_id: Mapped[int | None] = mapped_column(ForeignKey("memos.id", ondelete="CASCADE"), index=True)
    publication_id: Mapped[int | None] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(_enum(JobStatus), default=JobStatus.queued, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(40))  # prepare, transcribe, compose, publish
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set once what the job did is out in the world (a post on the CMS): a cancel is refused from
    # then on, and one asked just before is dropped; never reset by a later run of the job.
    cancel_too_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    run_at: Mapped[dt.datetime | None]  # not before (scheduled publication, backoff)
    heartbeat_at: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    # The HTTP request that queued the job: its log lines and the worker's share one id.
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class Destination(Base):
    __tablename__ = "destinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # blog, wordpress, ghost, micropub, webhook
    url: Mapped[str | None] = mapped_column(String(500))
    username: Mapped[str | None] = mapped_column(String(200))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)  # secretbox; never shown again
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Publication(Base):
    """One draft on one destination. The remote id is stored before success is reported, so a
    retry updates the post instead of creating a second one."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("draft_id", "destination_id", name="uq_publication"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id"))
    # Set in the post so it can be found again; random, because draft ids repeat across
    # installations (and test databases) publishing to the same CMS.
    marker: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)
    # A PublicationStatus; String(20) as before, so no migration.
    status: Mapped[str] = mapped_column(String(20), default=PublicationStatus.scheduled)
    publish_at: Mapped[dt.datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(500))
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    # An attempt may have reached the CMS without an answer: look the post up before creating.
    maybe_created: Mapped[bool] = mapped_column(Boolean, default=False)
    published_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    destination: Mapped[Destination] = relationship()
