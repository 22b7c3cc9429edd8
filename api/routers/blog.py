"""The built-in blog at /blog/, rendered by the publisher that writes it."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from dictation.publish.cms.blog import Blog, render_blog_path

router = APIRouter(tags=["blog"], include_in_schema=False)


@router.get("/blog")
def blog_root() -> RedirectResponse:
    return RedirectResponse("/blog/", status_code=308)


@router.get("/blog/{path:path}")
def blog_page(path: str, request: Request) -> Response:
    settings = request.app.state.settings
    if path.startswith("media/"):
        # FileResponse answers Range requests, so the post's audio can be seeked.
        name = path.removeprefix("media/")
        # Only a plain file name reaches the disk: no folder, and no name too long for it.
        if re.fullmatch(r"[\w.-]{1,200}", name) and not name.startswith("."):
            media = Blog(settings).media_dir / name
            if media.is_file():
                return FileResponse(media)
    status, content_type, body = render_blog_path(path, settings)
    if status == 404 and (moved := Blog(settings).moved_to(path)):
        return RedirectResponse(moved, status_code=301)  # a post whose slug was changed after publication
    return Response(body, status_code=status, media_type=content_type)
