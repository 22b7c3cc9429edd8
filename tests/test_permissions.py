"""Issue 9, "prove every door": every route of the whole app (API, pages, tus, blog, docs),
enumerated from the app's own router, × eight kinds of caller, with the status each gets.

The people: nobody; the memo's author; another author; the assistant holding the draft's
claim; another assistant holding none; an admin; a revoked API token; a deactivated user's
session cookie. Each signed-in caller comes with a session cookie and its CSRF token (the
CSRF test, tests/test_security_csrf.py, covers requests without one). Unsafe routes get a
fresh world per caller, so one caller's success never changes what the next one meets.
The matrix is tests/support/permissions.py; a route without a row there fails
`test_give_every_route_a_row`.

The same doors knocked at otherwise (`test_refuse_the_same_callers_at_head_and_trailing_slash`):
every GET route as HEAD and with its trailing slash added or taken away, redirects on the app
followed, must never let through whom the matrix refuses, nor answer anyone with a 5xx.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support import doors
from tests.support.permissions import EXPECTED

MAY_NOT_SEE = ("anonymous", "other_author", "revoked_token", "deactivated")  # the author's memo
GET_ROUTES = sorted(route for route in EXPECTED if route[0] == "GET")


def test_give_every_route_a_row(whole_desk):
    app, _ = whole_desk
    found = doors.routes(app)
    missing, gone = sorted(found - EXPECTED.keys()), sorted(EXPECTED.keys() - found)
    assert not missing, f"routes without a row in the permission matrix: {missing}"
    assert not gone, f"rows for routes that no longer exist: {gone}"


def test_name_the_same_people_as_the_columns():
    assert doors.PERSONAS == ("anonymous", "author", "other_author", "assistant", "other_assistant", "admin",
                              "revoked_token", "deactivated")


@pytest.mark.parametrize("route", sorted(EXPECTED, key=lambda r: (r[1], r[0])), ids=lambda r: f"{r[0]} {r[1]}")
def test_answer_each_caller_as_the_matrix_says(whole_desk, route):
    app, http = whole_desk
    method, template = route
    world = doors.build_world(app)
    got, leaks = [], []
    for persona in doors.PERSONAS:
        if method in doors.UNSAFE:
            world = doors.build_world(app)
        answer = doors.send(http, method, doors.knock(method, template, world), world.credentials(persona, method))
        got.append(answer.status_code)
        if persona in MAY_NOT_SEE and world.ids["secret"] in answer.text:
            leaks.append(persona)
    assert tuple(got) == EXPECTED[route], (tuple(got), dict(zip(doors.PERSONAS, got, strict=True)))
    assert not leaks, f"the author's memo title reached {leaks}"


# --- the same doors, knocked at as HEAD and with or without a trailing slash ----------------


@pytest.fixture(scope="module")
def reading_world(whole_desk):
    """One world for every GET route: reading changes nothing another reading meets."""
    return doors.build_world(whole_desk[0])


def _to_sign_in(answer) -> bool:
    return answer.is_redirect and urlsplit(answer.headers.get("location", "")).path == "/login"


def _answers(http, method: str, path: str, headers: dict, hops: int = 3) -> list:
    """The answer to `method path`, then to each redirect it leads to on this app, except to
    the sign-in page (that one is a refusal): the content a browser or client would end on."""
    answers = []
    for _ in range(hops + 1):
        http.cookies.clear()
        answer = http.request(method, path, headers=headers, follow_redirects=False)
        answers.append(answer)
        target = urlsplit(answer.headers.get("location", ""))
        if not answer.is_redirect or _to_sign_in(answer) or target.netloc not in ("", "127.0.0.1"):
            break
        path = target.path + (f"?{target.query}" if target.query else "")
        method = method if method == "HEAD" or answer.status_code in (307, 308) else "GET"
    return answers


def test_knock_at_every_get_route_otherwise(whole_desk):
    app, _ = whole_desk
    assert {r for r in doors.routes(app) if r[0] == "GET"} == set(GET_ROUTES)


@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r[1])
def test_refuse_the_same_callers_at_head_and_trailing_slash(whole_desk, reading_world, route):
    _, http = whole_desk
    world = reading_world
    path = doors.knock("GET", route[1], world).path
    toggled = path.rstrip("/") if path.endswith("/") else path + "/"
    problems = []
    for persona, expected in zip(doors.PERSONAS, EXPECTED[route], strict=True):
        headers = world.credentials(persona, "GET")
        baseline = _answers(http, "GET", path, headers, hops=0)[0]
        assert baseline.status_code == expected, (persona, baseline.status_code)  # the matrix's answer
        refused = expected in (401, 403, 404) or _to_sign_in(baseline)
        variants = [("HEAD", path)] + ([("GET", toggled), ("HEAD", toggled)] if path != "/" else [])
        for method, variant in variants:
            chain = _answers(http, method, variant, headers)
            said = f"{persona}: {method} {variant} -> {' -> '.join(str(a.status_code) for a in chain)}"
            if any(a.status_code >= 500 for a in chain):
                problems.append(said)
            elif refused and chain[-1].is_success:
                problems.append(f"{said}, where GET {path} refuses them ({expected})")
            elif persona in MAY_NOT_SEE and any(world.ids["secret"] in a.text for a in chain):
                problems.append(f"{said}: the author's memo title reached them")
    assert not problems, "\n".join(problems)
