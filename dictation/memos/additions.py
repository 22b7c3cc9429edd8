"""Adding to a memo (the dictaphone's append mode): the author records a follow-up, it is joined
onto the memo's recording, and only the new part is transcribed and appended to the draft.

Rules, and why:
- only the memo's author adds to it: it is their dictation (an assistant edits the text);
- only while the draft can still change for them: ready, in review, changes requested, or
  signed off (an addition then undoes the sign-off, as any edit does, and the author signs the
  new text). Not while it is still being transcribed or has failed (there is no draft to add
  to yet), not while awaiting the author's own sign-off (the text is frozen: sign it off or ask
  for changes first), and not once scheduled, published or archived: the post is what was
  reviewed and signed, so a follow-up to it is a new memo;
- the addition's text is appended as a new version through the drafts service: the
  assistant's edits stay, and a save based on an older version gets the usual 412;
- should the memo have moved to a state that refuses additions while the part was being
  transcribed, its text becomes a comment on the draft (nothing said is dropped) and the
  memo's recording is left as it was.

`KIND` is registered with the job runner at start-up as the "append" kind.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import huey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation import audio, workflow
from dictation.audio.edit import join_into
from dictation.compose import compose
from dictation.db import Database, rows_changed, utcnow
from dictation.errors import Conflict, Forbidden, NotFound, TransitionRefused
from dictation.jobs import JobContext, JobKind, active_job, send_after_commit
from dictation.memos import drafts
from dictation.memos.intake import MemoDetails, Recording, forget_unreferenced, keep_resent_details
from dictation.memos.processing import WORKER_CHUNK_SECONDS
from dictation.models import Draft, DraftRevision, Job, JobStatus, Memo, MemoAddition, State, User
from dictation.storage import MediaStore
from dictation.text import clean_text, file_name
from dictation.transcribe import TranscribeOptions, Transcript, transcribe
from dictation.transcribe.coverage import with_decode_gaps
from dictation.transcribe.result import Segment

APPEND = "append"
# Silence between the memo and what is added, as the dictaphone leaves when recording resumes.
GAP_SECONDS = 0.75
APPENDABLE = frozenset({State.ready, State.in_review, State.changes_requested, State.approved})

_REFUSALS: dict[str, dict[str, str]] = {
    "en": {
        "not_author": "Only the memo's author can add a recording to it.",
        "not_yet": "This memo is still being transcribed; add to it once its draft is ready.",
        "failed": "This memo has failed; it must be retried before anything is added to it.",
        "awaiting": "This draft is waiting for your sign-off: sign it off or ask for changes first, then add to it.",
        "gone": "This memo is {state}: its post is what was reviewed, so record a new memo instead.",
        "purged": "This memo's recording was removed after its retention period; record a new memo instead.",
        "running": "An addition to this memo is still being transcribed; wait until it is in the draft.",
    },
    "fr": {
        "not_author": "Seul l'auteur du mémo peut y ajouter un enregistrement.",
        "not_yet": "Ce mémo est encore en cours de transcription ; complétez-le quand son brouillon sera prêt.",
        "failed": "Ce mémo a échoué ; il faut le relancer avant d'y ajouter quoi que ce soit.",
        "awaiting": ("Ce brouillon attend votre validation : validez-le ou demandez des modifications "
                     "d'abord, puis complétez-le."),
        "gone": "Ce mémo est {state} : son article est ce qui a été relu, enregistrez plutôt un nouveau mémo.",
        "purged": ("L'enregistrement de ce mémo a été supprimé à la fin de sa durée de conservation ; "
                   "enregistrez plutôt un nouveau mémo."),
        "running": "Un ajout à ce mémo est encore en cours de transcription ; attendez qu'il soit dans le brouillon.",
    },
}
_STATE_WORDS = {
    "en": {"scheduled": "scheduled", "publishing": "being published", "published": "published",
           "archived": "archived"},
    "fr": {"scheduled": "programmé", "publishing": "en cours de publication", "published": "publié",
           "archived": "archivé"},
}


def _say(reason: str, language: str | None, state: str = "") -> str:
    lang = language if language in _REFUSALS else "en"
    return _REFUSALS[lang][reason].format(state=_STATE_WORDS[lang].get(state, state))


def refusal(session: Session, memo: Memo, user: User, language: str | None = None, running: bool = True) -> str | None:
    """Why `user` may not add to this memo now, in `language`; None when they may. `running`
    False leaves out "an addition is still running" (a re-sent one is answered as itself)."""
    if memo.author_id != user.id:
        return _say("not_author", language)
    state = State(memo.status)
    if state in (State.received, State.transcribing):
        return _say("not_yet", language)
    if state is State.failed:
        return _say("failed", language)
    if state is State.awaiting_approval:
        return _say("awaiting", language)
    if state not in APPENDABLE or memo.draft is None:
        return _say("gone", language, state.value)
    if memo.original_purged_at is not None:
        return _say("purged", language)
    if running and active_job(session, memo) is not None:
        return _say("running", language)
    return None


def check(session: Session, memo: Memo, user: User, language: str | None = None, running: bool = True) -> None:
    """Forbidden (not the author) or Conflict (not now), with the sentence of `refusal`."""
    why = refusal(session, memo, user, language, running)
    if why is None:
        return
    if memo.author_id != user.id:
        raise Forbidden(why)
    raise Conflict(why, status=memo.status)


@dataclasses.dataclass(frozen=True)
class AdditionReceipt:
    """What became of a sent addition."""

    added: MemoAddition
    created: bool  # False: the same request again, or these bytes were added before
    duplicate: bool = False  # these bytes were added before under another key (or none)
    kept: tuple[str, ...] = ()  # of a duplicate: "note" when its new note became a comment


def receive_addition(
    database: Database, store: MediaStore, queue: huey.Huey, author: User, memo_id: int, recording: Recording,
    fields: Mapping[str, str], key: str | None = None, max_seconds: float | None = None,
    language: str | None = None,
) -> AdditionReceipt:
    """Queue `recording` to be added to the memo. The same key, or the same bytes already added
    to this memo, answer with the first addition (a new note sent with the same bytes becomes a
    comment: nothing typed is dropped). Refused (403/409 with a sentence) when the memo may not
    take one now, TooLarge (413) when the joined memo would pass `max_seconds`; the recording is
    then removed from the store unless something uses it."""
    sha256 = recording.stored.sha256
    try:
        with database.session() as session:
            memo = session.get(Memo, memo_id)
            if memo is None:
                raise NotFound(f"There is no memo {memo_id}.")
            # A failed or cancelled addition is not in the memo: its bytes may be sent again. The
            # same key is the same request (a failed one may be tried again).
            same = (MemoAddition.media_sha256 == sha256) & MemoAddition.status.not_in(
                (JobStatus.failed.value, JobStatus.cancelled.value))
            if key is not None:
                same = same | ((MemoAddition.idempotency_key == key) & (MemoAddition.status != JobStatus.failed.value))
            earlier = session.scalar(
                select(MemoAddition).where(MemoAddition.memo_id == memo_id, same).order_by(MemoAddition.id).limit(1))
            note = clean_text(fields.get("note", ""), "note").strip()
            if earlier is not None and memo.author_id == author.id:
                if key is not None and earlier.idempotency_key == key:  # the same request again
                    return AdditionReceipt(earlier, created=False)
                kept = keep_resent_details(session, memo, author, MemoDetails(note=note or None))
                session.flush()
                session.refresh(earlier)
                session.expunge(earlier)
                return AdditionReceipt(earlier, created=False, duplicate=True, kept=kept)
            check(session, memo, author, language)
            if max_seconds is not None:
                audio.check_stated_length(store.path(sha256), max_seconds - (memo.duration_s or 0.0) - GAP_SECONDS)
            if note and memo.draft is not None:  # for the assistant, like a memo's note
                drafts.add_comment(session, author, memo.draft, note)
            added = MemoAddition(
                memo_id=memo.id, author_id=author.id, idempotency_key=key, media_sha256=sha256,
                original_filename=(file_name(recording.filename) or "")[:300] or None,
                content_type=recording.media_type, size_bytes=recording.stored.size, status=JobStatus.queued.value,
            )
            session.add(added)
            job = Job(kind=APPEND, memo_id=memo.id, status=JobStatus.queued.value, run_at=utcnow())
            session.add(job)
            session.flush()
            added.job_id = job.id
            send_after_commit(session, job.id, queue)
            session.flush()
            session.refresh(added)
            session.expunge(added)
            return AdditionReceipt(added, created=True)
    except BaseException:
        forget_unreferenced(database, store, sha256)
        raise


def recordings(session: Session, memo: Memo) -> set[str]:
    """The files the memo's additions hold (each part, and the memo's recording before it)."""
    found = session.execute(select(MemoAddition.media_sha256, MemoAddition.previous_sha256)
                            .where(MemoAddition.memo_id == memo.id)).all()
    return {sha for row in found for sha in row if sha is not None}


def list_additions(session: Session, memo: Memo) -> list[MemoAddition]:
    return list(session.scalars(select(MemoAddition).where(MemoAddition.memo_id == memo.id)
                                .order_by(MemoAddition.id)))


# --- the job --------------------------------------------------------------------------------


def _addition(session: Session, job: Job) -> MemoAddition:
    added = session.scalar(select(MemoAddition).where(MemoAddition.job_id == job.id))
    if added is None:
        raise TransitionRefused("The addition was deleted before it could be transcribed.")
    return added


def _started(session: Session, job: Job) -> None:
    _addition(session, job).status = JobStatus.running.value


def _failed(session: Session, job: Job, reason: str) -> None:
    added = session.scalar(select(MemoAddition).where(MemoAddition.job_id == job.id))
    if added is not None:
        added.status, added.error = JobStatus.failed.value, reason


def _cancelled(session: Session, job: Job) -> None:
    added = session.scalar(select(MemoAddition).where(MemoAddition.job_id == job.id))
    if added is not None:
        added.status = JobStatus.cancelled.value


def _shifted(transcript: Transcript, seconds: float) -> list[Segment]:
    return [
        dataclasses.replace(s, start=s.start + seconds, end=s.end + seconds,
                            words=[dataclasses.replace(w, start=w.start + seconds, end=w.end + seconds)
                                   for w in s.words])
        for s in transcript.segments
    ]


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The time covered by `spans`, as sorted ranges that do not overlap."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1e-3:  # rounded to the millisecond when stored
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _run(ctx: JobContext) -> Callable[[Session], None]:
    with ctx.database.session() as session:
        job = session.get_one(Job, ctx.job_id)
        added = _addition(session, job)
        memo = session.get_one(Memo, added.memo_id)
        addition_id, old_sha, new_sha = added.id, memo.media_sha256, added.media_sha256
        # After an earlier addition the memo's recording is a joined FLAC, where what its parts
        # lost is plain silence: decoding it again finds no gap, so the recorded ones carry over.
        known_gaps = [(float(a), float(b)) for a, b in memo.decode_gaps or []]
        language = memo.language if memo.language != "auto" else (memo.transcript or {}).get("language", "auto")
    store = MediaStore(ctx.settings.media_dir)
    for sha in (old_sha, new_sha):
        if not store.path(sha).is_file():
            raise NotFound("A recording of this memo is missing from the media store; restore it and retry.")
    max_seconds = ctx.settings.max_memo_minutes * 60
    ctx.stage("prepare")
    joined = store.root / f".joined-{ctx.job_id}-{os.getpid()}.flac"
    playback = store.root / f".playback-{ctx.job_id}-{os.getpid()}.webm"
    try:
        # Streamed: the memo and its addition, decoded block by block into one FLAC file.
        (_, old), (offset, new) = join_into([store.path(old_sha), store.path(new_sha)], joined, GAP_SECONDS,
                                            max_seconds=max_seconds)
        prepared = audio.prepare(joined, playback, max_seconds=max_seconds)
        with joined.open("rb") as handle:
            joined_sha = store.save_stream(handle).sha256
        with playback.open("rb") as handle:
            playback_sha = store.save_stream(handle).sha256
    finally:
        joined.unlink(missing_ok=True)
        playback.unlink(missing_ok=True)
    gaps = _union(known_gaps + list(old.gaps)) + [(a + offset, b + offset) for a, b in new.gaps]
    ctx.progress(0.1)

    ctx.stage("transcribe")
    overrides = {"language": language} if language and language != "auto" else {}
    options = TranscribeOptions.from_settings(ctx.settings, chunk_seconds=WORKER_CHUNK_SECONDS, **overrides)
    # Only the new part: the rest of the memo was transcribed (and edited) already.
    part = transcribe(store.path(new_sha), options, lambda f: ctx.progress(0.1 + 0.85 * f))
    part = with_decode_gaps(dataclasses.replace(part, segments=_shifted(part, offset),
                                                sparse_spans=[(a + offset, b + offset) for a, b in part.sparse_spans]),
                            [(a + offset, b + offset) for a, b in new.gaps])
    ctx.stage("compose")
    ctx.check()
    found = {
        "media_sha256": joined_sha, "content_type": "audio/flac", "size_bytes": store.path(joined_sha).stat().st_size,
        "playback_sha256": playback_sha, "peaks": prepared.peaks, "duration_s": prepared.duration,
        "stated_duration_s": prepared.duration, "decode_gaps": [[round(a, 3), round(b, 3)] for a, b in gaps],
    }
    return functools.partial(_finish, addition_id=addition_id, part=part, offset=offset, length=new.decoded,
                             found=found)


def _finish(session: Session, addition_id: int, part: Transcript, offset: float, length: float,
            found: dict[str, Any]) -> None:
    """In the job's final transaction: the joined recording and the new text, or (should the memo
    no longer take additions) the text as a comment."""
    added = session.get_one(MemoAddition, addition_id)
    memo = session.get_one(Memo, added.memo_id)
    author = session.get_one(User, added.author_id)
    composed = compose(part)
    added.offset_s, added.duration_s, added.status = round(offset, 3), round(length, 3), JobStatus.done.value
    draft = memo.draft
    why = refusal(session, memo, author)  # this job is settled already: it does not count as running
    if why is not None or draft is None:
        if draft is not None and composed.body_markdown.strip():
            drafts.add_comment(session, author, draft,
                               f"Recorded as an addition but not put in the draft ({why})\n\n{composed.body_markdown}")
        return
    added.previous_sha256 = memo.media_sha256
    stored = memo.transcript
    if stored is not None and memo.transcript_purged_at is None:
        whole = Transcript.from_dict(stored)
        segments = [dataclasses.replace(s, id=i) for i, s in enumerate(whole.segments + part.segments)]
        found["transcript"] = dataclasses.replace(
            whole, segments=segments, duration=found["duration_s"],
            sparse_spans=list(whole.sparse_spans) + list(part.sparse_spans)).to_dict()
    for name, value in found.items():
        setattr(memo, name, value)
    paragraphs = [dataclasses.asdict(p) for p in composed.paragraphs]
    append_text(session, author, draft, composed.body_markdown, paragraphs)


def append_text(session: Session, author: User, draft: Draft, markdown: str,
                paragraphs: list[dict[str, Any]]) -> Draft:
    """The added part's text after the draft's current text, as a new version saved in the
    author's name: whatever the assistant wrote stays as it is (nothing is overwritten), and a
    save based on the version before gets the usual 412 with both texts. The machine's text and
    the paragraphs' time ranges grow the same way. An addition to a signed-off draft undoes the
    sign-off, like any edit."""
    workflow.hold_for_edit(session, draft.memo)  # the memo row, so a sign-off cannot cross it
    session.refresh(draft)
    base, signed = draft.version, draft.approved_version

    def after(text: str) -> str:
        return f"{text.rstrip()}\n\n{markdown.strip()}" if text.strip() else markdown.strip()

    result = session.execute(
        update(Draft).where(Draft.id == draft.id, Draft.version == base)
        .values(version=base + 1, updated_at=utcnow(), body_markdown=after(draft.body_markdown),
                machine_markdown=after(draft.machine_markdown), paragraphs=list(draft.paragraphs or []) + paragraphs)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:  # cannot happen while we hold the memo row; never overwrite if it does
        raise drafts.stale(session.get_one(Draft, draft.id))
    if not session.scalar(select(DraftRevision.id).where(DraftRevision.draft_id == draft.id,
                                                         DraftRevision.version == base)):
        session.add(_revision(draft, base, None))  # the text before, if nobody recorded it
    session.flush()
    session.refresh(draft)
    session.add(_revision(draft, base + 1, author.id))
    if signed is not None:
        workflow.edited_after_signoff(session, draft.memo, author, signed, base + 1)
    session.flush()
    return draft


def _revision(draft: Draft, version: int, user_id: int | None) -> DraftRevision:
    return DraftRevision(draft_id=draft.id, version=version, saved_by_id=user_id,
                         **{name: getattr(draft, name) for name in drafts.EDITABLE})


KIND = JobKind(run=_run, started=_started, failed=_failed, cancelled=_cancelled)
