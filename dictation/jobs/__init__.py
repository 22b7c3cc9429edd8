"""The job queue: Huey carries only a job id; the `jobs` table is the truth.

Progress, errors, attempts, cancellation and recovery live in the database, so that any worker on
any machine sharing the database, media and queue can pick a job up, and a worker killed mid-job
is noticed (its heartbeat stops, or its process is gone) and the job runs again. A message
delivered twice is harmless: a worker first *claims* the job with a conditional UPDATE, and only
the claimant writes results.

Modules import one way: `options` ← `context` ← `kinds` ← `queue` ← `recovery` ← `runner` ←
`consumer`. What a job does is a `JobKind`, registered at start-up by the features that own it.
"""

from dictation.jobs.consumer import (
    WorkerHandle,
    WorkerOptions,
    run_worker,
    start_in_process_worker,
)
from dictation.jobs.context import JobContext
from dictation.jobs.kinds import JobKind, kind_of, register_kind
from dictation.jobs.options import JobOptions
from dictation.jobs.queue import (
    DEFAULT_QUEUE_NAME,
    active_job,
    cancel,
    database_for,
    dispose_databases,
    latest_job,
    queued_job_ids,
    send_after_commit,
)
from dictation.jobs.recovery import recover_stale_jobs, worker_is_dead
from dictation.jobs.runner import make_queue, run_job

__all__ = [
    "DEFAULT_QUEUE_NAME", "JobContext", "JobKind", "JobOptions", "WorkerHandle", "WorkerOptions", "active_job",
    "cancel", "database_for", "dispose_databases", "kind_of", "latest_job", "make_queue", "queued_job_ids",
    "recover_stale_jobs", "register_kind", "run_job", "run_worker", "send_after_commit",
    "start_in_process_worker", "worker_is_dead",
]
