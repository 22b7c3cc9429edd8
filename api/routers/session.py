"""Browser sign-in: a signed, HttpOnly, SameSite cookie and the CSRF token that goes with it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import (
    SESSION_COOKIE,
    CallerDep,
    CookiesDep,
    SessionDep,
    SettingsDep,
    client_address,
    cookie_is_secure,
    set_session_cookie,
)
from api.errors import errors_doc
from api.schemas import LoginIn, SessionOut, UserOut
from dictation import accounts
from dictation.errors import InvalidInput, NotAuthenticated

router = APIRouter(prefix="/session", tags=["session"])

_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginIn.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {
                        "email": {"type": "string"},
                        "password": {"type": "string"},
                        "next": {"type": "string", "description": "A path on this site to go to (303)."},
                    },
                }
            },
        },
    }
}


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: "//evil.example" or "https://…" would make an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.post(
    "", response_model=SessionOut, openapi_extra=_LOGIN_BODY, responses=errors_doc(401, 422, 429),
    summary="Sign in (JSON or a form); sets the session cookie and returns the CSRF token",
)
async def sign_in(request: Request, session: SessionDep, settings: SettingsDep, cookies: CookiesDep) -> Response:
    is_form = request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    try:
        raw = dict(await request.form()) if is_form else await request.json()
        login = LoginIn.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        raise InvalidInput("Send an e-mail address and a password.") from exc
    throttle: accounts.SignInThrottle = request.app.state.sign_in_throttle
    keys = (login.email, client_address(request))
    throttle.check(*keys)
    user = await run_in_threadpool(accounts.authenticate, session, login.email, login.password)
    if user is None:
        throttle.failed(*keys)
        raise NotAuthenticated("The e-mail address or the password is wrong.")
    throttle.succeeded(*keys)
    value = cookies.issue(user)
    target = _safe_next(raw.get("next")) if is_form else None
    if target:
        response: Response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    else:
        body = SessionOut(user=UserOut.of(user), csrf_token=cookies.csrf_token(value))
        response = JSONResponse(body.model_dump(mode="json"))
    set_session_cookie(response, settings, value)
    return response


@router.get("", response_model=SessionOut, responses=errors_doc(401), summary="Who is signed in, and the CSRF token")
def whoami(caller: CallerDep, cookies: CookiesDep) -> SessionOut:
    token = cookies.csrf_token(caller.cookie) if caller.cookie else ""
    return SessionOut(user=UserOut.of(caller.user), csrf_token=token)


@router.delete("", status_code=204, responses=errors_doc(401, 403), summary="Sign out of this browser")
def sign_out(caller: CallerDep, settings: SettingsDep) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_is_secure(settings)
    )
    return response


@router.post("/everywhere", status_code=204, responses=errors_doc(401, 403), summary="Sign out of every browser")
def sign_out_everywhere(caller: CallerDep, session: SessionDep, settings: SettingsDep) -> Response:
    user = session.merge(caller.user)
    user.session_epoch += 1
    return sign_out(caller, settings)
