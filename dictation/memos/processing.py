"""The processing job: prepare the audio, transcribe, compose the machine's draft.

Outcomes:
- done: the memo is `ready` with a draft (version 1, saved by the machine);
- failed: the memo is `failed` with a sentence saying why (Memo.error, Job.error); the
  recording is kept and `retry` queues a new job;
- cancelled: the memo goes back to `received` without an error (a person chose this, it is
  not a fault); `retry` queues it again. The last job's status tells the UI "cancelled".

`KIND` is registered with the job runner at start-up as the "process" kind.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import huey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation import audio, workflow
from dictation.compose import ComposeOptions, compose
from dictation.compose import Draft as ComposedDraft
from dictation.compose.derive import tags_of
from dictation.db import utcnow
from dictation.errors import Conflict, NotFound, TransitionRefused
from dictation.jobs import JobContext, JobKind, active_job, send_after_commit
from dictation.learning.service import terms_for
from dictation.learning.tables import LearnedWord
from dictation.models import (
    Draft,
    DraftRevision,
    Job,
    JobStatus,
    Memo,
    Role,
    State,
    User,
)
from dictation.notify import Mailer
from dictation.settings import Settings
from dictation.storage import MediaStore
from dictation.telemetry import metrics
from dictation.transcribe import TranscribeOptions, Transcript, heap, transcribe
from dictation.transcribe.coverage import with_decode_gaps
from dictation.transcribe.device import resolve_device

PROCESS = "process"

# A worker transcribes long memos in pieces this long: faster-whisper grows ~0.6 MB per second
# of audio it holds, and 5-minute pieces took a worker with the base model to 729 MB on a
# 1-hour memo (bench/memory.py); 2-minute pieces keep it under 500 MB.
WORKER_CHUNK_SECONDS = 120.0

# Shares of the progress bar: decoding and the playback copy are quick, composing is instant.
PREPARE_SHARE, TRANSCRIBE_SHARE = 0.05, 0.93


def _memo(session: Session, job: Job) -> Memo:
    memo = session.get(Memo, job.memo_id) if job.memo_id is not None else None
    if memo is None:
        raise TransitionRefused("The memo was deleted before it could be transcribed.")
    return memo


def _process_started(session: Session, job: Job) -> None:
    memo = _memo(session, job)
    if memo.status == State.received.value:
        workflow.system(session, memo, State.transcribing, f"job {job.id}, attempt {job.attempts}")
    elif memo.status != State.transcribing.value:  # run again after a crash stays transcribing
        raise TransitionRefused(f"The memo is {memo.status} now; there is nothing to transcribe.")
    memo.progress = 0.0


def _process_failed(session: Session, job: Job, reason: str) -> None:
    memo = session.get(Memo, job.memo_id)
    if memo is not None and memo.status in (State.received.value, State.transcribing.value):
        workflow.system(session, memo, State.failed, reason)


def _process_cancelled(session: Session, job: Job) -> None:
    memo = session.get(Memo, job.memo_id)
    if memo is None:
        return
    if memo.status == State.transcribing.value:
        workflow.system(session, memo, State.received, "transcription cancelled", action="cancel")
    memo.progress = 0.0
    memo.error = None


def _process_run(ctx: JobContext) -> Callable[[Session], None]:
    with ctx.database.session() as session:
        memo = session.get_one(Memo, ctx.memo_id)
        memo_id = memo.id
        sha, playback, have_peaks = memo.media_sha256, memo.playback_sha256, memo.peaks is not None
        language, stored_transcript, author_id = memo.language, memo.transcript, memo.author_id
        # What the desk learned from this author's published drafts (and everyone's).
        learned = terms_for(session, author_id, language)
    store = MediaStore(ctx.settings.media_dir)
    source = store.path(sha)
    if not source.is_file():
        raise NotFound(f"The recording of this memo is missing from the media store ({source}); "
                       "restore the file and retry.")

    ctx.stage("prepare")
    ctx.check()
    # One streamed pass, never the whole memo in memory: an hour of 16 kHz float is 230 MB.
    temp = None
    if playback is None or not store.exists(playback):
        temp = store.root / f".playback-{ctx.job_id}-{os.getpid()}.webm"
    try:
        prepared = audio.prepare(source, temp, max_seconds=ctx.settings.max_memo_minutes * 60)
        found: dict[str, Any] = {
            "duration_s": prepared.duration, "decode_gaps": prepared.report.rounded_gaps(),
            "stated_duration_s": prepared.report.stated,
        }
        if not have_peaks:
            found["peaks"] = prepared.peaks
        if temp is not None:
            with temp.open("rb") as copy:
                found["playback_sha256"] = store.save_stream(copy).sha256
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    with ctx.database.session() as session:
        session.execute(update(Memo).where(Memo.id == ctx.memo_id).values(**found))
    ctx.progress(PREPARE_SHARE)
    heap.trim()  # the playback encoder's buffers, before the model and its pieces move in

    ctx.stage("transcribe")
    if stored_transcript is None:
        overrides = {"language": language} if language and language != "auto" else {}
        options = TranscribeOptions.from_settings(ctx.settings, chunk_seconds=WORKER_CHUNK_SECONDS,
                                                  vocabulary=learned.vocabulary, **overrides)
        started = time.perf_counter()
        # From the file, decoded again piece by piece: the same timeline as the playback copy.
        transcript = transcribe(source, options, lambda f: ctx.progress(PREPARE_SHARE + TRANSCRIBE_SHARE * f))
        transcript = with_decode_gaps(transcript, prepared.report.gaps)
        metrics.transcribed(options.model, resolve_device(options.device), found["duration_s"],
                            time.perf_counter() - started)
        # Kept at once: a failure while composing must not cost the transcription again.
        with ctx.database.session() as session:
            session.execute(update(Memo).where(Memo.id == ctx.memo_id).values(transcript=transcript.to_dict()))
    else:
        transcript = Transcript.from_dict(stored_transcript)

    ctx.stage("compose")
    ctx.check()
    if language in (None, "auto") and learned.substitutions:  # now the language is known
        with ctx.database.session() as session:
            learned = terms_for(session, author_id, transcript.language)
    composed = compose(transcript, ComposeOptions(substitutions=learned.substitutions))
    return functools.partial(_save_draft, memo_id=memo_id, job_id=ctx.job_id, composed=composed,
                             settings=ctx.settings)


def _save_draft(session: Session, memo_id: int, job_id: int, composed: ComposedDraft, settings: Settings) -> None:
    """The machine's draft, version 1, and the memo ready for review (one transaction with the
    job's `done`)."""
    memo = session.get_one(Memo, memo_id)
    paragraphs = [dataclasses.asdict(p) for p in composed.paragraphs]
    title = memo.title or composed.title
    draft = session.scalar(select(Draft).where(Draft.memo_id == memo_id))
    if draft is None:
        tags = tags_of(title, composed.body_markdown)  # as every save makes them until set by hand
        draft = Draft(memo_id=memo_id, title=title, body_markdown=composed.body_markdown, excerpt=composed.excerpt,
                      slug=composed.slug, tags=tags, version=1, machine_markdown=composed.body_markdown,
                      paragraphs=paragraphs)
        session.add(draft)
        session.flush()
        session.add(DraftRevision(draft_id=draft.id, version=1, title=title, body_markdown=composed.body_markdown,
                                  tags=tags, excerpt=composed.excerpt, slug=composed.slug, saved_by_id=None))
        # Marked in the editor, where the assistant can put the heard form back.
        session.add_all(LearnedWord(draft_id=draft.id, heard=w.heard[:200], written=w.written[:200],
                                    occurrence=w.occurrence, start=w.start, end=w.end) for w in composed.learned)
    else:  # a memo transcribed again: people's edits stay, the machine's text is refreshed
        draft.machine_markdown, draft.paragraphs = composed.body_markdown, paragraphs
    memo.progress = 1.0
    workflow.system(session, memo, State.ready, f"job {job_id}")
    _tell_assistants(session, memo, draft, settings)


def _tell_assistants(session: Session, memo: Memo, draft: Draft, settings: Settings) -> None:
    mailer = Mailer(settings)
    if not mailer.enabled:
        return
    assistants = session.scalars(select(User.email).where(User.role == Role.assistant, User.is_active)).all()
    if assistants:  # never raises: a mail server down must not fail the transcription
        mailer.draft_ready(list(assistants), draft.title, memo.author.name or memo.author.email,
                           f"/memos/{memo.id}")


KIND = JobKind(run=_process_run, started=_process_started, failed=_process_failed, cancelled=_process_cancelled)


def enqueue_processing(session: Session, memo: Memo, queue: huey.Huey, *, fresh: bool = False) -> Job:
    """Queue prepare + transcribe + compose for a memo that was just received. `fresh`: the memo
    was made in this session, so no job can be queued for it yet (one query less per upload)."""
    if memo.id is None:
        session.flush()
    if not fresh and active_job(session, memo) is not None:
        raise Conflict("This memo is already queued for transcription.", memo_id=memo.id)
    job = Job(kind=PROCESS, memo_id=memo.id, status=JobStatus.queued.value, run_at=utcnow())
    session.add(job)
    session.flush()
    memo.progress = 0.0
    send_after_commit(session, job.id, queue, priority=memo.priority)
    return job


def retry(session: Session, memo: Memo, queue: huey.Huey, actor: User | None = None) -> Job:
    """Queue a failed (or cancelled) memo again; its recording was kept."""
    if active_job(session, memo) is not None:
        raise Conflict("This memo is already queued or being transcribed.", memo_id=memo.id)
    state = State(memo.status)
    if state is State.failed:
        workflow.system(session, memo, State.received, "queued again", actor=actor, action="retry")
    elif state is not State.received:
        raise TransitionRefused(
            "Only a memo whose transcription failed or was cancelled can be retried.", state=memo.status
        )
    memo.error = None
    return enqueue_processing(session, memo, queue)
