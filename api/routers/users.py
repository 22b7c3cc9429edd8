"""Accounts: everyone reads their own; admins create, list, change roles and deactivate."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import (
    AdminUser,
    CallerDep,
    CookiesDep,
    CurrentUser,
    SessionDep,
    SettingsDep,
    set_session_cookie,
)
from api.errors import errors_doc
from api.schemas import Id, PasswordChange, SessionOut, UserIn, UserOut, UserPatch
from dictation import accounts
from dictation.accounts import users
from dictation.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, responses=errors_doc(401), summary="Your account")
def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)


@router.post(
    "/me/password", response_model=SessionOut, responses=errors_doc(401, 403, 422),
    summary="Change your password; every other browser is signed out",
)
def change_password(
    request: Request, body: PasswordChange, caller: CallerDep, session: SessionDep, cookies: CookiesDep,
    settings: SettingsDep,
) -> JSONResponse:
    user = caller.user
    accounts.change_password(session, user, body.current_password, body.new_password)
    # This browser stays signed in with a fresh cookie (and so a fresh CSRF token).
    value = cookies.issue(session, user, request.headers.get("user-agent")) if caller.via == "session" else None
    out = SessionOut(user=UserOut.of(user), csrf_token=cookies.csrf_token(value) if value else "")
    response = JSONResponse(out.model_dump(mode="json"))
    if value:
        set_session_cookie(response, settings, value)
    return response


class BrowserSessionOut(BaseModel):
    id: int
    user_agent: str  # as the browser named itself when signing in
    created_at: dt.datetime
    last_seen_at: dt.datetime  # to the minute
    current: bool  # the session this request came with


@router.get(
    "/me/sessions", response_model=list[BrowserSessionOut], responses=errors_doc(401),
    summary="The browsers you are signed in on",
)
def my_sessions(caller: CallerDep, session: SessionDep, cookies: CookiesDep) -> list[BrowserSessionOut]:
    this = cookies.row(session, caller.cookie) if caller.cookie else None
    return [
        BrowserSessionOut(id=row.id, user_agent=row.user_agent, created_at=row.created_at,
                          last_seen_at=row.last_seen_at, current=this is not None and row.id == this.id)
        for row in accounts.list_sessions(session, caller.user)
    ]


@router.delete(
    "/me/sessions/{session_id}", status_code=204, responses=errors_doc(401, 403, 404),
    summary="Sign one of your browsers out",
)
def end_my_session(session_id: Id, caller: CallerDep, session: SessionDep) -> Response:
    accounts.end_session(session, caller.user, session_id)
    return Response(status_code=204)


@router.get("", response_model=list[UserOut], responses=errors_doc(401, 403), summary="All accounts (admin)")
def list_users(admin: AdminUser, session: SessionDep) -> list[UserOut]:
    return [UserOut.of(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=errors_doc(401, 403, 409, 422),
    summary="Create an account (admin)",
)
def create_user(body: UserIn, admin: AdminUser, session: SessionDep) -> UserOut:
    user = accounts.create_user(session, body.email, body.role, body.password, body.name, body.language)
    return UserOut.of(user)


@router.get("/{user_id}", response_model=UserOut, responses=errors_doc(401, 403, 404), summary="One account (admin)")
def get_user(user_id: Id, admin: AdminUser, session: SessionDep) -> UserOut:
    return UserOut.of(users.get_user(session, user_id))


@router.patch(
    "/{user_id}", response_model=UserOut, responses=errors_doc(401, 403, 404, 409, 422),
    summary="Change role, name, password or language, or deactivate (admin)",
)
def update_user(user_id: Id, body: UserPatch, admin: AdminUser, session: SessionDep) -> UserOut:
    user = users.get_user(session, user_id)
    changes = users.UserChanges(
        role=body.role, name=body.name, language=body.language, password=body.password, is_active=body.is_active
    )
    users.update_user(session, user, changes)
    return UserOut.of(user)
