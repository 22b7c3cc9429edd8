"""What every page needs: who is signed in (the API's session cookie), the page's CSRF
token, the language, and a `render` that hands all of it to the templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from api.app import API_PREFIX
from api.deps import SESSION_COOKIE
from api.security import csp_nonce
from dictation.models import Role, User
from dictation.ops.retention import removals
from review_ui import i18n

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def static_url(path: str) -> str:
    """A static file's address with its modification time, so a new release is never stale."""
    try:
        version = int((STATIC / path).stat().st_mtime)
    except OSError:
        version = 0
    return f"/static/{path}?v={version}"


def import_map() -> dict[str, dict[str, str]]:
    """Every script module at one address, its versioned one: a page's own script (loaded by
    that address) and the modules that import it by name ("./common.js") then share one copy.
    Two addresses would be two copies of a module, each running its set-up (two sign-outs)."""
    scripts = sorted((STATIC / "js").glob("*.js"))
    return {"imports": {f"/static/js/{p.name}": static_url(f"js/{p.name}") for p in scripts}}


def clock(seconds: float | None) -> str:
    """1:05, 12:30, 1:02:03: how transcription tools show time."""
    if seconds is None:
        return "–"
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def local_day(value: dt.datetime | None, lang: str) -> str:
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")


def iso_utc(value: dt.datetime | None) -> str:
    """For <time datetime>: the scripts show it in the reader's own time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # the database keeps UTC without a zone
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def web_link(url: str | None) -> str | None:
    """A post's address fit for href: a CMS answers with it, so `javascript:` and the like
    never become a link."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


templates.env.globals["static"] = static_url
templates.env.globals["import_map"] = import_map
templates.env.globals["csp_nonce"] = csp_nonce  # the page policy allows its import map by nonce
templates.env.globals["api_base"] = API_PREFIX
templates.env.globals["retention_removals"] = removals  # _retention_note.html: what a memo lost, and when
templates.env.filters["iso_utc"] = iso_utc
templates.env.filters["web_link"] = web_link
templates.env.filters["clock"] = clock


def current_user(request: Request, session: Session) -> User | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return request.app.state.cookies.user(session, cookie)


def csrf_token(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return request.app.state.cookies.csrf_token(cookie) if cookie else ""


def check_csrf(request: Request, supplied: str | None) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE) or ""
    return request.app.state.cookies.check_csrf(cookie, supplied)


def language_for(request: Request, user: User | None) -> str:
    return i18n.pick_language(user.language if user else None, request.headers.get("accept-language"))


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in (Role.assistant, Role.admin)


def is_admin(user: User | None) -> bool:
    return user is not None and user.role == Role.admin


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def render(
    request: Request, template: str, user: User | None, status_code: int = 200, *, with_csrf: bool = True,
    **context: object,
) -> HTMLResponse:
    """with_csrf=False: a page kept outside the server (the phone's offline shell) carries no token."""
    lang = language_for(request, user)
    context.update(
        user=user,
        lang=lang,
        t=i18n.translator(lang),
        js_strings=i18n.js_strings(lang),
        csrf=csrf_token(request) if user and with_csrf else "",
        is_staff=is_staff(user),
        is_admin=is_admin(user),
        day=lambda value: local_day(value, lang),
        path=request.url.path,
        now_utc=dt.datetime.now(dt.UTC),
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    # Pages carry a per-session token and private data: never cached by a shared proxy.
    response.headers["Cache-Control"] = "private, no-store"
    return response
