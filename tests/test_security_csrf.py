"""Issue 9, "CSRF coverage": every unsafe route of the whole app, enumerated from its own
router as the permission matrix does, refuses a browser-session request without the
session's CSRF token, and refuses a method override outright, even from a caller who would
otherwise pass. Sign-in has no session yet: it refuses a cross-site request instead."""

from __future__ import annotations

import pytest

from tests.support import doors
from tests.support.permissions import EXPECTED

SIGN_IN = ("POST", "/api/v1/session")
UNSAFE_ROUTES = sorted((r for r in EXPECTED if r[0] in doors.UNSAFE and r != SIGN_IN), key=lambda r: (r[1], r[0]))


def _passing_persona(route) -> str:
    """Someone the matrix lets through (with the token), so a refusal here is the CSRF check's."""
    statuses = dict(zip(doors.PERSONAS, EXPECTED[route], strict=True))
    for persona in ("author", "assistant", "admin", "other_assistant", "other_author"):
        if statuses[persona] < 400:
            return persona
    return "admin"


def test_cover_every_unsafe_route(whole_desk):
    app, _ = whole_desk
    unsafe = {r for r in doors.routes(app) if r[0] in doors.UNSAFE}
    assert unsafe == set(UNSAFE_ROUTES) | {SIGN_IN}


@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_refuse_session_request_without_csrf_token(whole_desk, route):
    app, http = whole_desk
    method, template = route
    world = doors.build_world(app)
    persona = _passing_persona(route)
    answer = doors.send(http, method, doors.knock(method, template, world),
                        world.credentials(persona, method, with_csrf=False))
    assert answer.status_code == 403, (persona, answer.status_code, answer.text[:200])
    if answer.headers.get("content-type", "").startswith("application/json"):
        assert answer.json()["error"] == "csrf_failed"
    else:
        assert "reload" in answer.text.lower() or answer.text == ""  # the page's own refusal


@pytest.mark.parametrize("route", UNSAFE_ROUTES + [SIGN_IN], ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("override", ["GET", "HEAD", "OPTIONS"])
def test_refuse_method_override(whole_desk, route, override):
    app, http = whole_desk
    method, template = route
    world = doors.build_world(app)
    persona = _passing_persona(route)
    request = doors.knock(method, template, world)
    request.headers = {**request.headers, "X-HTTP-Method-Override": override}
    answer = doors.send(http, method, request, world.credentials(persona, method, with_csrf=False))
    assert answer.status_code == 400 and answer.json()["error"] == "method_override"


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_refuse_cross_site_sign_in_with_real_password(whole_desk, site):
    app, http = whole_desk
    from tests.support.api import PASSWORD, make_person

    ada = make_person(app, "author")
    http.cookies.clear()
    answer = http.post("/api/v1/session", data={"email": ada.email, "password": PASSWORD},
                       headers={"Sec-Fetch-Site": site})
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
