"""Publishing a draft: queued, retried, never twice; and taking a post down again. Also what
goes with it: the check before a first publication, the low-confidence words looked at, and
the post's featured image."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import CurrentUser, QueueDep, SessionDep, SettingsDep, StaffUser
from api.errors import errors_doc
from api.schemas import DraftOut, Id
from dictation import workflow
from dictation.errors import NotFound
from dictation.memos import images
from dictation.memos.drafts import visible_draft
from dictation.models import Publication
from dictation.publish import check, destinations
from dictation.publish import service as publishing
from dictation.storage import MediaStore

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


class UncheckedWord(BaseModel):
    index: int = Field(description="The word's place in the transcript (as POST .../looked-at takes it)")
    word: str
    start: float = Field(description="Seconds into the memo")


class PublishCheckOut(BaseModel):
    destination: str
    kind: str
    title: str
    slug: str
    url: str | None = Field(description="Where the post will be; null where only the CMS decides (WordPress, Ghost)")
    excerpt: str
    tags: list[str]
    featured_image: bool
    low_words: int = Field(description="Words the transcription was unsure of (probability under 0.5)")
    unchecked_low_words: int = Field(description="Of those, the ones nobody clicked in the transcript to hear")
    unchecked: list[UncheckedWord] = Field(description="The first 20 of them")
    first_publication: bool = Field(description="Nothing of this draft was published yet: the desk asks to check")
    live_differs: bool = Field(description="A post is live and the text that would go out now differs from it")


class LookedAtIn(BaseModel):
    words: list[int] = Field(max_length=1000, description="Indexes of low-confidence words someone clicked to hear")


class LookedAtOut(BaseModel):
    looked_at: list[int]
    unchecked_low_words: int


@router.get("/{draft_id}/publish-check", response_model=PublishCheckOut, responses=errors_doc(401, 403, 404),
            summary="What a publication would put out: title, address, excerpt, unchecked words")
def publish_check(draft_id: Id, user: StaffUser, session: SessionDep, settings: SettingsDep,
                  destination: str | None = None) -> PublishCheckOut:
    draft = visible_draft(session, user, draft_id)
    found = check.publish_check(session, settings, draft, destination)
    return PublishCheckOut(**{**found.__dict__, "unchecked": [UncheckedWord(**w) for w in found.unchecked]})


@router.post("/{draft_id}/looked-at", response_model=LookedAtOut, responses=errors_doc(401, 403, 404, 422),
             summary="Note low-confidence words as looked at (clicked in the transcript to hear them)")
def looked_at(draft_id: Id, body: LookedAtIn, user: StaffUser, session: SessionDep) -> LookedAtOut:
    draft = visible_draft(session, user, draft_id)
    seen = check.record_looked_at(session, user, draft, body.words)
    low = check.low_word_indexes(draft.memo.transcript)
    return LookedAtOut(looked_at=seen, unchecked_low_words=len(set(low) - set(seen)))


@router.put("/{draft_id}/featured-image", response_model=DraftOut, responses=errors_doc(401, 403, 404, 409, 413, 415),
            summary="Set the post's featured image: the raw bytes of a JPEG, PNG, GIF or WebP file")
async def put_featured_image(draft_id: Id, request: Request, user: StaffUser, session: SessionDep,
                             settings: SettingsDep) -> DraftOut:
    draft = visible_draft(session, user, draft_id)
    data, mime = await images.read_image(request.stream(), settings)
    images.set_featured_image(session, settings, user, draft, data, mime)
    return DraftOut.of(draft, workflow.allowed_actions(draft.memo, draft, user))


@router.delete("/{draft_id}/featured-image", response_model=DraftOut, responses=errors_doc(401, 403, 404, 409),
               summary="Remove the post's featured image (the live post keeps it until updated)")
def delete_featured_image(draft_id: Id, user: StaffUser, session: SessionDep) -> DraftOut:
    draft = visible_draft(session, user, draft_id)
    images.remove_featured_image(session, user, draft)
    return DraftOut.of(draft, workflow.allowed_actions(draft.memo, draft, user))


@router.get("/{draft_id}/featured-image", responses={200: {"content": {"image/*": {}}}, **errors_doc(401, 404)},
            summary="The post's featured image")
def get_featured_image(draft_id: Id, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    draft = visible_draft(session, user, draft_id)
    if not draft.featured_image_sha256:
        raise NotFound("This draft has no featured image.")
    path = MediaStore.from_settings(settings).path(draft.featured_image_sha256)
    return FileResponse(path, media_type=draft.featured_image_mime or "application/octet-stream",
                        headers={"Cache-Control": "private, no-cache"})
