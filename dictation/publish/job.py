"""The publish job: what the worker runs for a publication.

The remote id is written in its own transaction the moment the CMS answers, before the job
reports success; before a create that may reach the CMS, `Publication.maybe_created` is set,
so a run after a crash or an unanswered request looks the post up instead of creating it again.
`KIND` is registered with the job runner at start-up as the "publish" kind.
"""

from __future__ import annotations

import functools
import logging
import time

from sqlalchemy.orm import Session

from dictation import workflow
from dictation.errors import PublishError, TransitionRefused
from dictation.jobs import JobContext, JobKind
from dictation.learning import service as learning
from dictation.models import Draft, Job, Memo, Publication, PublicationStatus, State
from dictation.notify import Mailer
from dictation.publish import destinations
from dictation.publish.cms import get_publisher
from dictation.publish.idempotent import RetryPolicy, publish_with_retries
from dictation.publish.service import post_for, published_text, published_version
from dictation.settings import Settings
from dictation.telemetry import metrics

log = logging.getLogger("dictation.publish")
POSTED = "posted"  # the stage shown once the CMS has the post and its id is stored


def _publication(session: Session, job: Job) -> Publication:
    publication = session.get(Publication, job.publication_id) if job.publication_id else None
    if publication is None:
        raise TransitionRefused("The publication was removed before it ran.")
    return publication


def _started(session: Session, job: Job) -> None:
    publication = _publication(session, job)
    memo = session.get_one(Memo, job.memo_id)
    if memo.status not in (State.scheduled.value, State.publishing.value):
        raise TransitionRefused(f"The memo is {memo.status} now; the publication was withdrawn.")
    workflow.system(session, memo, State.publishing, f"to {publication.destination.name}, attempt {job.attempts}")
    publication.status = PublicationStatus.publishing.value
    publication.attempts += 1


def _run(ctx: JobContext) -> functools.partial[None]:
    settings: Settings = ctx.settings
    with ctx.database.session() as session:
        publication = session.get_one(Publication, ctx.publication_id)
        publication_id = publication.id
        post = post_for(session, settings, publication)
        config = destinations.to_config(publication.destination, settings)
        known_remote_id, maybe_created = publication.remote_id, publication.maybe_created
        if not known_remote_id:
            # From here an attempt may reach the CMS: a later run must look before creating.
            publication.maybe_created = True
    ctx.stage("publish")

    retries = 0

    def sleep(seconds: float) -> None:
        nonlocal retries
        retries += 1  # called once between two attempts: counts the failed ones
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.check()  # a cancel or a shutdown need not wait for the backoff
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    policy = RetryPolicy(attempts=settings.publish_max_attempts, base_delay_s=settings.publish_backoff_s)
    publisher = get_publisher(config, settings)
    try:
        outcome = publish_with_retries(publisher, post, known_remote_id, policy, sleep=sleep,
                                       ambiguous_before=maybe_created)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        # An HTML error page, a proxy's login form, JSON of another shape: say so plainly
        # (the answer itself may hold anything, so it goes to the log, never to the memo).
        metrics.publish_tried(config.name, attempts=retries + 1, failures=retries + 1)
        log.warning("%s answered in an unexpected form: %r", config.name, exc)
        raise PublishError(
            f"{config.name} answered in a form its API does not use (not the JSON expected); "
            "an admin should check that the destination's address is the CMS's own.",
            transient=False,
        ) from exc
    except Exception:
        metrics.publish_tried(config.name, attempts=retries + 1, failures=retries + 1)
        raise
    finally:
        publisher.close()  # its HTTP client's connections, whatever the outcome
    metrics.publish_tried(config.name, attempts=outcome.attempts, failures=len(outcome.errors))
    with ctx.database.session() as session:  # stored before the job reports success
        publication = session.get_one(Publication, publication_id)
        publication.remote_id, publication.remote_url = outcome.remote.remote_id, outcome.remote.url
        publication.maybe_created = False
        ctx.done_in_the_world(session)  # with the remote id: a cancel now would call the post failed
    ctx.stage(POSTED)
    mined = _corrections(ctx, publication_id)
    ctx.progress(1.0)
    return functools.partial(_finish, publication_id=publication_id, settings=settings, mined=mined)


def _corrections(ctx: JobContext, publication_id: int) -> learning.Mined | None:
    """What the assistant corrected, found before the job's finishing transaction: aligning a
    long memo takes seconds of CPU, and inside that transaction it would hold SQLite's writer
    lock (and the memo's row on PostgreSQL) as long. A fault here must not turn the publication
    into a failure: the post is out (it is logged, and nothing is learned)."""
    try:
        with ctx.database.session() as session:
            draft = session.get_one(Draft, session.get_one(Publication, publication_id).draft_id)
            markdown = published_text(session, draft).body_markdown
            heard = learning.heard(draft)
        return learning.find(heard, markdown) if heard is not None else None
    except Exception:
        log.exception("Could not find the corrections of publication %s", publication_id)
        return None


def _finish(session: Session, publication_id: int, settings: Settings, mined: learning.Mined | None) -> None:
    publication = session.get_one(Publication, publication_id)
    draft = session.get_one(Draft, publication.draft_id)
    publication.status, publication.error = PublicationStatus.published.value, None
    publication.published_version = published_version(draft)
    workflow.system(session, draft.memo, State.published,
                    f"on {publication.destination.name}: {publication.remote_url or publication.remote_id}")
    _learn(session, draft, mined)
    Mailer(settings).published(draft.memo.author.email, draft.title, publication.remote_url or "",
                               publication.destination.name)


def _learn(session: Session, draft: Draft, mined: learning.Mined | None) -> None:
    """What the assistant corrected teaches the next transcriptions. In a savepoint: the post
    is out, and a fault here must not turn its publication into a failure (it is logged)."""
    if mined is None:
        return
    try:
        with session.begin_nested():
            learning.store(session, draft, mined)
    except Exception:
        log.exception("Could not learn from the corrections of memo %s", draft.memo_id)


def _failed(session: Session, job: Job, reason: str) -> None:
    publication = session.get(Publication, job.publication_id)
    memo = session.get(Memo, job.memo_id)
    if publication is not None:
        publication.status, publication.error = PublicationStatus.failed.value, reason
        where = publication.destination.name
    else:
        where = "the destination"
    if memo is not None and memo.status in (State.scheduled.value, State.publishing.value):
        workflow.system(session, memo, State.failed, f"Publishing to {where} failed: {reason}")


def _cancelled(session: Session, job: Job) -> None:
    publication = session.get(Publication, job.publication_id)
    memo = session.get(Memo, job.memo_id)
    if publication is not None:
        publication.status = PublicationStatus.cancelled.value
    if memo is not None and memo.status == State.scheduled.value:
        workflow.system(session, memo, State.ready, "publication cancelled", action="unschedule")
    elif memo is not None and memo.status == State.publishing.value:
        # It may have reached the CMS already: failed (retryable) says so honestly.
        workflow.system(session, memo, State.failed, "Publishing was cancelled while under way.")


def _too_late_to_cancel(session: Session, job: Job) -> str | None:
    if not job.cancel_too_late:
        return None
    publication = session.get(Publication, job.publication_id) if job.publication_id else None
    where = publication.destination.name if publication is not None else "the destination"
    return (f"The post is already on {where}: it is too late to cancel its publication. "
            "Once it is finished, unpublish it there or edit the draft and publish again.")


KIND = JobKind(run=_run, started=_started, failed=_failed, cancelled=_cancelled,
               too_late_to_cancel=_too_late_to_cancel)
