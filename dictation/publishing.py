"""Publication jobs: a reviewed draft becomes a post on a destination, now or at a set time,
and never twice.

The remote id is written in its own transaction the moment the CMS answers, before the job
reports success; before a create that may reach the CMS, `Publication.maybe_created` is set,
so a run after a crash or an unanswered request looks the post up instead of creating it again.
A scheduled publication is a queued job with `run_at`: it survives restarts because the job
row does, and recovery sends it again should the queue have lost it.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

import huey
from sqlalchemy import select
from sqlalchemy.orm import Session

from dictation import destinations, jobs, workflow
from dictation.compose import slugify
from dictation.db import utcnow
from dictation.errors import Conflict, Forbidden, NotFound, TransitionRefused
from dictation.models import Draft, Job, JobStatus, Memo, Publication, Role, State, User
from dictation.publish import Post, RetryPolicy, get_publisher, publish_with_retries
from dictation.settings import Settings

# States from which a draft may go out; `published` means "publish again" (an update).
PUBLISHABLE = frozenset({State.ready, State.in_review, State.approved, State.published, State.failed})


def request_publication(
    session: Session,
    draft: Draft,
    destination: str | int | None,
    actor: User,
    publish_at: dt.datetime | None = None,
    queue: huey.Huey | None = None,
) -> Publication:
    """Queue the draft for `destination` (name, id, or None for the default) at `publish_at`."""
    if Role(actor.role) not in (Role.assistant, Role.admin):
        raise Forbidden("Only assistants and admins publish drafts.")
    memo = draft.memo
    state = State(memo.status)
    if state not in PUBLISHABLE:
        raise TransitionRefused(
            f"This draft is {state.value.replace('_', ' ')}; it can be published once it is ready, "
            "in review, approved or already published.", state=state.value)
    if state is State.failed and _last_job_kind(session, memo) != jobs.PUBLISH:
        raise TransitionRefused("This memo failed before its draft was ready; retry its transcription first.")
    if jobs.active_job(session, memo) is not None:
        raise Conflict("This draft is already being published or processed.", memo_id=memo.id)
    target = destinations.get_destination(session, destination)
    publication = session.scalar(
        select(Publication).where(Publication.draft_id == draft.id, Publication.destination_id == target.id))
    if publication is None:
        publication = Publication(draft_id=draft.id, destination_id=target.id)
        session.add(publication)
    now = utcnow()
    when = publish_at if publish_at is not None and publish_at > now else None
    publication.status, publication.publish_at, publication.error = "scheduled", when, None
    session.flush()
    detail = f"to {target.name}" + (f" at {when.isoformat(timespec='minutes')}" if when else "")
    workflow.system(session, memo, State.scheduled, detail, actor=actor, action="schedule" if when else "publish")
    job = Job(kind=jobs.PUBLISH, memo_id=memo.id, publication_id=publication.id,
              status=JobStatus.queued.value, run_at=when or now)
    session.add(job)
    session.flush()
    jobs._send_after_commit(session, job.id, eta=when, queue=queue)
    return publication


def retry_publication(session: Session, memo: Memo, actor: User, queue: huey.Huey | None = None) -> Publication:
    """Publish again where the last publication failed."""
    publication = session.scalar(
        select(Publication).join(Draft, Draft.id == Publication.draft_id)
        .where(Draft.memo_id == memo.id, Publication.status == "failed")
        .order_by(Publication.updated_at.desc()).limit(1))
    if publication is None or memo.draft is None:
        raise NotFound("There is no failed publication to retry for this memo.")
    return request_publication(session, memo.draft, publication.destination_id, actor, queue=queue)


def _last_job_kind(session: Session, memo: Memo) -> str | None:
    job = jobs.latest_job(session, memo)
    return job.kind if job is not None else None


def post_for(session: Session, settings: Settings, publication: Publication) -> Post:
    """What the CMS receives for this draft, as it is now."""
    from dictation.storage import MediaStore

    draft = session.get(Draft, publication.draft_id)
    memo = draft.memo
    title = draft.title or memo.title or "Untitled memo"
    audio_path = None
    if publication.destination.options.get("attach_audio") and memo.playback_sha256:
        audio_path = MediaStore(settings.media_dir).path(memo.playback_sha256)
    language = (memo.transcript or {}).get("language") or (memo.language if memo.language != "auto" else "en")
    return Post(
        draft_id=publication.marker,  # unique across installations, unlike the draft id
        title=title,
        slug=slugify(draft.slug or title) or f"memo-{memo.id}",
        body_markdown=draft.body_markdown,
        excerpt=draft.excerpt,
        tags=tuple(draft.tags or ()),
        status="publish",
        audio_path=audio_path,
        audio_mime="audio/webm",
        author_name=memo.author.name or memo.author.email,
        language=language,
    )


# --- the job kind ------------------------------------------------------------------------


def _publication(session: Session, job: Job) -> Publication:
    publication = session.get(Publication, job.publication_id) if job.publication_id else None
    if publication is None:
        raise TransitionRefused("The publication was removed before it ran.")
    return publication


def _started(session: Session, job: Job) -> None:
    publication = _publication(session, job)
    memo = session.get(Memo, job.memo_id)
    if memo.status not in (State.scheduled.value, State.publishing.value):
        raise TransitionRefused(f"The memo is {memo.status} now; the publication was withdrawn.")
    workflow.system(session, memo, State.publishing, f"to {publication.destination.name}, attempt {job.attempts}")
    publication.status = "publishing"
    publication.attempts += 1


def _run(ctx) -> functools.partial:
    settings: Settings = ctx.settings
    with ctx.database.session() as session:
        publication = session.get(Publication, ctx.publication_id)
        post = post_for(session, settings, publication)
        config = destinations.to_config(publication.destination, settings)
        known_remote_id, maybe_created = publication.remote_id, publication.maybe_created
        if not known_remote_id:
            # From here an attempt may reach the CMS: a later run must look before creating.
            publication.maybe_created = True
    ctx.stage("publish")
    publisher = get_publisher(config, settings)

    def sleep(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.check()  # a cancel or a shutdown need not wait for the backoff
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    policy = RetryPolicy(attempts=settings.publish_max_attempts, base_delay_s=settings.publish_backoff_s)
    outcome = publish_with_retries(publisher, post, known_remote_id, policy, sleep=sleep,
                                   ambiguous_before=maybe_created)
    with ctx.database.session() as session:  # stored before the job reports success
        publication = session.get(Publication, ctx.publication_id)
        publication.remote_id, publication.remote_url = outcome.remote.remote_id, outcome.remote.url
        publication.maybe_created = False
    ctx.progress(1.0)
    return functools.partial(_finish, publication_id=ctx.publication_id, settings=settings)


def _finish(session: Session, publication_id: int, settings: Settings) -> None:
    from dictation.notify import Mailer

    publication = session.get(Publication, publication_id)
    draft = session.get(Draft, publication.draft_id)
    publication.status, publication.error = "published", None
    publication.published_version = draft.version
    workflow.system(session, draft.memo, State.published,
                    f"on {publication.destination.name}: {publication.remote_url or publication.remote_id}")
    Mailer(settings).published(draft.memo.author.email, draft.title, publication.remote_url or "",
                               publication.destination.name)


def _failed(session: Session, job: Job, reason: str) -> None:
    publication = session.get(Publication, job.publication_id)
    memo = session.get(Memo, job.memo_id)
    if publication is not None:
        publication.status, publication.error = "failed", reason
        where = publication.destination.name
    else:
        where = "the destination"
    if memo is not None and memo.status in (State.scheduled.value, State.publishing.value):
        workflow.system(session, memo, State.failed, f"Publishing to {where} failed: {reason}")


def _cancelled(session: Session, job: Job) -> None:
    publication = session.get(Publication, job.publication_id)
    memo = session.get(Memo, job.memo_id)
    if publication is not None:
        publication.status = "cancelled"
    if memo is not None and memo.status == State.scheduled.value:
        workflow.system(session, memo, State.ready, "publication cancelled", action="unschedule")
    elif memo is not None and memo.status == State.publishing.value:
        # It may have reached the CMS already: failed (retryable) says so honestly.
        workflow.system(session, memo, State.failed, "Publishing was cancelled while under way.")


jobs.register_kind(jobs.PUBLISH, jobs.JobKind(run=_run, started=_started, failed=_failed, cancelled=_cancelled))


def unpublish(session: Session, settings: Settings, publication: Publication) -> None:
    """Take the post down on its destination; the publication and its remote id stay on record."""
    if not publication.remote_id:
        raise NotFound("This draft was never published there.")
    get_publisher(destinations.to_config(publication.destination, settings), settings).unpublish(
        publication.remote_id)
    publication.status = "unpublished"


def describe(publication: Publication) -> dict:
    return {
        "id": publication.id,
        "draft_id": publication.draft_id,
        "destination": publication.destination.name,
        "status": publication.status,
        "publish_at": publication.publish_at.isoformat() if publication.publish_at else None,
        "remote_id": publication.remote_id,
        "remote_url": publication.remote_url,
        "error": publication.error,
        "attempts": publication.attempts,
        "published_version": publication.published_version,
    }
