"""Retention: a memo's media is removed a set number of days after it was published (or
archived), as `DICTATION_RETAIN_AUDIO_DAYS` (the original recording),
`DICTATION_RETAIN_PLAYBACK_DAYS` (the copy the editor plays) and
`DICTATION_RETAIN_TRANSCRIPT_DAYS` (the timed transcript) say; the draft and the post always stay.

What was removed, and when, is on the memo (`*_purged_at`) and in its history (audit log), never
only in a log line. A file two memos share (the same bytes sent by two authors) stays until
neither needs it. The "retention" job runs once a day: each run books the next one as a job
row with `run_at` tomorrow, which survives restarts and which any worker's recovery sends when
it is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, object_session

from dictation.db import Database, utcnow
from dictation.jobs import JobContext, JobKind
from dictation.models import AuditEntry, Job, JobStatus, Memo, MemoAddition, State
from dictation.settings import Settings
from dictation.storage import MediaStore

log = logging.getLogger(__name__)

RETENTION = "retention"
EVERY = dt.timedelta(days=1)
# The clock starts when the memo first reached one of these.
DONE_STATES = (State.published.value, State.archived.value)


@dataclass
class PurgeReport:
    originals: int = 0  # original recordings removed (memos)
    playback: int = 0  # playback copies removed (memos)
    transcripts: int = 0  # timed transcripts removed (memos)
    bytes_freed: int = 0  # bytes of files deleted from the media store

    def summary(self) -> str:
        return (f"retention: {self.originals} original recording(s), {self.playback} playback cop(ies) and "
                f"{self.transcripts} transcript(s) removed; {self.bytes_freed / 1024**2:.1f} MB freed")


def _done_since(session: Session, memo: Memo) -> dt.datetime:
    """When the memo was first published or archived (its history says; else its last change)."""
    since = session.scalar(select(func.min(AuditEntry.created_at))
                           .where(AuditEntry.memo_id == memo.id, AuditEntry.to_state.in_(DONE_STATES)))
    since = since or memo.updated_at
    return since if since.tzinfo else since.replace(tzinfo=dt.UTC)


def _still_needed(session: Session, sha: str, memo_id: int) -> bool:
    """Another memo still keeps this file (as its recording or its playback copy), or another
    memo's addition does (its part, or the recording before it)."""
    return bool(session.scalar(select(func.count()).select_from(Memo).where(Memo.id != memo_id, or_(
        (Memo.media_sha256 == sha) & Memo.original_purged_at.is_(None),
        (Memo.playback_sha256 == sha) & Memo.playback_purged_at.is_(None))))) or session.scalar(
        select(MemoAddition.id).where(MemoAddition.memo_id != memo_id, or_(
            MemoAddition.media_sha256 == sha, MemoAddition.previous_sha256 == sha)).limit(1)) is not None


def _addition_recordings(session: Session, memo_id: int) -> set[str]:
    rows = session.execute(select(MemoAddition.media_sha256, MemoAddition.previous_sha256)
                           .where(MemoAddition.memo_id == memo_id)).all()
    return {sha for row in rows for sha in row if sha is not None}


def _remove(session: Session, store: MediaStore, sha: str | None, memo_id: int) -> int:
    if not sha or _still_needed(session, sha, memo_id) or not store.exists(sha):
        return 0
    size = store.path(sha).stat().st_size
    return size if store.delete(sha) else 0


def purge(database: Database, store: MediaStore, settings: Settings, now: dt.datetime | None = None) -> PurgeReport:
    """Remove what is past its retention now; one memo per transaction."""
    now = now or utcnow()
    policy = [(what, days) for what, days in (("original", settings.retain_audio_days),
                                              ("playback", settings.retain_playback_days),
                                              ("transcript", settings.retain_transcript_days)) if days is not None]
    report = PurgeReport()
    if not policy:
        return report
    with database.session() as session:
        candidates = session.scalars(select(Memo.id).where(Memo.status.in_(DONE_STATES), or_(
            Memo.original_purged_at.is_(None), Memo.playback_purged_at.is_(None),
            Memo.transcript_purged_at.is_(None)))).all()
    for memo_id in candidates:
        with database.session() as session:
            memo = session.get(Memo, memo_id)
            if memo is None or memo.status not in DONE_STATES:
                continue
            since = _done_since(session, memo)
            removed = []
            for what, days in policy:
                if now - since < dt.timedelta(days=days) or getattr(memo, f"{what}_purged_at") is not None:
                    continue
                setattr(memo, f"{what}_purged_at", now)
                session.flush()  # before the sharing check: this memo no longer keeps the file
                if what == "original":
                    report.bytes_freed += _remove(session, store, memo.media_sha256, memo.id)
                    # An addition's part and the recording the memo had before it are originals
                    # too: the joined recording holds them, and they would outlive the setting.
                    for sha in _addition_recordings(session, memo.id):
                        report.bytes_freed += _remove(session, store, sha, memo.id)
                    report.originals += 1
                    removed.append(f"the original recording (DICTATION_RETAIN_AUDIO_DAYS={days})")
                elif what == "playback":
                    report.bytes_freed += _remove(session, store, memo.playback_sha256, memo.id)
                    report.playback += 1
                    removed.append(f"the playback copy (DICTATION_RETAIN_PLAYBACK_DAYS={days})")
                else:
                    memo.transcript = None
                    report.transcripts += 1
                    removed.append(f"the timed transcript (DICTATION_RETAIN_TRANSCRIPT_DAYS={days})")
            if removed:
                session.add(AuditEntry(memo_id=memo.id, actor_id=None, action="retention", from_state=memo.status,
                                       to_state=memo.status, detail=f"Removed {', '.join(removed)}, "
                                       f"{(now - since).days} days after the memo was {memo.status}."))
    if report.originals or report.playback or report.transcripts:
        log.info(report.summary())
    return report


# --- what a memo lost -----------------------------------------------------------------------


@dataclass(frozen=True)
class Removal:
    what: str  # "original", "playback" or "transcript"
    removed_at: dt.datetime
    days_after: int  # days from the memo's publication (or archiving) to the removal
    after: str  # "published" or "archived": the state that started the retention clock


def removals(memo: Memo, session: Session | None = None) -> list[Removal]:
    """What retention removed from `memo`, and when: so a page shows a sentence, not a player
    that cannot play. Days are counted as the purge did, from the memo's history: the
    settings may have changed since."""
    gone = [(what, at) for what, at in (("original", memo.original_purged_at), ("playback", memo.playback_purged_at),
                                        ("transcript", memo.transcript_purged_at)) if at is not None]
    if not gone:
        return []
    session = session or object_session(memo)
    first = None if session is None else session.execute(
        select(AuditEntry.to_state, AuditEntry.created_at)
        .where(AuditEntry.memo_id == memo.id, AuditEntry.to_state.in_(DONE_STATES))
        .order_by(AuditEntry.created_at).limit(1)).first()
    # Without a history (made by hand, imported), the memo's state is the best guess; one that
    # left "published" since still lost its files after a publication.
    guess = memo.status if memo.status in DONE_STATES else State.published.value
    after, since = (first.to_state, _aware(first.created_at)) if first else (guess, _aware(memo.updated_at))
    return [Removal(what, at, max(0, (_aware(at) - since).days), after) for what, at in gone]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite keeps no zone


# --- usage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageUsage:
    originals_bytes: int  # original recordings still kept
    originals_count: int
    playback_bytes: int  # playback copies still kept
    playback_count: int
    other_bytes: int  # files no memo names (uploads in progress, deleted memos' leftovers)
    database_bytes: int | None  # None when the database cannot say
    free_bytes: int  # free space on the media store's disk
    purged_originals: int  # memos whose recording retention removed
    purged_playback: int
    purged_transcripts: int

    @property
    def media_bytes(self) -> int:
        return self.originals_bytes + self.playback_bytes + self.other_bytes


def storage_usage(database: Database, store: MediaStore) -> StorageUsage:
    with database.session() as session:
        originals = set(session.scalars(select(Memo.media_sha256)).all())
        playback = set(session.scalars(select(Memo.playback_sha256).where(Memo.playback_sha256.is_not(None))).all())
        purged = [session.scalar(select(func.count()).select_from(Memo).where(column.is_not(None))) or 0
                  for column in (Memo.original_purged_at, Memo.playback_purged_at, Memo.transcript_purged_at)]
        database_bytes = _database_bytes(session, database)
    sizes = {"original": [0, 0], "playback": [0, 0], "other": [0, 0]}
    if store.root.is_dir():
        for path in store.root.rglob("*"):
            if not path.is_file():
                continue
            kind = "original" if path.name in originals else "playback" if path.name in playback else "other"
            sizes[kind][0] += path.stat().st_size
            sizes[kind][1] += 1
    free = shutil.disk_usage(store.root if store.root.is_dir() else store.root.parent).free
    return StorageUsage(sizes["original"][0], sizes["original"][1], sizes["playback"][0], sizes["playback"][1],
                        sizes["other"][0], database_bytes, free, *purged)


def _database_bytes(session: Session, database: Database) -> int | None:
    from sqlalchemy import text

    dialect = database.engine.dialect.name
    if dialect == "sqlite":
        from pathlib import Path

        main = Path(database.engine.url.database or "")
        # The file and its write-ahead log.
        return sum(p.stat().st_size for p in (main, main.with_name(main.name + "-wal")) if p.is_file())
    if dialect == "postgresql":
        return int(session.scalar(text("SELECT pg_database_size(current_database())")))
    return None


# --- the daily job --------------------------------------------------------------------------


def schedule_daily(session: Session, when: dt.datetime | None = None) -> Job | None:
    """Book the next retention run unless one is booked already; None when it was."""
    booked = session.scalar(select(Job.id).where(Job.kind == RETENTION, Job.status.in_(
        (JobStatus.queued.value, JobStatus.running.value))).limit(1))
    if booked is not None:
        return None
    job = Job(kind=RETENTION, status=JobStatus.queued.value, run_at=when or utcnow())
    session.add(job)
    session.flush()
    return job


def _run(ctx: JobContext) -> Callable[[Session], None]:
    ctx.stage("retention")
    report = purge(ctx.database, MediaStore(ctx.settings.media_dir), ctx.settings)
    def book_next(session: Session) -> None:
        # This run's row is `done` in the same transaction, so it does not count as booked.
        session.flush()
        next_job = schedule_daily(session, utcnow() + EVERY)
        log.info("%s; next run %s", report.summary(),
                 next_job.run_at.isoformat(timespec="minutes") if next_job and next_job.run_at else "already booked")

    return book_next


def _nothing(*_args: object) -> None:
    pass


def _failed(session: Session, job: Job, reason: str) -> None:
    # A failed run must not end the daily chain: try again tomorrow.
    log.error("retention run failed: %s", reason)
    schedule_daily(session, utcnow() + EVERY)


KIND = JobKind(run=_run, started=_nothing, failed=_failed, cancelled=_nothing)
