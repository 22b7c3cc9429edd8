"""What a running job holds: its heartbeat (progress, stage, cancellation, loss of ownership,
written from a thread) and the typed context a job kind's `run` receives."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation.db import Database, rows_changed, utcnow
from dictation.jobs.options import JobOptions
from dictation.models import Job, JobStatus, Memo
from dictation.settings import Settings

log = logging.getLogger(__name__)


class StopFlag(Protocol):
    """The consumer's stop flag (a threading.Event or huey's own)."""

    def is_set(self) -> bool: ...


class JobCancelled(Exception):
    """Someone asked to cancel the job."""


class JobLost(Exception):
    """Recovery gave the job to another worker: this one must write nothing more."""


class JobInterrupted(Exception):
    """The worker is shutting down: the job goes back to the queue."""


class Heartbeat(threading.Thread):
    """Writes the job's heartbeat and progress from one thread, so the transcription never waits
    on the database, and notices cancel requests and a lost claim."""

    def __init__(self, database: Database, job: Job, worker: str, options: JobOptions) -> None:
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
        values: dict[str, Any] = {}
        if progress is not None:
            values["progress"] = progress
        if stage is not None:
            values["stage"] = stage
        try:
            with self.database.session() as session:
                if values or beat_due:
                    owned = rows_changed(session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.worker == self.worker,
                               Job.status == JobStatus.running.value)
                        .values(heartbeat_at=utcnow(), **values)
                        .execution_options(synchronize_session=False)
                    ))
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
    stopping: StopFlag | None = None  # set when the worker shuts down: the job goes back to the queue
    progress_value: float = field(default=0.0)
    too_late_to_cancel: bool = field(default=False)

    def done_in_the_world(self, session: Session) -> None:
        """From here what the job did is out of the desk's hands (a post on the CMS): a cancel
        asked now comes too late, and honouring it would call done work failed. Written in
        `session`, the transaction that records the work, so a cancel, a recovery and the job's
        next run know it too. A lost claim or a stopping worker still stop the job (its next run
        finds the work done)."""
        session.execute(update(Job).where(Job.id == self.job_id).values(cancel_too_late=True))
        self.too_late_to_cancel = True

    def check(self) -> None:
        """Raise if the job was cancelled, taken over, or the worker is stopping."""
        if self.heartbeat.lost.is_set():
            raise JobLost()
        if self.heartbeat.cancelled.is_set() and not self.too_late_to_cancel:
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
