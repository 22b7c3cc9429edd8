"""Running one job: claim it, keep its heartbeat, run its kind, record the outcome; and the
queue whose single task does that."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import huey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation import context as work_context
from dictation.db import Database, rows_changed, unavailable, utcnow
from dictation.errors import DictationError, InvalidInput, StorageFull, TransitionRefused, is_disk_full
from dictation.jobs.context import (
    Heartbeat,
    JobCancelled,
    JobContext,
    JobInterrupted,
    JobLost,
)
from dictation.jobs.kinds import JobKind, kind_of
from dictation.jobs.options import JobOptions
from dictation.jobs.queue import DEFAULT_QUEUE_NAME, database_for, send_after_commit
from dictation.jobs.recovery import new_worker_name
from dictation.models import Job, JobStatus
from dictation.settings import Settings
from dictation.telemetry import metrics
from dictation.text import without_paths

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_queue(settings: Settings, name: str = DEFAULT_QUEUE_NAME, options: JobOptions | None = None) -> huey.Huey:
    """SqliteHuey at `<data_dir>/queue.sqlite3`, or RedisHuey at `settings.queue_url`.

    The task is registered on this instance, closing over `settings`, so tests and servers can
    hold several queues at once. Results are not stored: the Job table has them.
    """
    url = settings.queue_url
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidInput(f"DICTATION_QUEUE_URL must be a redis:// address, not {url.split(':')[0]}://.")
        queue: huey.Huey = huey.PriorityRedisHuey(name, url=url, results=False)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        queue = huey.SqliteHuey(name, filename=str(settings.data_dir / "queue.sqlite3"), results=False, timeout=30)
    queue.job_options = options or JobOptions()

    def run_job_task(job_id: int) -> None:
        execute(job_id, settings, queue)

    queue.run_job_task = queue.task(name="run_job")(run_job_task)
    return queue


def describe(exc: BaseException, attempts: int) -> tuple[str, bool]:
    """(a sentence for a person, whether running again may help). Authors read it on their
    memo, so no server path stays in it."""
    reason, transient = _describe(exc, attempts)
    return without_paths(reason), transient


def _describe(exc: BaseException, attempts: int) -> tuple[str, bool]:
    import av
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, StorageFull) or is_disk_full(exc):
        # Before FFmpegError: PyAV's OSError for a write that found no space is one too, and a
        # full disk is no reason to call the recording damaged or to give up on it.
        return ("The server's disk was full while processing this memo (nothing partial was kept); it is "
                f"tried again, and Retry works once space is freed (attempt {attempts})."), True
    if isinstance(exc, DictationError):
        return exc.message, False
    if isinstance(exc, av.error.FFmpegError):
        return f"The recording could not be decoded; it may be damaged ({exc}).", False
    transient: tuple[type[BaseException], ...] = (
        sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError, ConnectionError, TimeoutError)
    try:
        import redis

        transient += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    except ImportError:
        pass
    what = f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(exc, transient):
        return f"Processing was interrupted by a passing error after {attempts} attempt(s) ({what}).", True
    return f"Processing stopped on an unexpected error ({what}).", False


def _outlasting_database_outage(action: Callable[[], T], options: JobOptions) -> T:
    """Run a transaction that records a job's outcome, waiting out a database that is away
    (restarting, failing over) for up to half the stale-heartbeat time. Without this, a job
    whose outcome fell in a restart stayed `running` under a live worker until recovery
    judged its heartbeat stale (a minute by default) and ran it all again."""
    deadline = time.monotonic() + options.stale_after_s / 2
    delay = 0.5
    while True:
        try:
            return action()
        except Exception as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("the database is unavailable while recording a job's outcome; again in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _settle(session: Session, job_id: int, owner: str, **values: Any) -> bool:
    """Write the job's outcome only if this worker still owns it."""
    return bool(rows_changed(session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == owner, Job.status == JobStatus.running.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )))


def execute(job_id: int, settings: Settings, queue: huey.Huey | None) -> str:
    """Claim the job, run its kind, record the outcome; returns the job's status afterwards
    ("skipped" when it was not ours to run: done, running elsewhere, gone).

    Every log line of the run carries the job, its memo and the request that queued it; the
    run's duration and outcome are counted by kind."""
    with database_for(settings).session() as session:
        found = session.execute(select(Job.kind, Job.memo_id, Job.request_id).where(Job.id == job_id)).first()
    kind, memo_id, request_id = found or (None, None, None)
    started = time.perf_counter()
    with work_context.bound(job_id=job_id, memo_id=memo_id, request_id=request_id):
        outcome = _execute(job_id, settings, queue)
    if kind is not None and outcome != "skipped":
        metrics.job_finished(kind, outcome, time.perf_counter() - started)
    return outcome


def _execute(job_id: int, settings: Settings, queue: huey.Huey | None) -> str:
    options: JobOptions = getattr(queue, "job_options", None) or JobOptions()
    database = database_for(settings)
    me = new_worker_name()
    now = utcnow()
    with database.session() as session:
        claimed = rows_changed(session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued.value)
            .values(status=JobStatus.running.value, worker=me, attempts=Job.attempts + 1, started_at=now,
                    heartbeat_at=now, finished_at=None, progress=0.0, stage=None)
            .execution_options(synchronize_session=False)
        ))
        job = session.get(Job, job_id)
        if job is None:
            log.warning("job %s does not exist (deleted with its memo?)", job_id)
            return "skipped"
        if not claimed:
            return "skipped"
        kind = kind_of(job)
        if job.cancel_requested:
            # Queued again with a cancel asked meanwhile (by a stopping worker, recovery, a retry):
            # settled here, where every way back to the queue ends, not left for no one to claim.
            if kind.too_late_to_cancel(session, job) is None:
                _settle(session, job_id, me, status=JobStatus.cancelled.value, finished_at=now)
                kind.cancelled(session, job)
                return JobStatus.cancelled.value
            job.cancel_requested = False  # it came after the work was out: too late, so dropped
    try:
        with database.session() as session:
            job = session.get_one(Job, job_id)
            kind.started(session, job)
    except TransitionRefused as exc:  # e.g. archived while it waited: nothing to do
        with database.session() as session:
            _settle(session, job_id, me, status=JobStatus.cancelled.value, error=exc.message, finished_at=utcnow())
        return JobStatus.cancelled.value
    except Exception as exc:  # noqa: BLE001
        return _failed(database, job_id, me, exc, options, kind, queue)

    beat = Heartbeat(database, job, me, options)
    beat.start()
    ctx = JobContext(job.id, job.memo_id, job.publication_id, settings, database, beat,
                     getattr(queue, "stopping", None), too_late_to_cancel=job.cancel_too_late)
    try:
        try:
            finish = kind.run(ctx)
        finally:
            beat.stop()
        ctx.check()

        def record_done() -> None:
            with database.session() as session:
                if not _settle(session, job_id, me, status=JobStatus.done.value, progress=1.0, error=None,
                               finished_at=utcnow(), heartbeat_at=utcnow()):
                    raise JobLost()
                if finish is not None:
                    finish(session)

        _outlasting_database_outage(record_done, options)
        return JobStatus.done.value
    except JobLost:
        log.warning("job %s was taken over by another worker; this run stops", job_id)
        return "skipped"
    except JobCancelled:
        with database.session() as session:
            if _settle(session, job_id, me, status=JobStatus.cancelled.value, finished_at=utcnow()):
                kind.cancelled(session, session.get_one(Job, job_id))
        return JobStatus.cancelled.value
    except (JobInterrupted, KeyboardInterrupt):
        # Shutting down: back to the queue now, rather than waiting for the heartbeat to go stale.
        with database.session() as session:
            if _settle(session, job_id, me, status=JobStatus.queued.value, worker=None, run_at=utcnow(),
                       attempts=Job.attempts - 1):
                send_after_commit(session, job_id, queue)
                # An operator stopping a worker wants to see that nothing was dropped.
                log.info("job %s handed back to the queue: this worker is stopping", job_id)
        return JobStatus.queued.value
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
        return _failed(database, job_id, me, exc, options, kind, queue)


def _failed(database: Database, job_id: int, me: str, exc: Exception, options: JobOptions,
            kind: JobKind, queue: huey.Huey | None) -> str:
    return _outlasting_database_outage(lambda: _record_failure(database, job_id, me, exc, options, kind, queue),
                                       options)


def _record_failure(database: Database, job_id: int, me: str, exc: Exception, options: JobOptions,
                    kind: JobKind, queue: huey.Huey | None) -> str:
    with database.session() as session:
        job = session.get_one(Job, job_id)
        reason, transient = describe(exc, job.attempts)
        if transient and job.attempts < options.max_attempts:
            delay = min(options.max_backoff_s, options.backoff_s * 2 ** (job.attempts - 1))
            log.warning("job %s: attempt %s failed (%s); again in %.1f s", job_id, job.attempts, reason, delay)
            run_at = utcnow() + dt.timedelta(seconds=delay)
            if _settle(session, job_id, me, status=JobStatus.queued.value, worker=None, run_at=run_at,
                       error=f"Attempt {job.attempts} failed, retrying: {reason}"):
                send_after_commit(session, job_id, queue, run_at)
            return JobStatus.queued.value
        log.error("job %s failed: %s", job_id, reason, exc_info=exc)
        if _settle(session, job_id, me, status=JobStatus.failed.value, error=reason, finished_at=utcnow()):
            session.refresh(job)
            kind.failed(session, job, reason)
        return JobStatus.failed.value




def run_job(job_id: int, settings: Settings, queue: huey.Huey) -> str:
    """The task body: claim the job, run its kind, record the outcome. Returns the job's status
    afterwards ("skipped" when another worker has it or it is no longer queued)."""
    return execute(job_id, settings, queue)
