"""The admin's storage page: what the media store and the database hold, the free space left,
and what the retention policy (DICTATION_RETAIN_*_DAYS) has removed so far."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dictation.ops.retention import storage_usage
from review_ui.context import current_user, is_admin, render, to_login

router = APIRouter(prefix="/admin", include_in_schema=False)


def human_size(size: int | None) -> str:
    if size is None:
        return "–"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


@router.get("/storage")
async def storage_page(request: Request) -> Response:
    database = request.app.state.database
    with database.session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        if not is_admin(user):
            return render(request, "error.html", user, status_code=403, status=403, message_key="error.admin_only")
    # Walking the media store may take a moment on a big install: off the event loop.
    usage = await run_in_threadpool(storage_usage, database, request.app.state.store)
    settings = request.app.state.settings
    policy = {"audio": settings.retain_audio_days, "playback": settings.retain_playback_days,
              "transcript": settings.retain_transcript_days}
    return render(request, "admin_storage.html", user, usage=usage, size=human_size, policy=policy)
