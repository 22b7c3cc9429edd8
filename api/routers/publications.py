"""Publishing a draft: queued, retried, never twice; and taking a post down again."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import CurrentUser, QueueDep, SessionDep, SettingsDep, StaffUser
from api.errors import errors_doc
from api.schemas import Id
from dictation.errors import NotFound
from dictation.memos.drafts import visible_draft
from dictation.models import Publication
from dictation.publish import destinations
from dictation.publish import service as publishing

router = APIRouter(prefix="/drafts", tags=["publishing"])


class PublishIn(BaseModel):
    destination: str | int | None = Field(None, description="Destination name or id; the default when absent.")
    publish_at: dt.datetime | None = Field(None, description="When to publish (ISO 8601); now when absent.")


class UnpublishIn(BaseModel):
    destination: str | int | None = Field(None, description="Destination name or id; the default when absent.")


class PublicationOut(BaseModel):
    id: int
    draft_id: int
    destination: str
    status: str = Field(description="scheduled, publishing, published, failed, cancelled or unpublished")
    publish_at: dt.datetime | None
    remote_id: str | None
    remote_url: str | None = Field(description="The post's address on the destination, once published")
    error: str | None
    attempts: int
    published_version: int | None


@router.post("/{draft_id}/publish", status_code=202, response_model=PublicationOut,
             responses=errors_doc(401, 403, 404, 409), summary="Queue the draft for publication (now or at publish_at)")
def publish_draft(draft_id: Id, body: PublishIn, user: StaffUser, session: SessionDep,
                  queue: QueueDep) -> PublicationOut:
    draft = visible_draft(session, user, draft_id)
    publish_at = body.publish_at
    if publish_at is not None and publish_at.tzinfo is None:
        publish_at = publish_at.replace(tzinfo=dt.UTC)  # a time without a zone is taken as UTC
    publication = publishing.request_publication(session, draft, body.destination, user, publish_at, queue=queue)
    return PublicationOut(**publishing.describe(publication))


@router.get("/{draft_id}/publications", response_model=list[PublicationOut], responses=errors_doc(401, 404),
            summary="Where this draft went, with each post's address")
def list_publications(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[PublicationOut]:
    draft = visible_draft(session, user, draft_id)
    rows = session.scalars(select(Publication).where(Publication.draft_id == draft.id).order_by(Publication.id))
    return [PublicationOut(**publishing.describe(row)) for row in rows]


@router.post("/{draft_id}/unpublish", response_model=PublicationOut, responses=errors_doc(401, 403, 404, 502),
             summary="Take the post down on a destination (the record stays)")
def unpublish_draft(draft_id: Id, body: UnpublishIn, user: StaffUser, session: SessionDep,
                    settings: SettingsDep) -> PublicationOut:
    draft = visible_draft(session, user, draft_id)
    target = destinations.get_destination(session, body.destination)
    publication = session.scalar(select(Publication).where(Publication.draft_id == draft.id,
                                                           Publication.destination_id == target.id))
    if publication is None:
        raise NotFound(f"This draft was never published on {target.name}.")
    publishing.unpublish(session, settings, publication)
    return PublicationOut(**publishing.describe(publication))
