"""Browser sign-in: a signed, HttpOnly, SameSite cookie and the CSRF token that goes with it."""

from __future__ import annotations

from urllib.parse import urlsplit

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
from dictation.errors import Forbidden, InvalidInput, NotAuthenticated
from dictation.settings import Settings

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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def refuse_cross_site(request: Request, settings: Settings) -> None:
    """Login CSRF: a page elsewhere must not sign a visitor into an account of its choosing.
    Browsers say where a request comes from (Sec-Fetch-Site, else Origin); scripts and phones
    send neither and are let through, since they can only sign themselves in."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site.lower() not in ("same-origin", "none"):
            raise CrossSiteSignIn()
        return
    origin = request.headers.get("origin")
    if origin is not None:
        ours = {_origin(settings.public_url), _origin(str(request.base_url))}
        if origin.lower().rstrip("/") not in ours:
            raise CrossSiteSignIn()


class CrossSiteSignIn(Forbidden):
    code = "cross_site_sign_in"

    def __init__(self) -> None:
        super().__init__("Signing in from another site is not allowed; open this site's own sign-in page.")


@router.post(
    "", response_model=SessionOut, openapi_extra=_LOGIN_BODY, responses=errors_doc(401, 403, 422, 429),
    summary="Sign in (JSON or a form); sets the session cookie and returns the CSRF token",
)
async def sign_in(request: Request, session: SessionDep, settings: SettingsDep, cookies: CookiesDep) -> Response:
    refuse_cross_site(request, settings)
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
    value = cookies.issue(session, user, request.headers.get("user-agent"))
    next_field = raw.get("next") if is_form else None
    target = accounts.safe_next(next_field) if isinstance(next_field, str) else None
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
def sign_out(caller: CallerDep, session: SessionDep, settings: SettingsDep, cookies: CookiesDep) -> Response:
    """Ends this browser's session on the server: the cookie is dead even if someone kept a copy."""
    if caller.cookie:
        cookies.end(session, caller.cookie)
    return _forget_cookie(settings)


@router.post("/everywhere", status_code=204, responses=errors_doc(401, 403), summary="Sign out of every browser")
def sign_out_everywhere(caller: CallerDep, session: SessionDep, settings: SettingsDep) -> Response:
    accounts.end_all_sessions(session, caller.user)
    return _forget_cookie(settings)


def _forget_cookie(settings: Settings) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_is_secure(settings)
    )
    return response
