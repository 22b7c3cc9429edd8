"""How jobs are retried, kept alive and recovered."""

from __future__ import annotations

from dataclasses import dataclass


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
