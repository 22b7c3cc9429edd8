"""Issue 9, "prove every door": every route of the whole app (API, pages, tus, blog, docs),
enumerated from the app's own router, × eight kinds of caller, with the status each gets.

The people: nobody; the memo's author; another author; the assistant holding the draft's
claim; another assistant holding none; an admin; a revoked API token; a deactivated user's
session cookie. Each signed-in caller comes with a session cookie and its CSRF token (the
CSRF test, tests/test_security_csrf.py, covers requests without one). Unsafe routes get a
fresh world per caller, so one caller's success never changes what the next one meets.
A route without a row here fails `test_give_every_route_a_row`.
"""

from __future__ import annotations

import pytest

from tests.support import doors

A, AU, OA, AS, OS, AD, RT, DE = range(8)  # columns, in doors.PERSONAS order

# (method, route) -> statuses for: anonymous, author, other author, assistant (claim), other
# assistant, admin, revoked token, deactivated. Pages answer 303 (to /login) where the API says 401.
EXPECTED = {
    ("GET", "/"): (303, 303, 303, 303, 303, 303, 303, 303),
    ("GET", "/account"): (303, 200, 200, 200, 200, 200, 303, 303),
    ("GET", "/admin"): (303, 303, 303, 303, 303, 303, 303, 303),
    ("GET", "/admin/destinations"): (303, 403, 403, 403, 403, 200, 303, 303),
    ("GET", "/admin/storage"): (303, 403, 403, 403, 403, 200, 303, 303),
    ("GET", "/admin/users"): (303, 403, 403, 403, 403, 200, 303, 303),
    ("GET", "/admin/users/{user_id}/tokens"): (303, 403, 403, 403, 403, 200, 303, 303),
    ("GET", "/api/v1/destinations"): (401, 403, 403, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/destinations"): (401, 403, 403, 403, 403, 201, 401, 401),
    ("DELETE", "/api/v1/destinations/{name_or_id}"): (401, 403, 403, 403, 403, 204, 401, 401),
    ("PATCH", "/api/v1/destinations/{name_or_id}"): (401, 403, 403, 403, 403, 200, 401, 401),
    ("GET", "/api/v1/docs"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/drafts/{draft_id}"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("PATCH", "/api/v1/drafts/{draft_id}"): (401, 403, 404, 200, 409, 200, 401, 401),
    ("GET", "/api/v1/drafts/{draft_id}/comments"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/comments"): (401, 201, 404, 201, 201, 201, 401, 401),
    ("GET", "/api/v1/drafts/{draft_id}/publications"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/publish"): (401, 403, 403, 202, 409, 202, 401, 401),
    # Checking words and picking the image are the staff's: authors are refused before any lookup.
    ("GET", "/api/v1/drafts/{draft_id}/publish-check"): (401, 403, 403, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/looked-at"): (401, 403, 403, 200, 200, 200, 401, 401),
    # The world's draft has no image: those who may see it hear so (404).
    ("GET", "/api/v1/drafts/{draft_id}/featured-image"): (401, 404, 404, 404, 404, 404, 401, 401),
    ("PUT", "/api/v1/drafts/{draft_id}/featured-image"): (401, 403, 403, 200, 409, 200, 401, 401),
    ("DELETE", "/api/v1/drafts/{draft_id}/featured-image"): (401, 403, 403, 404, 409, 404, 401, 401),
    ("GET", "/api/v1/drafts/{draft_id}/revisions"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("GET", "/api/v1/drafts/{draft_id}/learned"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/learned/{word_id}/revert"): (401, 403, 404, 200, 409, 200, 401, 401),
    ("GET", "/api/v1/vocabulary"): (401, 403, 403, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/vocabulary"): (401, 403, 403, 201, 201, 201, 401, 401),
    ("GET", "/api/v1/vocabulary/proposals"): (401, 403, 403, 200, 200, 200, 401, 401),
    ("DELETE", "/api/v1/vocabulary/{entry_id}"): (401, 403, 403, 204, 204, 204, 401, 401),
    ("GET", "/vocabulary"): (303, 403, 403, 200, 200, 200, 303, 303),
    ("POST", "/api/v1/drafts/{draft_id}/revisions/{version}/restore"): (401, 403, 404, 422, 409, 422, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/transitions"): (401, 409, 404, 200, 409, 200, 401, 401),
    ("POST", "/api/v1/drafts/{draft_id}/unpublish"): (401, 403, 403, 404, 404, 404, 401, 401),
    ("GET", "/api/v1/healthz"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/memos"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/memos"): (401, 201, 201, 201, 201, 201, 401, 401),
    ("DELETE", "/api/v1/memos/{memo_id}"): (401, 204, 404, 403, 403, 204, 401, 401),
    ("GET", "/api/v1/memos/{memo_id}"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("GET", "/api/v1/memos/{memo_id}/audio"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/memos/{memo_id}/cancel"): (401, 409, 404, 409, 409, 409, 401, 401),
    # Only the memo's author adds a recording to it (dictation.memos.additions says why).
    ("GET", "/api/v1/memos/{memo_id}/additions"): (401, 200, 404, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/memos/{memo_id}/additions"): (401, 202, 404, 403, 403, 403, 401, 401),
    ("GET", "/api/v1/memos/{memo_id}/playback"): (401, 404, 404, 404, 404, 404, 401, 401),
    ("POST", "/api/v1/memos/{memo_id}/retry"): (401, 409, 404, 409, 409, 409, 401, 401),
    ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/readyz"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("DELETE", "/api/v1/session"): (401, 204, 204, 204, 204, 204, 401, 401),
    ("GET", "/api/v1/session"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/session"): (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/api/v1/session/everywhere"): (401, 204, 204, 204, 204, 204, 401, 401),
    ("GET", "/api/v1/tokens"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/tokens"): (401, 201, 201, 201, 201, 201, 401, 401),
    ("DELETE", "/api/v1/tokens/{token_id}"): (401, 204, 404, 404, 404, 204, 401, 401),
    ("HEAD", "/api/v1/uploads/{rest}"): (401, 204, 404, 404, 404, 404, 401, 401),
    ("OPTIONS", "/api/v1/uploads/{rest}"): (204, 204, 204, 204, 204, 204, 204, 204),
    ("PATCH", "/api/v1/uploads/{rest}"): (401, 204, 404, 404, 404, 404, 401, 401),
    ("POST", "/api/v1/uploads/{rest}"): (401, 201, 201, 201, 201, 201, 401, 401),
    ("GET", "/api/v1/users"): (401, 403, 403, 403, 403, 200, 401, 401),
    ("POST", "/api/v1/users"): (401, 403, 403, 403, 403, 201, 401, 401),
    ("GET", "/api/v1/users/me"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("POST", "/api/v1/users/me/password"): (401, 403, 403, 403, 403, 403, 401, 401),
    ("GET", "/api/v1/users/me/sessions"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("DELETE", "/api/v1/users/me/sessions/{session_id}"): (401, 204, 404, 404, 404, 404, 401, 401),
    ("GET", "/api/v1/users/{user_id}"): (401, 403, 403, 403, 403, 200, 401, 401),
    ("PATCH", "/api/v1/users/{user_id}"): (401, 403, 403, 403, 403, 200, 401, 401),
    ("GET", "/api/v1/worklist"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("GET", "/blog"): (308, 308, 308, 308, 308, 308, 308, 308),
    ("GET", "/blog/{path}"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/docs/oauth2-redirect"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/language"): (303, 303, 303, 303, 303, 303, 303, 303),
    ("GET", "/login"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/memos/{memo_id}"): (303, 303, 404, 200, 200, 200, 303, 303),
    ("GET", "/memos/{memo_id}/diff"): (401, 401, 401, 200, 200, 200, 401, 401),
    ("GET", "/memos/{memo_id}/publications"): (401, 401, 401, 200, 200, 200, 401, 401),
    ("GET", "/metrics"): (404, 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/phone"): (303, 200, 200, 200, 200, 200, 303, 303),
    ("GET", "/phone/memos/{memo_id}"): (303, 200, 404, 200, 200, 200, 303, 303),
    ("GET", "/phone/shell"): (303, 200, 200, 200, 200, 200, 303, 303),
    ("GET", "/phone/manifest.webmanifest"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/phone-sw.js"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/preview"): (401, 200, 200, 200, 200, 200, 401, 401),
    ("GET", "/readyz"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/static/{path}"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/tokens/mail-address"): (303, 200, 200, 200, 200, 200, 303, 303),
    ("GET", "/tokens"): (303, 200, 200, 200, 200, 200, 303, 303),
    ("GET", "/worklist"): (303, 303, 303, 200, 200, 200, 303, 303),
    # The worklist page's polling: a fragment, so 401 rather than a redirect to the sign-in.
    ("GET", "/worklist/live"): (401, 401, 401, 200, 200, 200, 401, 401),
}


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
