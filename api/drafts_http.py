"""A draft over HTTP, for every router that answers with one (drafts, vocabulary): its version as
the ETag, If-Match read into the version a write is based on, and a 412 that carries the current
draft so the editor can show both versions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.schemas import DraftOut
from dictation import workflow
from dictation.errors import PreconditionRequired, StaleVersion
from dictation.models import Draft, User


def etag(draft: Draft) -> str:
    return f'"{draft.version}"'


def draft_out(draft: Draft, user: User) -> DraftOut:
    return DraftOut.of(draft, workflow.allowed_actions(draft.memo, draft, user))


def draft_answer(draft: Draft, user: User, status: int = 200) -> JSONResponse:
    """The draft as JSON with its ETag, never cached without asking again."""
    body = draft_out(draft, user).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers={"ETag": etag(draft), "Cache-Control": "no-cache"})


def version_of(if_match: str) -> int | None:
    """The version an If-Match names ("3", W/"3" or 3), or None when it names none."""
    value = if_match.strip()
    value = value.removeprefix("W/")
    value = value.strip('"')
    return int(value) if value.isdigit() else None


def if_match_version(draft: Draft, if_match: str | None) -> int:
    """The version a write is based on (428 without a usable If-Match)."""
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the draft's ETag (from GET) so that nobody's edit is overwritten.",
            version=draft.version,
        )
    version = version_of(if_match)
    if version is None:
        raise PreconditionRequired(f'If-Match must be the draft\'s ETag, like "{draft.version}", not {if_match}.')
    return version


@contextlib.contextmanager
def stale_with_current(session: Session, user: User, draft_id: int) -> Iterator[None]:
    """A 412 carries the current text, so the editor can show both versions."""
    try:
        yield
    except StaleVersion as stale:
        current = session.get_one(Draft, draft_id)
        stale.detail.update(current=draft_out(current, user).model_dump(mode="json"), headers={"ETag": etag(current)})
        raise
