"""Publishing: a reviewed draft becomes a post on a destination, now or at a set time,
and never twice. This module is what people ask for; `job` is what the worker runs.

The remote id is written in its own transaction the moment the CMS answers, before the job
reports success; before a create that may reach the CMS, `Publication.maybe_created` is set,
so a run after a crash or an unanswered request looks the post up instead of creating it again.
A scheduled publication is a queued job with `run_at`: it survives restarts because the job
row does, and recovery sends it again should the queue have lost it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import closing
from typing import Any

import huey
from sqlalchemy import select
from sqlalchemy.orm import Session

from dictation import workflow
from dictation.compose import slugify
from dictation.db import utcnow
from dictation.errors import Conflict, Forbidden, NotFound, TransitionRefused
from dictation.jobs import active_job, latest_job, send_after_commit
from dictation.models import (
    AuditEntry,
    Draft,
    DraftRevision,
    Job,
    JobStatus,
    Memo,
    Publication,
    PublicationStatus,
    Role,
    State,
    User,
)
from dictation.publish import destinations
from dictation.publish.cms import Post, get_publisher
from dictation.publish.cms.render import check_markdown
from dictation.settings import Settings
from dictation.storage import MediaStore
from dictation.workflow import messages

PUBLISH = "publish"

# States from which a draft may go out; `published` means "publish again" (an update).
PUBLISHABLE = frozenset({State.ready, State.in_review, State.approved, State.published, State.failed})


def request_publication(
    session: Session,
    draft: Draft,
    destination: str | int | None,
    actor: User,
    publish_at: dt.datetime | None = None,
    *,
    queue: huey.Huey,
) -> Publication:
    """Queue the draft for `destination` (name, id, or None for the default) at `publish_at`."""
    if Role(actor.role) not in (Role.assistant, Role.admin):
        raise messages.refused(Forbidden, "publish_staff_only")
    if Role(actor.role) is not Role.admin and draft.assignee_id not in (None, actor.id):
        # The claim lock, as for every other move on a claimed draft (DESIGN: only the claim
        # holder, or an admin, publishes).
        holder = draft.assignee
        raise messages.refused(TransitionRefused, "publish_claimed",
                               holder=(holder.name or holder.email) if holder is not None else None)
    memo = draft.memo
    state = State(memo.status)
    refusal = publishable_refusal(memo)
    if refusal is not None:
        raise refusal
    if state in (State.ready, State.in_review) and draft.approved_version is None and _signoff_asked(session, memo):
        # Once the author has been asked, only the text they sign goes out (an edit after
        # their sign-off sent the draft back here).
        workflow.refuse("signoff_needed", state=state.value)
    if state is State.failed and _last_job_kind(session, memo) != PUBLISH:
        raise messages.refused(TransitionRefused, "failed_before_ready")
    if active_job(session, memo) is not None:
        raise messages.refused(Conflict, "already_publishing", memo_id=memo.id)
    # Markdown past the rendering's bounds is refused here, in a sentence, not by the job
    # (whose renderer refuses it too, at the same bounded cost).
    check_markdown(published_text(session, draft).body_markdown)
    target = destinations.get_destination(session, destination)
    publication = session.scalar(
        select(Publication).where(Publication.draft_id == draft.id, Publication.destination_id == target.id))
    if publication is None:
        publication = Publication(draft_id=draft.id, destination_id=target.id)
        session.add(publication)
    now = utcnow()
    when = publish_at if publish_at is not None and publish_at > now else None
    publication.status, publication.publish_at, publication.error = PublicationStatus.scheduled.value, when, None
    session.flush()
    detail = f"to {target.name}" + (f" at {when.isoformat(timespec='minutes')}" if when else "")
    workflow.system(session, memo, State.scheduled, detail, actor=actor, action="schedule" if when else "publish")
    job = Job(kind=PUBLISH, memo_id=memo.id, publication_id=publication.id,
              status=JobStatus.queued.value, run_at=when or now)
    session.add(job)
    session.flush()
    send_after_commit(session, job.id, queue, eta=when)
    return publication


def publishable_refusal(memo: Memo) -> TransitionRefused | None:
    """Why the memo's draft cannot go out in the memo's state, or None when it can: the refusal
    `request_publication` raises, which the desk's publish panel words in the page's language."""
    state = State(memo.status)
    if state not in PUBLISHABLE:
        return messages.refused(TransitionRefused, "not_publishable", state=state.value)
    return None


def retry_publication(session: Session, memo: Memo, actor: User, *, queue: huey.Huey) -> Publication:
    """Publish again where the last publication failed."""
    publication = session.scalar(
        select(Publication).join(Draft, Draft.id == Publication.draft_id)
        .where(Draft.memo_id == memo.id, Publication.status == PublicationStatus.failed)
        .order_by(Publication.updated_at.desc()).limit(1))
    if publication is None or memo.draft is None:
        raise NotFound("There is no failed publication to retry for this memo.")
    return request_publication(session, memo.draft, publication.destination_id, actor, queue=queue)


def _signoff_asked(session: Session, memo: Memo) -> bool:
    asked = session.scalar(select(AuditEntry.id).where(
        AuditEntry.memo_id == memo.id, AuditEntry.action == "submit_for_approval").limit(1))
    return asked is not None


def why_not_deletable(session: Session, memo: Memo) -> str | None:
    """Why this memo may not be deleted (its post is or may be public), or None when it may.

    Once its posts are taken down (unpublished) everywhere, the memo and its audio can go.
    """
    if State(memo.status) is State.publishing:
        return "This memo is being published; archive it instead of deleting it."
    rows = list(session.scalars(select(Publication).where(
        Publication.draft_id == (memo.draft.id if memo.draft else -1), Publication.remote_id.is_not(None))))
    # A failed update leaves the earlier post up: only "unpublished" means taken down.
    live = [row.destination.name for row in rows if row.status != PublicationStatus.unpublished.value]
    if live:
        return (f"This memo's post is live on {', '.join(live)}; unpublish it before deleting the memo, "
                "or archive it instead.")
    if State(memo.status) is State.published and not rows:
        return "This memo has been published; archive it instead of deleting it."
    return None


def live_url(publications: Iterable[Publication]) -> str | None:
    """The post's address on the first of these publications that has it live."""
    return next((p.remote_url for p in publications if p.status == PublicationStatus.published and p.remote_url),
                None)


def published_url(memo: Memo) -> str | None:
    """The memo's post's address on the first destination that has it live, or None (what the
    API's memo record, the worklist and the phone page link to)."""
    draft = memo.draft
    return live_url(draft.publications if draft is not None else ())


def published_version(draft: Draft) -> int:
    """The version a publication sends: the signed-off one where the author signed."""
    return draft.approved_version if draft.approved_version is not None else draft.version


def published_text(session: Session, draft: Draft) -> Draft | DraftRevision:
    """The text a publication sends: exactly what the author signed, whatever was saved since."""
    if published_version(draft) == draft.version:
        return draft
    return session.scalars(select(DraftRevision).where(
        DraftRevision.draft_id == draft.id, DraftRevision.version == published_version(draft))).one()


def _last_job_kind(session: Session, memo: Memo) -> str | None:
    job = latest_job(session, memo)
    return job.kind if job is not None else None


def post_for(session: Session, settings: Settings, publication: Publication) -> Post:
    """What the CMS receives for this draft, as it is now."""

    draft = session.get_one(Draft, publication.draft_id)
    memo = draft.memo
    text = published_text(session, draft)
    title = text.title or memo.title or "Untitled memo"
    audio_path = image_path = None
    if publication.destination.options.get("attach_audio") and memo.playback_sha256:
        audio_path = MediaStore(settings.media_dir).path(memo.playback_sha256)
    if draft.featured_image_sha256:
        image_path = MediaStore(settings.media_dir).path(draft.featured_image_sha256)
    language = (memo.transcript or {}).get("language") or (memo.language if memo.language != "auto" else "en")
    return Post(
        draft_id=publication.marker,  # unique across installations, unlike the draft id
        title=title,
        slug=slugify(text.slug or title) or f"memo-{memo.id}",
        body_markdown=text.body_markdown,
        excerpt=text.excerpt,
        tags=tuple(text.tags or ()),
        status="publish",
        audio_path=audio_path,
        audio_mime="audio/webm",
        featured_image_path=image_path,
        featured_image_mime=draft.featured_image_mime or "",
        author_name=memo.author.name or memo.author.email,
        language=language,
    )


# --- the job kind ------------------------------------------------------------------------


def unpublish(session: Session, settings: Settings, publication: Publication) -> None:
    """Take the post down on its destination; the publication and its remote id stay on record."""
    if not publication.remote_id:
        raise NotFound("This draft was never published there.")
    with closing(get_publisher(destinations.to_config(publication.destination, settings), settings)) as publisher:
        publisher.unpublish(publication.remote_id)
    publication.status = PublicationStatus.unpublished.value


def describe(publication: Publication) -> dict[str, Any]:
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
