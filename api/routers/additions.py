"""Additions to a memo: the author records a follow-up that is joined onto the memo and whose
text is appended to the draft (the rules are in `dictation.memos.additions`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import (
    CSRF_FIELD,
    CSRF_HEADER,
    Caller,
    CookiesDep,
    CurrentUser,
    DatabaseDep,
    QueueDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    check_csrf,
    current_caller_deferred_csrf,
)
from api.errors import errors_doc
from api.schemas import API, Id
from api.upload import MEDIA_TYPES, receive_upload, sniff_audio
from dictation.memos import additions, intake
from dictation.memos.manage import visible_memo
from dictation.models import MemoAddition
from dictation.workflow import messages

router = APIRouter(prefix="/memos", tags=["memos"])


class AdditionOut(BaseModel):
    id: int
    memo_id: int
    status: str  # queued, running, done (in the draft), failed (error says why), cancelled
    offset_s: float | None  # where the added part starts in the joined recording, once done
    duration_s: float | None
    error: str | None
    created_at: dt.datetime
    duplicate: bool = False  # these bytes were added before: this is the earlier addition
    kept: list[str] = []  # of a duplicate: "note" when the note sent with it became a comment

    @classmethod
    def of(cls, added: MemoAddition, duplicate: bool = False, kept: tuple[str, ...] = ()) -> AdditionOut:
        return cls(id=added.id, memo_id=added.memo_id, status=added.status, offset_s=added.offset_s,
                   duration_s=added.duration_s, error=added.error, created_at=added.created_at,
                   duplicate=duplicate, kept=list(kept))


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "The follow-up recording."},
                "note": {"type": "string", "description": "For the assistant (a comment on the draft)."},
                "csrf_token": {"type": "string", "description": "Browser forms only."},
            },
        }}},
    }
}


@router.post(
    "/{memo_id}/additions", status_code=202, response_model=AdditionOut, openapi_extra=_BODY,
    responses={200: {"model": AdditionOut, "description": "The same key or bytes again: the first addition."},
               **errors_doc(401, 403, 404, 409, 413, 415, 422)},
    summary="Add a recording to a memo (its author): joined on, only the new part transcribed and appended",
)
async def add_to_memo(
    memo_id: Id,
    request: Request,
    caller: Annotated[Caller, Depends(current_caller_deferred_csrf)],
    database: DatabaseDep,
    store: StoreDep,
    settings: SettingsDep,
    cookies: CookiesDep,
    queue: QueueDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    header_csrf = request.headers.get(CSRF_HEADER)
    if header_csrf is not None:
        check_csrf(cookies, caller, header_csrf)
    language = messages.preferred_language(caller.user.language, accept_language)

    def may_add() -> None:  # before the body travels: a refusal costs the phone no upload
        with database.session() as session:
            additions.check(session, visible_memo(session, caller.user, memo_id), caller.user, language,
                            running=False)

    await run_in_threadpool(may_add)
    upload = await receive_upload(request, store, settings.max_upload_mb * 1024 * 1024, sniff_audio)
    try:
        if header_csrf is None:
            check_csrf(cookies, caller, upload.fields.get(CSRF_FIELD))
    except BaseException:
        await run_in_threadpool(intake.forget_unreferenced, database, store, upload.stored.sha256)
        raise
    recording = intake.Recording(
        stored=upload.stored, media_type=MEDIA_TYPES.get(upload.audio_kind, "application/octet-stream"),
        filename=upload.filename,
    )
    key = idempotency_key.strip() if idempotency_key and idempotency_key.strip() else None
    receipt = await run_in_threadpool(
        additions.receive_addition, database, store, queue, caller.user, memo_id, recording, upload.fields, key,
        settings.max_memo_minutes * 60, language,
    )
    body = AdditionOut.of(receipt.added, receipt.duplicate, receipt.kept).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if receipt.created else 200,
                        headers={"Location": f"{API}/memos/{memo_id}/additions"})


@router.get("/{memo_id}/additions", response_model=list[AdditionOut], responses=errors_doc(401, 404),
            summary="What was added to a memo, oldest first")
def list_additions(memo_id: Id, user: CurrentUser, session: SessionDep) -> list[AdditionOut]:
    memo = visible_memo(session, user, memo_id)
    return [AdditionOut.of(a) for a in additions.list_additions(session, memo)]
