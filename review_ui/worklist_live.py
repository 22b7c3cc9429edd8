"""The worklist's live part: what its script polls every 0.7 s (short polling, not
server-sent events: a plain GET survives proxies, sleeping laptops and server
restarts with no reconnect logic, and costs a few aggregate queries while nothing changes).

The ETag is `dictation.memos.worklist.stamp` (plus the page's language): while it is the one
the page already shows, the answer is an empty 304 and no list is loaded or rendered."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dictation.memos import worklist as work
from dictation.models import State
from review_ui import worklist as worklist_model
from review_ui.context import current_user, is_staff, language_for, render

router = APIRouter(include_in_schema=False)
POLL_HEADERS = {"Cache-Control": "private, no-cache"}


def live_tag(session, request: Request, user) -> str:
    return f'"{work.stamp(session, user)}-{language_for(request, user)}"'


@router.get("/worklist/live")
def worklist_live(request: Request) -> Response:
    """The counts, the total and the lanes of the worklist page for the same query string."""
    with request.app.state.database.session() as session:
        user = current_user(request, session)
        if user is None or not is_staff(user):
            return Response(status_code=401)
        # The stamp before the list: a change that lands in between is sent on the next poll.
        tag = live_tag(session, request, user)
        asked = [value.strip().removeprefix("W/") for value in request.headers.get("if-none-match", "").split(",")]
        if tag in asked:
            return Response(status_code=304, headers={"ETag": tag, **POLL_HEADERS})
        wanted = worklist_model.WorklistFilter.from_query(request.query_params)
        found = worklist_model.load(session, user, wanted)
        response = render(request, "_worklist_live.html", user, work=found, wanted=wanted, states=list(State))
        response.headers["ETag"] = tag
        return response
