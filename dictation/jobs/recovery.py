"""Recovery: find the jobs of workers that died (stale heartbeat, or a process of this machine
that is gone) and run them again, and send again queued jobs that no queue holds.

A worker names itself `host:pid:token:nonce`. The token is new in each process, the nonce in
each claim: a job whose worker is a process of this machine that no longer exists (or an
earlier life of this very pid) is run again at once; on other machines, when its heartbeat
goes stale. Either way the original worker, if it lives after all, finds the job no longer
carries its name at its next heartbeat and stops without writing anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket

import huey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation.db import rows_changed, utcnow
from dictation.jobs.kinds import kind_of
from dictation.jobs.options import JobOptions
from dictation.jobs.queue import queued_job_ids, send_after_commit
from dictation.models import Job, JobStatus

log = logging.getLogger(__name__)


# --- who is working ---------------------------------------------------------------------

_token: tuple[int, str] = (0, "")


def _process_token() -> str:
    global _token
    if _token[0] != os.getpid():  # a forked child is a new worker process
        _token = (os.getpid(), secrets.token_hex(4))
    return _token[1]


def new_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_process_token()}:{secrets.token_hex(4)}"


def worker_is_dead(name: str | None) -> bool:
    """True only when we can tell for sure: the worker was a process of this machine that is
    gone (or a zombie), or an earlier life of our own pid. Otherwise the heartbeat decides."""
    try:
        host, pid_text, token, _ = (name or "").rsplit(":", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    if pid == os.getpid():
        return token != _process_token()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


# --- recovery ------------------------------------------------------------------------------


def recover_stale_jobs(session: Session, stale_after_s: float | None = None,
                       *, queue: huey.Huey) -> list[int]:
    """Run again the jobs of dead workers, and send again queued jobs that no queue holds.

    A running job is dead when its heartbeat is older than `stale_after_s`, or at once when its
    worker process on this machine is gone. Past `max_attempts` runs it fails (a memo that
    kills its worker every time must not loop forever). Returns the ids enqueued again; they
    are sent when `session` commits.
    """
    options: JobOptions = getattr(queue, "job_options", None) or JobOptions()
    stale_after_s = options.stale_after_s if stale_after_s is None else stale_after_s
    now = utcnow()
    stale_before = now - dt.timedelta(seconds=stale_after_s)
    sent: list[int] = []
    for job in session.scalars(select(Job).where(Job.status == JobStatus.running.value)).all():
        if not (job.heartbeat_at is None or job.heartbeat_at < stale_before or worker_is_dead(job.worker)):
            continue
        owner = job.worker
        if job.cancel_requested and kind_of(job).too_late_to_cancel(session, job) is None:
            if _take_over(session, job, owner, JobStatus.cancelled):
                kind_of(job).cancelled(session, job)
        elif job.attempts >= options.max_attempts:
            reason = (f"The worker stopped {job.attempts} times while processing this memo "
                      "(it may be too long or damaged for this server).")
            if _take_over(session, job, owner, JobStatus.failed, reason):
                kind_of(job).failed(session, job, reason)
        elif _take_over(session, job, owner, JobStatus.queued):
            log.warning("job %s of dead worker %s queued again", job.id, owner)
            send_after_commit(session, job.id, queue)
            sent.append(job.id)

    lost_before = now - dt.timedelta(seconds=options.lost_after_s)
    waiting = session.scalars(
        select(Job).where(Job.status == JobStatus.queued.value, Job.created_at < lost_before)
    ).all()
    waiting = [job for job in waiting if job.run_at is None or job.run_at < lost_before]
    if waiting:
        in_queue = queued_job_ids(queue)
        for job in waiting:
            if job.id not in in_queue:
                log.warning("queued job %s was in no queue; sending it again", job.id)
                send_after_commit(session, job.id, queue)
                sent.append(job.id)
    return sent


def _take_over(session: Session, job: Job, owner: str | None, status: JobStatus, error: str | None = None) -> bool:
    """Move a dead worker's job, unless another worker's recovery did first."""
    values: dict[str, object] = dict(status=status.value, worker=None)
    if status is JobStatus.queued:
        values["run_at"] = utcnow()
    else:
        values.update(finished_at=utcnow(), error=error)
    owned = Job.worker.is_(None) if owner is None else Job.worker == owner
    done = rows_changed(session.execute(
        update(Job).where(Job.id == job.id, Job.status == JobStatus.running.value, owned)
        .values(**values).execution_options(synchronize_session=False)
    ))
    if done:
        session.refresh(job)
    return bool(done)
