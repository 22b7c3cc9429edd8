"""Drafts: read with an ETag, save with If-Match (no edit is ever lost), every version kept,
workflow transitions, and the comment thread. The rules are in `dictation.memos.drafts`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Response
from fastapi.responses import JSONResponse

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.drafts_http import draft_answer, draft_out, etag, if_match_version, stale_with_current, version_of
from api.errors import errors_doc
from api.schemas import (
    CommentIn,
    CommentOut,
    DraftOut,
    DraftPatch,
    Id,
    RevisionOut,
    TransitionIn,
    TransitionOut,
)
from dictation.memos import drafts, revisions
from dictation.memos.drafts import visible_draft
from dictation.models import State
from dictation.notify import Mailer
from dictation.workflow import messages

router = APIRouter(prefix="/drafts", tags=["drafts"])


@router.get(
    "/{draft_id}", response_model=DraftOut, responses={304: {"description": "Not modified"}, **errors_doc(401, 404)},
    summary="A draft, with its version as the ETag",
)
def get_draft(
    draft_id: Id, user: CurrentUser, session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    if if_none_match and etag(draft) in [v.strip().removeprefix("W/") for v in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag(draft)})
    return draft_answer(draft, user)


@router.patch(
    "/{draft_id}", response_model=DraftOut, responses=errors_doc(401, 403, 404, 409, 412, 422, 428),
    summary="Save a draft; needs If-Match with the ETag you read",
)
def save_draft(
    draft_id: Id, body: DraftPatch, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    if_match: Annotated[str | None, Header(description='The ETag from GET, e.g. "3".')] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    version = if_match_version(draft, if_match)
    burst = dt.timedelta(minutes=settings.revision_burst_minutes)
    with stale_with_current(session, user, draft_id):
        changes = body.model_dump(exclude_unset=True, exclude={"automatic"})
        saved = drafts.save_draft(session, user, draft, version, changes,
                                  messages.preferred_language(user.language, accept_language), body.automatic,
                                  burst=burst)
    return draft_answer(saved, user)


@router.get(
    "/{draft_id}/revisions",
    response_model=list[RevisionOut],
    responses=errors_doc(401, 404),
    summary="Every saved version, newest first",
)
def list_revisions(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[RevisionOut]:
    draft = visible_draft(session, user, draft_id)
    return [RevisionOut.of(r) for r in drafts.revisions(session, draft)]


@router.post(
    "/{draft_id}/revisions/{version}/restore", response_model=DraftOut,
    responses=errors_doc(401, 403, 404, 409, 412, 422, 428),
    summary="Restore an earlier version: a new version with its title and text; needs If-Match",
)
def restore_revision(
    draft_id: Id, version: Id, user: CurrentUser, session: SessionDep,
    if_match: Annotated[str | None, Header(description='The ETag of the current draft, e.g. "7".')] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    base = if_match_version(draft, if_match)
    with stale_with_current(session, user, draft_id):
        saved = revisions.restore(session, user, draft, base, version,
                                  messages.preferred_language(user.language, accept_language))
    return draft_answer(saved, user)


@router.post(
    "/{draft_id}/transitions", response_model=TransitionOut, responses=errors_doc(401, 404, 409, 422),
    summary="Claim, release, send for sign-off, withdraw it, sign off, request changes, archive (409 says why not)",
)
def transition(draft_id: Id, body: TransitionIn, user: CurrentUser, session: SessionDep,
               settings: SettingsDep, background: BackgroundTasks,
               accept_language: Annotated[str | None, Header()] = None,
               if_match: Annotated[str | None, Header(
                   description='For a sign-off: the ETag of the draft the author read; refused if it changed since.',
               )] = None) -> Response:
    draft = visible_draft(session, user, draft_id)
    # The review desk shows a refusal in a toast: in the page's language (the person's setting,
    # else Accept-Language), English by default; `reason` stays for programs.
    language = messages.preferred_language(user.language, accept_language)
    version = version_of(if_match) if if_match else None
    entry = drafts.transition(session, user, draft, body.action, body.comment, body.to_user_id, language, version)
    if entry.to_state == State.awaiting_approval:
        # After the response: a slow mail server must not hold the assistant's click.
        author = draft.memo.author
        background.add_task(Mailer(settings).signoff_requested, author.email, draft.title,
                            user.name or user.email, f"/phone/memos/{draft.memo_id}")
    out = TransitionOut(
        action=entry.action, from_state=entry.from_state, to_state=entry.to_state, draft=draft_out(draft, user)
    )
    return JSONResponse(out.model_dump(mode="json"), headers={"ETag": etag(draft)})


@router.get(
    "/{draft_id}/comments",
    response_model=list[CommentOut],
    responses=errors_doc(401, 404),
    summary="The conversation, oldest first",
)
def list_comments(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[CommentOut]:
    draft = visible_draft(session, user, draft_id)
    return [CommentOut.of(c) for c in drafts.comments(session, draft)]


@router.post(
    "/{draft_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=errors_doc(401, 404, 422),
    summary="Add a comment",
)
def add_comment(draft_id: Id, body: CommentIn, user: CurrentUser, session: SessionDep) -> CommentOut:
    draft = visible_draft(session, user, draft_id)
    return CommentOut.of(drafts.add_comment(session, user, draft, body.body))
