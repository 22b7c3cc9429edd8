"""The job queue: Huey carries only a job id; our `Job` table is the truth.

Progress, errors, attempts, cancellation and recovery live in the database, so that any
worker on any machine sharing the database, media and queue can pick a job up, and a worker
killed mid-job is noticed (its heartbeat stops, or its process is gone) and the job runs
again. A message delivered twice is harmless: a worker first *claims* the job with a
conditional UPDATE, and only the claimant writes results.

Outcomes of a memo's processing job:
- done: the memo is `ready` with a draft (version 1, saved by the machine);
- failed: the memo is `failed` with a sentence saying why (Memo.error, Job.error); the
  recording is kept and `retry` queues a new job;
- cancelled: the memo goes back to `received` without an error (a person chose this, it is
  not a fault); `retry` queues it again. The last job's status tells the UI "cancelled".

Transient errors (database or disk hiccups, a lost connection) are retried with backoff up to
`JobOptions.max_attempts` runs; bad audio and other permanent errors fail at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import huey
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from dictation.db import AFTER_COMMIT, Database, rows_changed, utcnow
from dictation.errors import Conflict
from dictation.jobs.kinds import kind_of
from dictation.jobs.options import JobOptions
from dictation.models import Job, JobStatus, Memo
from dictation.settings import Settings

__all__ = ["DEFAULT_QUEUE_NAME", "JobOptions", "active_job", "cancel", "database_for", "dispose_databases",
           "latest_job", "queued_job_ids", "send_after_commit"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NAME = "dictation"
ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


# Huey runs higher numbers first: an urgent memo overtakes the normal ones waiting.
PRIORITIES = {"urgent": 20, "high": 10}


def _send(queue: huey.Huey, job_id: int, eta: dt.datetime | None = None, priority: int = 0) -> None:
    delay = (eta - utcnow()).total_seconds() if eta is not None else None
    queue.enqueue(queue.run_job_task.s(job_id, priority=priority, delay=delay if delay and delay > 0 else None))


def send_after_commit(
    session: Session, job_id: int, queue: huey.Huey, eta: dt.datetime | None = None, priority: str | None = None
) -> None:
    """Enqueue once the job row is committed: a worker must never get an id it cannot see.
    `priority`: the memo's, when the caller has it at hand (else it is read).

    Should the queue be unreachable then, the job stays `queued` and recovery sends it later.
    """
    memo_priority = priority if priority is not None else session.scalar(
        select(Memo.priority).join(Job, Job.memo_id == Memo.id).where(Job.id == job_id)
    )
    pending = session.info.setdefault(AFTER_COMMIT, [])
    pending.append((job_id, eta, queue, PRIORITIES.get(memo_priority, 0) if memo_priority else 0))
    if not session.info.get("dictation.jobs.hooked"):
        session.info["dictation.jobs.hooked"] = True
        event.listen(session, "after_commit", _flush_pending)
        event.listen(session, "after_rollback", lambda s: s.info.get(AFTER_COMMIT, []).clear())


def _flush_pending(session: Session) -> None:
    pending = session.info.get(AFTER_COMMIT, [])
    while pending:
        job_id, eta, queue, priority = pending.pop(0)
        try:
            _send(queue, job_id, eta, priority)
        except Exception:  # noqa: BLE001 - the queue's own errors vary by backend
            log.warning("could not enqueue job %s now; recovery will enqueue it", job_id, exc_info=True)


# --- what people (and the API) do --------------------------------------------------------


def active_job(session: Session, memo: Memo) -> Job | None:
    """The memo's queued or running job, if any."""
    return session.scalar(
        select(Job).where(Job.memo_id == memo.id, Job.status.in_(ACTIVE)).order_by(Job.id.desc()).limit(1)
    )


def latest_job(session: Session, memo: Memo) -> Job | None:
    return session.scalar(select(Job).where(Job.memo_id == memo.id).order_by(Job.id.desc()).limit(1))


def cancel(session: Session, memo: Memo) -> Job | None:
    """Stop the memo's transcription: at once if queued, at the next check if running.

    A cancelled memo is back in `received`, with no error, and can be retried.
    Returns the job, or None when there was nothing to cancel.
    """
    job = active_job(session, memo)
    if job is None:
        return None
    too_late = kind_of(job).too_late_to_cancel(session, job)
    if too_late is not None:
        raise Conflict(too_late, status=memo.status)
    # Conditional: the worker may have finished or claimed the job meanwhile.
    stopped = rows_changed(session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.queued.value)
        .values(status=JobStatus.cancelled.value, cancel_requested=True, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ))
    if stopped:
        session.refresh(job)
        kind_of(job).cancelled(session, job)
    else:
        session.execute(
            update(Job).where(Job.id == job.id).values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        session.refresh(job)
    return job


def queued_job_ids(queue: huey.Huey) -> set[int]:
    """Job ids waiting in the queue or in its schedule (retries with backoff)."""
    ids: set[int] = set()
    for task in list(queue.pending()) + list(queue.scheduled()):
        if task.args:
            ids.add(int(task.args[0]))
    return ids


# --- kinds of job -------------------------------------------------------------------------


# --- running a job -----------------------------------------------------------------------

_databases: dict[tuple[int, str], Database] = {}


def database_for(settings: Settings) -> Database:
    """One engine per process and database URL (never shared across a fork)."""
    key = (os.getpid(), settings.sqlalchemy_url)
    if key not in _databases:
        _databases[key] = Database(settings)
    return _databases[key]


def dispose_databases() -> None:
    """Close the engines `database_for` opened (tests, shutdown)."""
    while _databases:
        _databases.popitem()[1].dispose()


