"""The job queue and the processing job: real queue backends, real audio, real tiny.en.

Jobs run here by calling `run_job` directly (deterministic); one test runs the in-process
worker (Huey consumer threads) to cancel a transcription while it runs.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from dictation import audio, jobs
from dictation.db import utcnow
from dictation.errors import Conflict, InvalidInput
from dictation.jobs import WorkerOptions, start_in_process_worker, worker_is_dead
from dictation.memos import processing
from dictation.models import AuditEntry, DraftRevision, Job, Memo, State
from dictation.storage import MediaStore
from tests.conftest import need, shared_file
from tests.support.dbfixtures import make_memo, make_user
from tests.support.desk import wait_for
from tests.support.wer import word_error_rate

EN_MEMO = "audio/memos/en_mb-us1.m4a"
EN_TEXT = "audio/memos/en_mb-us1.txt"
# The module, not the function dictation.audio re-exports under the same name.
prepare = importlib.import_module("dictation.audio.prepare")
JFK = "audio/real/jfk.flac"
FAST = jobs.JobOptions(backoff_s=0.5, heartbeat_s=0.5, progress_every_s=0.2, stale_after_s=5, lost_after_s=0)


@pytest.fixture
def queue(db, settings):
    queue = jobs.make_queue(settings, options=FAST)
    yield queue
    jobs.dispose_databases()


def received_memo(db, settings, relative: str, data: bytes | None = None) -> int:
    """A memo just uploaded: the file in the media store, the memo `received`."""
    store = MediaStore(settings.media_dir)
    stored = store.save_stream(data if data is not None else shared_file(relative).open("rb"))
    with db.session() as session:
        author = make_user(session, "author")
        memo = make_memo(session, author, status="received", title=None, media_sha256=stored.sha256,
                         size_bytes=stored.size)
        return memo.id


def queue_memo(db, memo_id: int, queue) -> int:
    with db.session() as session:
        return processing.enqueue_processing(session, session.get(Memo, memo_id), queue).id


def load(db, memo_id: int, job_id: int | None = None) -> tuple[Memo, Job | None]:
    with db.session() as session:
        memo = session.get(Memo, memo_id, options=[undefer(Memo.peaks), undefer(Memo.transcript)])
        memo.draft  # noqa: B018  (loaded while the session is open)
        return memo, session.get(Job, job_id) if job_id else None


# --- the queue ---------------------------------------------------------------------------


def test_make_queue_uses_sqlite_file_in_data_dir(settings):
    queue = jobs.make_queue(settings)
    assert queue.storage.filename == str(settings.data_dir / "queue.sqlite3")
    queue.run_job_task(41)
    assert jobs.queued_job_ids(jobs.make_queue(settings)) == {41}  # another process sees it


def test_make_queue_uses_redis_from_url(settings):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
        up = True
    except redis.RedisError:
        up = False
    need(up, "Redis does not answer at 127.0.0.1:6379")
    remote = settings.model_copy(update={"queue_url": "redis://127.0.0.1:6379/0"})
    name = f"test-{uuid.uuid4().hex[:8]}"
    queue = jobs.make_queue(remote, name=name)
    try:
        queue.run_job_task(7)
        assert jobs.queued_job_ids(jobs.make_queue(remote, name=name)) == {7}
        assert jobs.queued_job_ids(jobs.make_queue(remote, name=name + "-other")) == set()
    finally:
        queue.flush()


def test_make_queue_refuses_unknown_url(settings):
    with pytest.raises(InvalidInput, match="redis://"):
        jobs.make_queue(settings.model_copy(update={"queue_url": "amqp://localhost"}))


def test_enqueue_processing_sends_job_only_after_commit(db, settings, queue):
    memo_id = received_memo(db, settings, JFK)
    with db.session() as session:
        job = processing.enqueue_processing(session, session.get(Memo, memo_id), queue)
        assert jobs.queued_job_ids(queue) == set()  # a worker must not see an uncommitted id
        with pytest.raises(Conflict):
            processing.enqueue_processing(session, session.get(Memo, memo_id), queue)
    assert jobs.queued_job_ids(queue) == {job.id}

    with pytest.raises(RuntimeError), db.session() as session:
        other = processing.enqueue_processing(session, make_memo(session, make_user(session), status="received"), queue)
        raise RuntimeError("rolled back")
    assert other.id not in jobs.queued_job_ids(queue)


def test_enqueue_processing_puts_urgent_memo_first(db, settings, queue):
    normal = queue_memo(db, received_memo(db, settings, JFK), queue)
    with db.session() as session:
        urgent_memo = make_memo(session, make_user(session), status="received", priority="urgent")
        urgent = processing.enqueue_processing(session, urgent_memo, queue).id
    assert [queue.dequeue().args for _ in range(2)] == [(urgent,), (normal,)]


# --- the processing job ------------------------------------------------------------------


@pytest.mark.slow
def test_run_job_makes_memo_ready_with_machine_draft(db, settings, queue):
    memo_id = received_memo(db, settings, EN_MEMO)
    job_id = queue_memo(db, memo_id, queue)
    assert jobs.run_job(job_id, settings, queue) == "done"

    memo, job = load(db, memo_id, job_id)
    assert (memo.status, memo.error, memo.progress) == ("ready", None, 1.0)
    assert (job.status, job.attempts, job.progress, job.error) == ("done", 1, 1.0, None)
    assert 125 < memo.duration_s < 131 and len(memo.peaks) > 1000 and max(memo.peaks) == 1.0
    playback = MediaStore(settings.media_dir).path(memo.playback_sha256)
    assert audio.probe(playback).codec == "opus"
    assert memo.transcript["segments"] and memo.transcript["model"] == "tiny.en"
    draft = memo.draft
    assert draft.version == 1 and draft.machine_markdown == draft.body_markdown and draft.title
    assert draft.paragraphs and draft.paragraphs[0]["start"] >= 0
    wer = word_error_rate(shared_file(EN_TEXT).read_text(), draft.body_markdown)
    assert wer <= 0.20, f"draft WER {wer:.1%}"
    with db.session() as session:
        revision = session.scalar(select(DraftRevision).where(DraftRevision.draft_id == draft.id))
        assert (revision.version, revision.saved_by_id, revision.body_markdown) == (1, None, draft.body_markdown)
        moves = session.execute(select(AuditEntry.action, AuditEntry.to_state).where(AuditEntry.memo_id == memo_id)
                                .order_by(AuditEntry.id)).all()
    assert [tuple(m) for m in moves] == [("start_transcription", "transcribing"), ("transcribed", "ready")]
    assert jobs.run_job(job_id, settings, queue) == "skipped"  # a second delivery does nothing


@pytest.mark.slow
def test_run_job_fails_corrupt_file_with_reason_then_retry_succeeds(db, settings, queue):
    original = shared_file(JFK).read_bytes()
    m4a = shared_file(EN_MEMO).read_bytes()
    memo_id = received_memo(db, settings, JFK, data=original)
    with db.session() as session:
        path = MediaStore(settings.media_dir).path(session.get(Memo, memo_id).media_sha256)
    # The disk now holds an m4a cut in half: it passes the sniff, but nothing decodes.
    assert audio.sniff(m4a[:4096]) == "m4a"
    path.write_bytes(m4a[: len(m4a) // 2])
    job_id = queue_memo(db, memo_id, queue)

    assert jobs.run_job(job_id, settings, queue) == "failed"
    memo, job = load(db, memo_id, job_id)
    assert memo.status == "failed" and "cut short or damaged" in memo.error
    assert job.status == "failed" and job.error == memo.error and job.attempts == 1  # no retry of bad audio
    assert job.stage == "prepare" and memo.draft is None and path.exists()  # the input is kept

    path.write_bytes(original)  # someone restores the file from a backup
    with db.session() as session:
        retried = processing.retry(session, session.get(Memo, memo_id), queue)
        with pytest.raises(Conflict):
            processing.retry(session, session.get(Memo, memo_id), queue)
    memo, _ = load(db, memo_id)
    assert (memo.status, memo.error) == ("received", None)
    assert jobs.queued_job_ids(queue) == {job_id, retried.id}
    assert jobs.run_job(retried.id, settings, queue) == "done"
    memo, _ = load(db, memo_id)
    assert memo.status == "ready" and "ask not what your country" in memo.draft.body_markdown.lower()


def test_run_job_retries_transient_error_with_backoff(db, settings, queue, monkeypatch):
    calls = []
    real = prepare.make_playback_copy

    def flaky_disk(source, dest, **options):  # the one fake: a full disk the first time
        calls.append(dest)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(source, dest, **options)

    # Where the processing job's one decoding pass writes the playback copy.
    monkeypatch.setattr(prepare, "make_playback_copy", flaky_disk)
    memo_id = received_memo(db, settings, JFK)
    job_id = queue_memo(db, memo_id, queue)
    queue.flush()
    before = utcnow()
    assert jobs.run_job(job_id, settings, queue) == "queued"
    memo, job = load(db, memo_id, job_id)
    assert job.status == "queued" and job.attempts == 1 and "disk was full" in job.error
    assert job.run_at >= before + dt.timedelta(seconds=FAST.backoff_s) and job.worker is None
    assert memo.status == "transcribing" and memo.error is None
    # Sent again with an eta: the consumer holds it in its schedule until then.
    assert [(t.args, t.eta > before.replace(tzinfo=None)) for t in queue.pending()] == [((job_id,), True)]

    assert jobs.run_job(job_id, settings, queue) == "done"
    memo, job = load(db, memo_id, job_id)
    assert memo.status == "ready" and (job.attempts, job.error) == (2, None)


def test_run_job_fails_after_max_attempts_of_transient_errors(db, settings, queue, monkeypatch):
    def broken_disk(source, dest, **options):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(prepare, "make_playback_copy", broken_disk)
    memo_id = received_memo(db, settings, JFK)
    job_id = queue_memo(db, memo_id, queue)
    outcomes = [jobs.run_job(job_id, settings, queue) for _ in range(FAST.max_attempts)]
    assert outcomes == ["queued"] * (FAST.max_attempts - 1) + ["failed"]
    memo, job = load(db, memo_id, job_id)
    assert memo.status == "failed" and "Input/output error" in memo.error
    assert job.attempts == FAST.max_attempts and job.status == "failed"


def test_run_job_skips_job_another_worker_runs(db, settings, queue):
    memo_id = received_memo(db, settings, JFK)
    job_id = queue_memo(db, memo_id, queue)
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="running", worker="elsewhere:1:a:b",
                                                                     heartbeat_at=utcnow()))
    assert jobs.run_job(job_id, settings, queue) == "skipped"
    memo, job = load(db, memo_id, job_id)
    assert (memo.status, job.status, job.worker, job.attempts) == ("received", "running", "elsewhere:1:a:b", 0)


# --- cancelling --------------------------------------------------------------------------


def test_cancel_queued_memo_is_not_an_error_and_can_be_retried(db, settings, queue):
    memo_id = received_memo(db, settings, JFK)
    job_id = queue_memo(db, memo_id, queue)
    with db.session() as session:
        assert jobs.cancel(session, session.get(Memo, memo_id)).status == "cancelled"
        assert jobs.cancel(session, session.get(Memo, memo_id)) is None  # nothing left to cancel
    assert jobs.run_job(job_id, settings, queue) == "skipped"
    memo, job = load(db, memo_id, job_id)
    assert (memo.status, memo.error, job.status) == ("received", None, "cancelled")
    with db.session() as session:
        again = processing.retry(session, session.get(Memo, memo_id), queue)
    assert jobs.run_job(again.id, settings, queue) == "done"


@pytest.mark.slow
def test_cancel_running_transcription_stops_worker_and_retry_finishes(db, settings, queue):
    memo_id = received_memo(db, settings, EN_MEMO)
    handle = start_in_process_worker(settings, workers=1, options=WorkerOptions(jobs=FAST, recover_every_s=1))
    try:
        job_id = queue_memo(db, memo_id, queue)
        wait_for(lambda: load(db, memo_id, job_id)[1].progress > processing.PREPARE_SHARE, what="transcription")
        with db.session() as session:
            assert jobs.cancel(session, session.get(Memo, memo_id)).cancel_requested
        job = wait_for(lambda: (j := load(db, memo_id, job_id)[1]).status != "running" and j, what="cancel")
        memo, _ = load(db, memo_id)
        assert (job.status, memo.status, memo.error, memo.draft) == ("cancelled", "received", None, None)
        assert job.progress < 0.9

        with db.session() as session:
            again = processing.retry(session, session.get(Memo, memo_id), queue)
        wait_for(lambda: load(db, memo_id)[0].status == "ready", what="ready after retry")
        assert load(db, memo_id, again.id)[1].status == "done"
    finally:
        handle.stop()
    assert not handle.alive


@pytest.mark.slow
def test_stop_in_process_worker_puts_running_job_back_in_queue(db, settings, queue):
    memo_id = received_memo(db, settings, EN_MEMO)
    handle = start_in_process_worker(settings, workers=1, options=WorkerOptions(jobs=FAST))
    job_id = queue_memo(db, memo_id, queue)
    wait_for(lambda: load(db, memo_id, job_id)[1].progress > processing.PREPARE_SHARE, what="transcription")
    handle.stop()
    assert not handle.alive
    memo, job = load(db, memo_id, job_id)
    assert (job.status, job.attempts, job.worker, memo.draft) == ("queued", 0, None, None)
    assert job_id in jobs.queued_job_ids(queue)  # the next worker starts it at once


@pytest.mark.slow
def test_run_job_taken_over_by_recovery_writes_nothing(db, settings, queue):
    from concurrent.futures import ThreadPoolExecutor

    memo_id = received_memo(db, settings, EN_MEMO)
    job_id = queue_memo(db, memo_id, queue)
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(jobs.run_job, job_id, settings, queue)
        wait_for(lambda: load(db, memo_id, job_id)[1].progress > processing.PREPARE_SHARE, what="transcription")
        with db.session() as session:  # as if recovery thought this worker dead and gave the job away
            session.execute(update(Job).where(Job.id == job_id).values(worker="far-away:1:tok:n"))
        assert outcome.result(timeout=120) == "skipped"
    memo, job = load(db, memo_id, job_id)
    assert (memo.status, memo.draft, job.status, job.worker) == ("transcribing", None, "running", "far-away:1:tok:n")


# --- recovery ----------------------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def running_job(db, memo_id: int, worker: str, heartbeat_age_s: float, attempts: int = 1) -> int:
    with db.session() as session:
        session.get(Memo, memo_id).status = State.transcribing.value
        job = Job(kind=processing.PROCESS, memo_id=memo_id, status="running", worker=worker, attempts=attempts,
                  heartbeat_at=utcnow() - dt.timedelta(seconds=heartbeat_age_s))
        session.add(job)
        session.flush()
        return job.id


def test_recover_stale_jobs_requeues_dead_workers_jobs_only(db, settings, queue):
    host = socket.gethostname()
    memos = [received_memo(db, settings, JFK) for _ in range(4)]
    silent = running_job(db, memos[0], "far-away:12:tok:n", heartbeat_age_s=600)
    alive = running_job(db, memos[1], "far-away:13:tok:n", heartbeat_age_s=1)
    gone = running_job(db, memos[2], f"{host}:{dead_pid()}:tok:n", heartbeat_age_s=1)
    doomed = running_job(db, memos[3], "far-away:14:tok:n", heartbeat_age_s=600, attempts=FAST.max_attempts)
    queue.flush()
    with db.session() as session:
        sent = jobs.recover_stale_jobs(session, queue=queue)
    assert sorted(sent) == sorted([silent, gone]) and jobs.queued_job_ids(queue) == {silent, gone}
    statuses = {j: load(db, m, j)[1].status for j, m in zip((silent, alive, gone, doomed), memos, strict=True)}
    assert statuses == {silent: "queued", alive: "running", gone: "queued", doomed: "failed"}
    memo, _ = load(db, memos[3])
    assert memo.status == "failed" and "stopped 3 times" in memo.error

    assert jobs.run_job(gone, settings, queue) == "done"  # the requeued job runs to the end
    memo, job = load(db, memos[2], gone)
    assert memo.status == "ready" and job.attempts == 2


def test_recover_stale_jobs_resends_queued_job_no_queue_holds(db, settings, queue):
    memo_id = received_memo(db, settings, JFK)
    job_id = queue_memo(db, memo_id, queue)
    queue.flush()  # the message is lost (Redis restarted without persistence, say)
    time.sleep(0.01)
    with db.session() as session:
        assert jobs.recover_stale_jobs(session, queue=queue) == [job_id]
    assert jobs.queued_job_ids(queue) == {job_id}
    with db.session() as session:
        assert jobs.recover_stale_jobs(session, queue=queue) == []  # no duplicate


def test_recover_stale_jobs_cancels_dead_job_with_cancel_request(db, settings, queue):
    memo_id = received_memo(db, settings, JFK)
    job_id = running_job(db, memo_id, "far-away:12:tok:n", heartbeat_age_s=600)
    with db.session() as session:
        jobs.cancel(session, session.get(Memo, memo_id))
        assert jobs.recover_stale_jobs(session, queue=queue) == []
    memo, job = load(db, memo_id, job_id)
    assert (job.status, memo.status, memo.error) == ("cancelled", "received", None)


def test_worker_is_dead_only_when_sure():
    host = socket.gethostname()
    assert worker_is_dead(f"{host}:{dead_pid()}:tok:n")
    assert not worker_is_dead(f"{host}:{os.getppid()}:tok:n")  # a live process
    assert not worker_is_dead(f"other-host:{dead_pid()}:tok:n")  # can't tell: the heartbeat decides
    assert worker_is_dead(f"{host}:{os.getpid()}:earlier-life:n")
    assert not worker_is_dead(None) and not worker_is_dead("garbage")
