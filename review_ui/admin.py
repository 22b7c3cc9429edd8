"""The admin pages: destinations, users, and one user's API tokens. Each page is rendered
from the tables; what it changes goes through the JSON API (/api/v1/destinations, users,
tokens) from admin.js, with the session cookie and the page's CSRF token, so the checks behind
the API (admin only; in dictation's services the last admin, the default destination, the
built-in blog) are the only ones."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from api.schemas import Id
from dictation import accounts
from dictation.models import ApiToken, User
from dictation.publish import destinations
from review_ui.context import current_user, is_admin, render, to_login
from review_ui.i18n import LANGUAGES

router = APIRouter(prefix="/admin", include_in_schema=False)

# Kinds an admin can add: the built-in blog exists once, from the start.
KINDS = ("wordpress", "ghost", "micropub", "webhook")
ROLES = ("author", "assistant", "admin")


@dataclass(frozen=True)
class DestinationRow:
    """One line of the destinations table: never the secret, only whether one is set."""

    id: int
    name: str
    kind: str
    url: str | None
    user: str | None
    has_secret: bool
    default: bool
    attach_audio: bool


def _database(request: Request):
    return request.app.state.database


def _admin_or_answer(request: Request, session) -> tuple[User | None, Response | None]:
    """The signed-in admin, or the answer for anyone else: sign-in for strangers, the
    403 page for the signed-in who are not admins."""
    user = current_user(request, session)
    if user is None:
        return None, to_login(request)
    if not is_admin(user):
        return user, render(request, "error.html", user, status_code=403, status=403,
                            message_key="error.admin_only")
    return user, None


@router.get("")
def admin_home(request: Request) -> Response:
    return RedirectResponse("/admin/destinations", status_code=303)


@router.get("/destinations")
def destinations_page(request: Request) -> Response:
    with _database(request).session() as session:
        user, refused = _admin_or_answer(request, session)
        if refused:
            return refused
        rows = [
            DestinationRow(**destinations.describe(row), attach_audio=bool((row.options or {}).get("attach_audio")))
            for row in destinations.list_destinations(session)
        ]
        return render(request, "admin_destinations.html", user, destinations=rows, kinds=KINDS,
                      builtin=destinations.BUILTIN_BLOG)


@router.get("/users")
def users_page(request: Request) -> Response:
    with _database(request).session() as session:
        user, refused = _admin_or_answer(request, session)
        if refused:
            return refused
        people = list(session.scalars(select(User).order_by(User.is_active.desc(), User.email)))
        return render(request, "admin_users.html", user, people=people, roles=ROLES, languages=LANGUAGES)


@router.get("/users/{user_id}/tokens")
def user_tokens_page(request: Request, user_id: Id) -> Response:
    with _database(request).session() as session:
        user, refused = _admin_or_answer(request, session)
        if refused:
            return refused
        person = session.get(User, user_id)
        if person is None:
            return render(request, "error.html", user, status_code=404, status=404, message_key="error.not_found")
        tokens = list(session.scalars(accounts.visible_tokens_query(user).where(ApiToken.user_id == person.id)))
        return render(request, "admin_tokens.html", user, person=person, tokens=tokens)
