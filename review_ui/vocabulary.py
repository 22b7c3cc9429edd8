"""The Vocabulary page: what the desk learned from published drafts, for assistants and admins
to accept (for everyone or one author) or reject. Decisions go through the JSON API
(/api/v1/vocabulary) from vocabulary.js, so its checks are the only ones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dictation.learning import service as learning
from review_ui.context import current_user, is_staff, render, to_login

router = APIRouter(include_in_schema=False)


@router.get("/vocabulary")
def vocabulary_page(request: Request) -> Response:
    with request.app.state.database.session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        if not is_staff(user):
            return render(request, "error.html", user, status_code=403, status=403, message_key="error.staff_only")
        return render(request, "vocabulary.html", user, proposals=learning.proposals(session),
                      decisions=learning.decisions(session))
