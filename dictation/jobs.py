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
import importlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import huey
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from dictation.db import Database, utcnow
from dictation.errors import Conflict, InvalidInput, TransitionRefused
from dictation.models import Job, JobStatus, Memo, State, User
from dictation.settings import Settings, get_settings

if TYPE_CHECKING:  # only for the annotation: worker imports this module
    from dictation.worker import JobContext

log = logging.getLogger(__name__)

PROCESS = "process"  # prepare audio, transcribe, compose
PUBLISH = "publish"  # issue 5 plugs its kind in with `register_kind`
DEFAULT_QUEUE_NAME = "dictation"
ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


@dataclass(frozen=True)
class JobOptions:
    # Runs of one job before it fails for good (transient errors and dead workers both count).
    max_attempts: int = 3
    # Wait before the second run after a transient error; doubles for each further run.
    backoff_s: float = 10.0
    # Longest wait between runs, however many attempts.
    max_backoff_s: float = 300.0
    # How often a running job proves it is alive; recovery waits several of these.
    heartbeat_s: float = 5.0
    # Progress is written at most this often (a UI polls it; every segment would be too many writes).
    progress_every_s: float = 1.0
    # A running job silent this long belongs to a dead worker and is run again.
    stale_after_s: float = 60.0
    # A queued job older than this that is in no queue (lost message, queue wiped) is enqueued again.
    lost_after_s: float = 30.0


# --- the queue -----------------------------------------------------------------------------


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
    queue.dictation_settings = settings
    queue.job_options = options or JobOptions()

    def run_job_task(job_id: int) -> None:
        run_job(job_id, settings, queue)

    queue.run_job_task = queue.task(name="run_job")(run_job_task)
    return queue


_queue: huey.Huey | None = None


def get_queue() -> huey.Huey:
    """The queue jobs are sent to: the one set with `use_queue`, else built from the settings."""
    global _queue
    if _queue is None:
        _queue = make_queue(get_settings())
    return _queue


def use_queue(queue: huey.Huey | None) -> None:
    """Send jobs to `queue` from now on (None: build it from the settings again when needed)."""
    global _queue
    _queue = queue


# Huey runs higher numbers first: an urgent memo overtakes the normal ones waiting.
PRIORITIES = {"urgent": 20, "high": 10}


def _send(queue: huey.Huey, job_id: int, eta: dt.datetime | None = None, priority: int = 0) -> None:
    delay = (eta - utcnow()).total_seconds() if eta is not None else None
    queue.enqueue(queue.run_job_task.s(job_id, priority=priority, delay=delay if delay and delay > 0 else None))


def _send_after_commit(session: Session, job_id: int, eta: dt.datetime | None = None,
                       queue: huey.Huey | None = None) -> None:
    """Enqueue once the job row is committed: a worker must never get an id it cannot see.

    Should the queue be unreachable then, the job stays `queued` and recovery sends it later.
    """
    memo_priority = session.scalar(select(Memo.priority).join(Job, Job.memo_id == Memo.id).where(Job.id == job_id))
    pending = session.info.setdefault("dictation.jobs.pending", [])
    pending.append((job_id, eta, queue, PRIORITIES.get(memo_priority, 0)))
    if not session.info.get("dictation.jobs.hooked"):
        session.info["dictation.jobs.hooked"] = True
        event.listen(session, "after_commit", _flush_pending)
        event.listen(session, "after_rollback", lambda s: s.info.get("dictation.jobs.pending", []).clear())


def _flush_pending(session: Session) -> None:
    pending = session.info.get("dictation.jobs.pending", [])
    while pending:
        job_id, eta, queue, priority = pending.pop(0)
        try:
            _send(queue or get_queue(), job_id, eta, priority)
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


def enqueue_processing(session: Session, memo: Memo, queue: huey.Huey | None = None) -> Job:
    """Queue prepare + transcribe + compose for a memo that was just received."""
    if memo.id is None:
        session.flush()
    if active_job(session, memo) is not None:
        raise Conflict("This memo is already queued for transcription.", memo_id=memo.id)
    job = Job(kind=PROCESS, memo_id=memo.id, status=JobStatus.queued.value, run_at=utcnow())
    session.add(job)
    session.flush()
    memo.progress = 0.0
    _send_after_commit(session, job.id, queue=queue)
    return job


def retry(session: Session, memo: Memo, actor: User | None = None, queue: huey.Huey | None = None) -> Job:
    """Queue a failed (or cancelled) memo again; its recording was kept."""
    from dictation import workflow

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


def cancel(session: Session, memo: Memo) -> Job | None:
    """Stop the memo's transcription: at once if queued, at the next check if running.

    A cancelled memo is back in `received`, with no error, and can be retried.
    Returns the job, or None when there was nothing to cancel.
    """
    job = active_job(session, memo)
    if job is None:
        return None
    # Conditional: the worker may have finished or claimed the job meanwhile.
    stopped = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.queued.value)
        .values(status=JobStatus.cancelled.value, cancel_requested=True, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
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


# --- recovery ------------------------------------------------------------------------------


def recover_stale_jobs(session: Session, stale_after_s: float | None = None,
                       queue: huey.Huey | None = None) -> list[int]:
    """Run again dead workers' jobs and send again lost queued ones: see `dictation.recovery`."""
    from dictation.recovery import recover_stale_jobs as _recover

    return _recover(session, stale_after_s, queue)


def queued_job_ids(queue: huey.Huey) -> set[int]:
    """Job ids waiting in the queue or in its schedule (retries with backoff)."""
    ids: set[int] = set()
    for task in list(queue.pending()) + list(queue.scheduled()):
        if task.args:
            ids.add(int(task.args[0]))
    return ids


# --- kinds of job -------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    # Does the work outside any transaction (reporting through the context); returns what to
    # write in the job's final transaction, which runs only if this worker still owns the job.
    run: Callable[["JobContext"], Callable[[Session], None] | None]
    # The job was claimed: move the memo (or publication) into its working state, or raise
    # TransitionRefused when there is nothing to do any more (the job is then cancelled).
    started: Callable[[Session, Job], None]
    # The job failed for good: record the sentence for a person.
    failed: Callable[[Session, Job, str], None]
    # The job was cancelled at someone's request.
    cancelled: Callable[[Session, Job], None]


KINDS: dict[str, JobKind] = {}


def register_kind(name: str, kind: JobKind) -> None:
    """Plug in a kind of job (publishing registers "publish")."""
    KINDS[name] = kind


# Where each kind registers itself; imported on first use because those modules import this one.
_KIND_MODULES = {PROCESS: "dictation.pipeline", PUBLISH: "dictation.publishing"}


def kind_of(job: Job) -> JobKind:
    if job.kind not in KINDS and job.kind in _KIND_MODULES:
        importlib.import_module(_KIND_MODULES[job.kind])
    try:
        return KINDS[job.kind]
    except KeyError:
        raise InvalidInput(f"No worker here knows how to run a {job.kind!r} job.") from None


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


def run_job(job_id: int, settings: Settings | None = None, queue: huey.Huey | None = None) -> str:
    """The task body: claim the job, run its kind, record the outcome. Returns the job's status
    afterwards ("skipped" when another worker has it or it is no longer queued)."""
    from dictation.worker import execute

    return execute(job_id, settings or get_settings(), queue)


def run_worker(settings: Settings, workers: int = 1, stop_event=None, options=None) -> None:
    """`dictation worker`: see `dictation.worker.run_worker`."""
    from dictation.worker import run_worker as _run_worker

    _run_worker(settings, workers=workers, stop_event=stop_event, options=options)


def start_in_process_worker(settings: Settings, workers: int | None = None, options=None):
    """`dictation serve`: see `dictation.worker.start_in_process_worker`."""
    from dictation.worker import start_in_process_worker as _start

    return _start(settings, workers=workers, options=options)
