"""The account page: the browsers this person is signed in on, each of which they can sign
out, and "sign out everywhere". The list comes from the same service as the API's
/users/me/sessions; ending one goes through that API from account.js."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SESSION_COOKIE
from dictation import accounts
from review_ui.context import current_user, render, to_login

router = APIRouter(include_in_schema=False)


@router.get("/account")
def account_page(request: Request) -> Response:
    with request.app.state.database.session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        this = request.app.state.cookies.row(session, request.cookies.get(SESSION_COOKIE) or "")
        return render(request, "account.html", user, sessions=accounts.list_sessions(session, user),
                      this_id=this.id if this is not None else None)
