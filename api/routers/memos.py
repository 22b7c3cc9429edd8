"""Memos: upload (streamed, sniffed, deduplicated), list, read, audio with Range, retry,
cancel and delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
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
from api.schemas import API, MAX_ID, Id, MemoOut, MemoPage, UploadOut
from api.upload import MEDIA_TYPES, receive_upload, sniff_audio
from dictation import accounts, text
from dictation.errors import NotFound
from dictation.memos import intake, manage
from dictation.memos.manage import visible_memo
from dictation.models import Memo, Priority, State
from dictation.storage import MediaStore

router = APIRouter(prefix="/memos", tags=["memos"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The recording (m4a, mp3, ogg, webm, 3gp, wav, flac).",
                        },
                        "title": {"type": "string", "maxLength": 300},
                        "priority": {"type": "string", "enum": [p.value for p in Priority]},
                        "due_at": {"type": "string", "format": "date-time"},
                        "language": {"type": "string", "description": "auto, en, fr, …"},
                        "note": {"type": "string", "description": "For the assistant."},
                        "csrf_token": {"type": "string", "description": "Browser forms only."},
                    },
                }
            }
        },
    }
}


# --- upload ---------------------------------------------------------------------------


def _memo_answer(memo: Memo, created: bool, duplicate: bool = False, kept: tuple[str, ...] = ()) -> JSONResponse:
    location = f"{API}/memos/{memo.id}"
    headers = {"Location": location}
    if not created and not duplicate:
        headers["Idempotent-Replayed"] = "true"
    body = UploadOut.of(memo, duplicate=duplicate, kept=kept).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200, headers=headers)


@router.post(
    "", status_code=201, response_model=UploadOut, openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"model": UploadOut, "description": "The same Idempotency-Key again: the first memo; the same bytes "
              "under another key: the earlier memo with `duplicate: true`, the new note kept as a comment."},
        **errors_doc(401, 403, 413, 415, 422),
    },
    summary="Upload a memo (multipart, streamed); 201 with its Location",
)
async def upload_memo(
    request: Request,
    caller: Annotated[Caller, Depends(current_caller_deferred_csrf)],
    database: DatabaseDep,
    store: StoreDep,
    settings: SettingsDep,
    cookies: CookiesDep,
    queue: QueueDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    header_csrf = request.headers.get(CSRF_HEADER)
    if header_csrf is not None:
        check_csrf(cookies, caller, header_csrf)
    key = idempotency_key.strip() if idempotency_key and idempotency_key.strip() else None
    if key is not None:
        found = await run_in_threadpool(intake.find_by_key, database, caller.user, key)
        if found is not None:
            return _memo_answer(found, created=False)
    upload = await receive_upload(request, store, settings.max_upload_mb * 1024 * 1024, sniff_audio)
    if header_csrf is None:
        try:
            check_csrf(cookies, caller, upload.fields.get(CSRF_FIELD))
        except BaseException:
            await run_in_threadpool(intake.forget_unreferenced, database, store, upload.stored.sha256)
            raise
    recording = intake.Recording(
        stored=upload.stored, media_type=MEDIA_TYPES.get(upload.audio_kind, "application/octet-stream"),
        filename=upload.filename,
    )
    taken = await run_in_threadpool(
        intake.receive_memo, database, store, queue, caller.user, recording, upload.fields, key,
        max_seconds=settings.max_memo_minutes * 60,
    )
    return _memo_answer(taken.memo, taken.created, taken.duplicate, taken.kept)


# --- reading --------------------------------------------------------------------------


@router.get("", response_model=MemoPage, responses=errors_doc(401, 422), summary="Memos you may see, newest first")
def list_memos(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[list[State] | None, Query(description="One or more states.")] = None,
    author: Annotated[Id | None, Query(description="The author's user id.")] = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> MemoPage:
    query = accounts.visible_memos_query(user)
    if status:
        query = query.where(Memo.status.in_([s.value for s in status]))
    if author is not None:
        query = query.where(Memo.author_id == author)
    if priority is not None:
        query = query.where(Memo.priority == priority.value)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Memo.created_at.desc(), Memo.id.desc()).limit(limit).offset(offset)
                           .options(selectinload(Memo.author), selectinload(Memo.draft)))
    return MemoPage(items=[MemoOut.of(m) for m in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/{memo_id}",
    response_model=MemoOut,
    responses=errors_doc(401, 404),
    summary="One memo: status, progress, error, draft_id",
)
def get_memo(memo_id: Id, user: CurrentUser, session: SessionDep) -> MemoOut:
    return MemoOut.of(visible_memo(session, user, memo_id))


def _file(
    store: MediaStore, sha256: str | None, what: str, media_type: str | None, filename: str | None
) -> FileResponse:
    if not sha256 or not store.exists(sha256):
        raise NotFound(f"The {what} is not available.")
    # FileResponse answers Range requests (206), which the editor's player needs to seek.
    return FileResponse(
        store.path(sha256), media_type=media_type or "application/octet-stream",
        filename=text.file_name(filename),  # the client named it: no path, no line break in a header
        content_disposition_type="inline", headers={"Cache-Control": "private, max-age=3600"},
    )


_AUDIO_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/*": {}}, "description": "The bytes; Range requests answer 206."}
}


@router.get(
    "/{memo_id}/audio",
    response_class=FileResponse,
    responses={**_AUDIO_DOC, **errors_doc(401, 404)},
    summary="The original recording (HTTP Range)",
)
def get_audio(memo_id: Id, user: CurrentUser, session: SessionDep, store: StoreDep) -> FileResponse:
    memo = visible_memo(session, user, memo_id)
    if memo.original_purged_at is not None:
        raise NotFound(f"The original recording was removed on {memo.original_purged_at:%Y-%m-%d} by the "
                       "retention policy (DICTATION_RETAIN_AUDIO_DAYS); the draft stays.")
    return _file(store, memo.media_sha256, "recording", memo.content_type, memo.original_filename)


@router.get(
    "/{memo_id}/playback",
    response_class=FileResponse,
    responses={**_AUDIO_DOC, **errors_doc(401, 404)},
    summary="The copy every browser plays (HTTP Range)",
)
def get_playback(memo_id: Id, user: CurrentUser, session: SessionDep, store: StoreDep) -> FileResponse:
    memo = visible_memo(session, user, memo_id)
    if memo.playback_purged_at is not None:
        raise NotFound(f"The playback copy was removed on {memo.playback_purged_at:%Y-%m-%d} by the "
                       "retention policy (DICTATION_RETAIN_PLAYBACK_DAYS); the draft stays.")
    media_type = None
    if memo.playback_sha256 and store.exists(memo.playback_sha256):
        with store.open(memo.playback_sha256) as handle:
            head = handle.read(4096)
        from dictation import audio

        media_type = MEDIA_TYPES.get(audio.sniff(head) or "", None)
    return _file(store, memo.playback_sha256, "playback copy (it is made during transcription)", media_type, None)


# --- actions --------------------------------------------------------------------------


@router.post(
    "/{memo_id}/retry",
    response_model=MemoOut,
    responses=errors_doc(401, 404, 409),
    summary="Run the memo's failed or cancelled job again (transcription or publication)",
)
def retry_memo(memo_id: Id, user: CurrentUser, session: SessionDep, queue: QueueDep) -> MemoOut:
    return MemoOut.of(manage.retry(session, visible_memo(session, user, memo_id), user, queue=queue))


@router.post(
    "/{memo_id}/cancel",
    response_model=MemoOut,
    responses=errors_doc(401, 404, 409),
    summary="Stop a queued or running transcription",
)
def cancel_memo(memo_id: Id, user: CurrentUser, session: SessionDep) -> MemoOut:
    return MemoOut.of(manage.cancel(session, visible_memo(session, user, memo_id), user))


@router.delete(
    "/{memo_id}",
    status_code=204,
    responses=errors_doc(401, 403, 404, 409),
    summary="Delete a memo before publication (its author or an admin)",
)
def delete_memo(memo_id: Id, user: CurrentUser, database: DatabaseDep, store: StoreDep) -> Response:
    manage.delete_memo(database, store, user, memo_id)
    return Response(status_code=204)
