"""Workers: claim a job, keep its heartbeat, record its outcome; run Huey consumers
(`dictation worker`, and beside the API in `dictation serve`). Worker names and the recovery
of dead workers' jobs live in `dictation.recovery`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import huey
from huey.consumer import Consumer, ConsumerStopped
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation import jobs
from dictation.db import Database, utcnow
from dictation.errors import DictationError, TransitionRefused
from dictation.models import Job, JobStatus, Memo
from dictation.recovery import new_worker_name, recover_stale_jobs, worker_is_dead
from dictation.settings import Settings

# worker_is_dead and recover_stale_jobs are re-exported: callers and tests import them from here.
__all__ = [
    "new_worker_name", "worker_is_dead", "recover_stale_jobs",
    "JobCancelled", "JobLost", "JobInterrupted", "Heartbeat", "JobContext", "describe", "execute",
    "WorkerOptions", "run_worker", "WorkerHandle", "start_in_process_worker",
]

log = logging.getLogger(__name__)


# --- one job -----------------------------------------------------------------------------


class JobCancelled(Exception):
    """Someone asked to cancel the job."""


class JobLost(Exception):
    """Recovery gave the job to another worker: this one must write nothing more."""


class JobInterrupted(Exception):
    """The worker is shutting down: the job goes back to the queue."""


class Heartbeat(threading.Thread):
    """Writes the job's heartbeat and progress from one thread, so the transcription never waits
    on the database, and notices cancel requests and a lost claim."""

    def __init__(self, database: Database, job: Job, worker: str, options: jobs.JobOptions) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.database, self.job_id, self.memo_id, self.worker = database, job.id, job.memo_id, worker
        self.options = options
        self.cancelled, self.lost, self._halt = threading.Event(), threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._progress: float | None = None
        self._stage: str | None = None
        self._last_beat = time.monotonic()

    def report(self, progress: float | None = None, stage: str | None = None) -> None:
        with self._lock:
            if progress is not None:
                self._progress = progress
            if stage is not None:
                self._stage = stage

    def run(self) -> None:
        while not self._halt.wait(self.options.progress_every_s):
            self.flush()

    def stop(self) -> None:
        """Stop beating, writing the last progress and stage (where a failure happened)."""
        if self._halt.is_set():
            return
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()
        self.flush()

    def flush(self) -> None:
        with self._lock:
            progress, stage = self._progress, self._stage
            self._progress = self._stage = None
        beat_due = time.monotonic() - self._last_beat >= self.options.heartbeat_s
        values: dict = {}
        if progress is not None:
            values["progress"] = progress
        if stage is not None:
            values["stage"] = stage
        try:
            with self.database.session() as session:
                if values or beat_due:
                    owned = session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.worker == self.worker,
                               Job.status == JobStatus.running.value)
                        .values(heartbeat_at=utcnow(), **values)
                        .execution_options(synchronize_session=False)
                    ).rowcount
                    if not owned:
                        self.lost.set()
                        return
                    self._last_beat = time.monotonic()
                    if progress is not None and self.memo_id is not None:
                        session.execute(update(Memo).where(Memo.id == self.memo_id).values(progress=progress))
                if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                    self.cancelled.set()
        except Exception:  # noqa: BLE001 - a database hiccup: try again at the next tick
            log.warning("heartbeat of job %s not written", self.job_id, exc_info=True)
            with self._lock:  # keep what was not written
                self._progress = self._progress if self._progress is not None else progress
                self._stage = self._stage or stage


@dataclass
class JobContext:
    """What a job kind's `run` gets: ids, settings, the database, and the way to report."""

    job_id: int
    memo_id: int | None
    publication_id: int | None
    settings: Settings
    database: Database
    heartbeat: Heartbeat
    stopping: object | None = None  # the consumer's stop flag (has is_set())
    progress_value: float = field(default=0.0)

    def check(self) -> None:
        """Raise if the job was cancelled, taken over, or the worker is stopping."""
        if self.heartbeat.lost.is_set():
            raise JobLost()
        if self.heartbeat.cancelled.is_set():
            raise JobCancelled()
        if self.stopping is not None and self.stopping.is_set():
            raise JobInterrupted()

    def progress(self, fraction: float) -> None:
        self.progress_value = max(self.progress_value, min(1.0, max(0.0, float(fraction))))
        self.heartbeat.report(progress=self.progress_value)
        self.check()

    def stage(self, name: str) -> None:
        self.heartbeat.report(stage=name)
        self.check()


def describe(exc: BaseException, attempts: int) -> tuple[str, bool]:
    """(a sentence for a person, whether running again may help)."""
    import av
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, DictationError):
        return exc.message, False
    if isinstance(exc, av.error.FFmpegError):
        return f"The recording could not be decoded; it may be damaged ({exc}).", False
    transient = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError, ConnectionError,
                 TimeoutError)
    try:
        import redis

        transient += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    except ImportError:
        pass
    what = f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(exc, transient):
        return f"Processing was interrupted by a passing error after {attempts} attempt(s) ({what}).", True
    return f"Processing stopped on an unexpected error ({what}).", False


def _settle(session: Session, job_id: int, owner: str, **values) -> bool:
    """Write the job's outcome only if this worker still owns it."""
    return bool(session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == owner, Job.status == JobStatus.running.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount)


def execute(job_id: int, settings: Settings, queue: huey.Huey | None) -> str:
    """Claim the job, run its kind, record the outcome; returns the job's status afterwards
    ("skipped" when it was not ours to run: done, running elsewhere, gone)."""
    options: jobs.JobOptions = getattr(queue, "job_options", None) or jobs.JobOptions()
    database = jobs.database_for(settings)
    me = new_worker_name()
    now = utcnow()
    with database.session() as session:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued.value, Job.cancel_requested.is_(False))
            .values(status=JobStatus.running.value, worker=me, attempts=Job.attempts + 1, started_at=now,
                    heartbeat_at=now, finished_at=None, progress=0.0, stage=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        job = session.get(Job, job_id)
        if job is None:
            log.warning("job %s does not exist (deleted with its memo?)", job_id)
            return "skipped"
        if not claimed:
            return "skipped"
        kind = jobs.kind_of(job)
    try:
        with database.session() as session:
            job = session.get(Job, job_id)
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
                     getattr(queue, "stopping", None))
    try:
        try:
            finish = kind.run(ctx)
        finally:
            beat.stop()
        ctx.check()
        with database.session() as session:
            if not _settle(session, job_id, me, status=JobStatus.done.value, progress=1.0, error=None,
                           finished_at=utcnow(), heartbeat_at=utcnow()):
                raise JobLost()
            if finish is not None:
                finish(session)
        return JobStatus.done.value
    except JobLost:
        log.warning("job %s was taken over by another worker; this run stops", job_id)
        return "skipped"
    except JobCancelled:
        with database.session() as session:
            if _settle(session, job_id, me, status=JobStatus.cancelled.value, finished_at=utcnow()):
                kind.cancelled(session, session.get(Job, job_id))
        return JobStatus.cancelled.value
    except (JobInterrupted, KeyboardInterrupt):
        # Shutting down: back to the queue now, rather than waiting for the heartbeat to go stale.
        with database.session() as session:
            if _settle(session, job_id, me, status=JobStatus.queued.value, worker=None, run_at=utcnow(),
                       attempts=Job.attempts - 1):
                jobs._send_after_commit(session, job_id, queue=queue)
        return JobStatus.queued.value
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
        return _failed(database, job_id, me, exc, options, kind, queue)


def _failed(database: Database, job_id: int, me: str, exc: Exception, options: jobs.JobOptions,
            kind: jobs.JobKind, queue: huey.Huey | None) -> str:
    with database.session() as session:
        job = session.get(Job, job_id)
        reason, transient = describe(exc, job.attempts)
        if transient and job.attempts < options.max_attempts:
            delay = min(options.max_backoff_s, options.backoff_s * 2 ** (job.attempts - 1))
            log.warning("job %s: attempt %s failed (%s); again in %.1f s", job_id, job.attempts, reason, delay)
            run_at = utcnow() + dt.timedelta(seconds=delay)
            if _settle(session, job_id, me, status=JobStatus.queued.value, worker=None, run_at=run_at,
                       error=f"Attempt {job.attempts} failed, retrying: {reason}"):
                jobs._send_after_commit(session, job_id, run_at, queue)
            return JobStatus.queued.value
        log.error("job %s failed: %s", job_id, reason, exc_info=exc)
        if _settle(session, job_id, me, status=JobStatus.failed.value, error=reason, finished_at=utcnow()):
            session.refresh(job)
            kind.failed(session, job, reason)
        return JobStatus.failed.value


# --- consumers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerOptions:
    # Must match the queue name the API enqueues on (tests use one per test on a shared Redis).
    queue_name: str = jobs.DEFAULT_QUEUE_NAME
    # Retries, heartbeat, staleness.
    jobs: jobs.JobOptions = field(default_factory=jobs.JobOptions)
    # "thread" or "process"; None: threads for one worker, processes for more (two 1-thread
    # processes transcribe faster than one 2-thread process here, see TESTING.md).
    worker_type: str | None = None
    # How often this worker looks for dead workers' jobs (it also does at start).
    recover_every_s: float = 15.0
    # Load the transcription model when the worker starts, not when the first memo arrives.
    preload_model: bool = True


class _InProcessConsumer(Consumer):
    def _set_signal_handlers(self) -> None:
        pass  # the API server owns the signals; stop through WorkerHandle.stop()


def _consumer(settings: Settings, workers: int, options: WorkerOptions, in_process: bool) -> Consumer:
    queue = jobs.make_queue(settings, options.queue_name, options.jobs)
    jobs.use_queue(queue)
    if options.preload_model:
        queue.on_startup("preload_model")(lambda: _preload_model(settings))
    worker_type = options.worker_type or ("thread" if workers <= 1 or in_process else "process")
    consumer_class = _InProcessConsumer if in_process else Consumer
    consumer = consumer_class(queue, workers=workers, worker_type=worker_type, periodic=False,
                              max_delay=1.0, shutdown_timeout=30.0)
    queue.stopping = consumer.stop_flag  # running jobs go back to the queue when it is set
    return consumer


def _preload_model(settings: Settings) -> None:
    """Load the engine once in this worker process (the module caches it)."""
    from dictation.transcribe import TranscribeOptions, load_engine

    try:
        load_engine(TranscribeOptions.from_settings(settings))
    except DictationError as exc:
        log.error("transcription model not loaded: %s", exc.message)


def _recover(settings: Settings, queue: huey.Huey) -> None:
    try:
        with jobs.database_for(settings).session() as session:
            recover_stale_jobs(session, queue=queue)
    except Exception:  # noqa: BLE001 - the database may be briefly away; next round
        log.warning("recovery round failed", exc_info=True)


def _supervise(consumer: Consumer, settings: Settings, options: WorkerOptions, stop_event) -> None:
    """The consumer's main loop (worker health checks) with a recovery round now and then."""
    next_recovery = 0.0
    health = time.monotonic()
    while True:
        if stop_event is not None and stop_event.is_set():
            consumer.stop(graceful=True)
            return
        if time.monotonic() >= next_recovery:
            _recover(settings, consumer.huey)
            next_recovery = time.monotonic() + options.recover_every_s
        try:
            health = consumer.loop(health)
        except ConsumerStopped:
            return


def run_worker(settings: Settings, workers: int = 1, stop_event: threading.Event | None = None,
               options: WorkerOptions | None = None) -> None:
    """Run `workers` workers until SIGINT/SIGTERM (or `stop_event`), as `dictation worker` does."""
    options = options or WorkerOptions()
    consumer = _consumer(settings, max(1, workers), options, in_process=threading.current_thread()
                         is not threading.main_thread())
    log.info("worker started: %s %s worker(s) on queue %r", workers, consumer.worker_type, options.queue_name)
    consumer.start()
    try:
        _supervise(consumer, settings, options, stop_event)
        # Even on a fast stop, give running jobs a moment to put themselves back in the queue.
        deadline = time.monotonic() + 10
        for _, worker in consumer.worker_threads:
            worker.join(max(0.0, deadline - time.monotonic()))
    finally:
        log.info("worker stopped")


@dataclass
class WorkerHandle:
    """The in-process worker of `dictation serve`; `stop()` when the server stops."""

    consumer: Consumer
    thread: threading.Thread
    stop_event: threading.Event

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float = 35.0) -> None:
        """Running jobs go back to the queue at their next progress report; waits for that."""
        self.stop_event.set()  # the supervisor stops the consumer gracefully
        self.thread.join(timeout)


def start_in_process_worker(settings: Settings, workers: int | None = None,
                            options: WorkerOptions | None = None) -> WorkerHandle | None:
    """Worker threads beside the API (`settings.workers` of them; None when that is 0)."""
    workers = settings.workers if workers is None else workers
    if workers <= 0:
        return None
    options = options or WorkerOptions()
    consumer = _consumer(settings, workers, options, in_process=True)
    consumer.start()
    stop_event = threading.Event()
    thread = threading.Thread(target=_supervise, args=(consumer, settings, options, stop_event),
                              name="dictation-worker", daemon=True)
    thread.start()
    return WorkerHandle(consumer, thread, stop_event)
