"""Kinds of job: what each does, and the registry the runner looks them up in.

Kinds are registered explicitly at start-up (`dictation.startup.register_job_kinds`), never by
importing a module for its side effects: the jobs package knows nothing of memos or publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dictation.errors import InvalidInput
from dictation.jobs.context import JobContext
from dictation.models import Job


@dataclass(frozen=True)
class JobKind:
    # Does the work outside any transaction (reporting through the context); returns what to
    # write in the job's final transaction, which runs only if this worker still owns the job.
    run: Callable[[JobContext], Callable[[Session], None] | None]
    # The job was claimed: move the memo (or publication) into its working state, or raise
    # TransitionRefused when there is nothing to do any more (the job is then cancelled).
    started: Callable[[Session, Job], None]
    # The job failed for good: record the sentence for a person.
    failed: Callable[[Session, Job, str], None]
    # The job was cancelled at someone's request.
    cancelled: Callable[[Session, Job], None]
    # Why a cancel comes too late (what the job did is out in the world: a post on the CMS), as
    # its stored state says, or None. A cancel is then refused, and a run stopped by a dying or
    # stopping worker is queued again to finish rather than cancelled.
    too_late_to_cancel: Callable[[Session, Job], str | None] = lambda _session, _job: None


KINDS: dict[str, JobKind] = {}


def register_kind(name: str, kind: JobKind) -> None:
    """Plug in a kind of job; `dictation.startup.register_job_kinds` registers the built-in ones."""
    KINDS[name] = kind


def kind_of(job: Job) -> JobKind:
    try:
        return KINDS[job.kind]
    except KeyError:
        raise InvalidInput(f"No worker here knows how to run a {job.kind!r} job.") from None
