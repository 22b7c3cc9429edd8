"""Issue 9, "prove every door": every route of the whole app (API, pages, tus, blog, docs),
enumerated from the app's own router, × eight kinds of caller, with the status each gets.

The people: nobody; the memo's author; another author; the assistant holding the draft's
claim; another assistant holding none; an admin; a revoked API token; a deactivated user's
session cookie. Each signed-in caller comes with a session cookie and its CSRF token (the
CSRF test, tests/test_security_csrf.py, covers requests without one). Unsafe routes get a
fresh world per caller, so one caller's success never changes what the next one meets.
The matrix is tests/support/permissions.py; a route without a row there fails
`test_give_every_route_a_row`.
"""

from __future__ import annotations

import pytest

from tests.support import doors
from tests.support.permissions import EXPECTED


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    with doors.whole_app(tmp_path_factory.mktemp("doors")) as built:
        yield built


def test_give_every_route_a_row(desk):
    app, _ = desk
    found = doors.routes(app)
    missing, gone = sorted(found - EXPECTED.keys()), sorted(EXPECTED.keys() - found)
    assert not missing, f"routes without a row in the permission matrix: {missing}"
    assert not gone, f"rows for routes that no longer exist: {gone}"


def test_name_the_same_people_as_the_columns():
    assert doors.PERSONAS == ("anonymous", "author", "other_author", "assistant", "other_assistant", "admin",
                              "revoked_token", "deactivated")


@pytest.mark.parametrize("route", sorted(EXPECTED, key=lambda r: (r[1], r[0])), ids=lambda r: f"{r[0]} {r[1]}")
def test_answer_each_caller_as_the_matrix_says(desk, route):
    app, http = desk
    method, template = route
    world = doors.build_world(app)
    got, leaks = [], []
    for persona in doors.PERSONAS:
        if method in doors.UNSAFE:
            world = doors.build_world(app)
        answer = doors.send(http, method, doors.knock(method, template, world), world.credentials(persona, method))
        got.append(answer.status_code)
        may_not_see = persona in ("anonymous", "other_author", "revoked_token", "deactivated")
        if may_not_see and world.ids["secret"] in answer.text:
            leaks.append(persona)
    assert tuple(got) == EXPECTED[route], (tuple(got), dict(zip(doors.PERSONAS, got, strict=True)))
    assert not leaks, f"the author's memo title reached {leaks}"
