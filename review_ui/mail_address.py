"""The personal memo address on the Tokens page: making one shows it once, like an API token
(only its hash is kept); making another retires the first. The rule lives in
dictation.mailin.senders, which the mail receiver checks against."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dictation.mailin.senders import memo_address, new_secret_address
from review_ui.context import check_csrf, current_user, render, to_login

router = APIRouter(include_in_schema=False)


@router.post("/tokens/mail-address")
def make_mail_address(request: Request, csrf_token: str = Form("")) -> Response:
    settings = request.app.state.settings
    with request.app.state.database.session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        if not check_csrf(request, csrf_token):
            return render(request, "error.html", user, status_code=403, status=403, message_key="error.csrf")
        address = new_secret_address(session, settings, user)
        answer = render(request, "mail_address.html", user, address=address, desk_address=memo_address(settings),
                        secret_only=settings.mail_in_secret_only)
    # Shown once: no browser or proxy may keep a copy of this page.
    answer.headers["Cache-Control"] = "no-store"
    return answer
