"""Issue 9, holes 3, 4 and 5: sessions live on the server, production refuses a weak secret
key, sign-in sends people only to a path on this site and refuses a cross-site sign-in."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from dictation.settings import Settings
from tests.support.api import PASSWORD, make_person

API = "/api/v1"


@pytest.fixture
def desk(data_dir):
    """The whole app (pages, API, tus) as `dictation serve` builds it, on a migrated SQLite."""
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0))
    yield app
    app.state.database.dispose()


def _browser(app, person, user_agent="Firefox on the office PC") -> tuple[TestClient, str]:
    http = TestClient(app, base_url="http://127.0.0.1", headers={"User-Agent": user_agent})
    answer = http.post(f"{API}/session", json={"email": person.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return http, answer.json()["csrf_token"]


def _replay(app, cookie: str) -> int:
    """A fresh client holding only a copy of the cookie, as a thief would."""
    with TestClient(app, base_url="http://127.0.0.1", cookies={"dictation_session": cookie}) as thief:
        return thief.get(f"{API}/users/me").status_code


# --- hole 3: server-side sessions ----------------------------------------------------------

def test_sign_out_kills_captured_cookie(client, api_app):
    ada = make_person(api_app, "author")
    http, csrf = _browser(api_app, ada)
    captured = http.cookies["dictation_session"]
    assert _replay(api_app, captured) == 200
    assert http.delete(f"{API}/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert _replay(api_app, captured) == 401


def test_sign_out_everywhere_ends_every_browser(api_app):
    ada = make_person(api_app, "author")
    office, csrf = _browser(api_app, ada, "Firefox")
    phone, _ = _browser(api_app, ada, "Safari on iPhone")
    cookies = [office.cookies["dictation_session"], phone.cookies["dictation_session"]]
    assert office.post(f"{API}/session/everywhere", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert [_replay(api_app, c) for c in cookies] == [401, 401]


def test_change_password_ends_other_sessions_keeps_this_one(api_app):
    ada = make_person(api_app, "author")
    office, csrf = _browser(api_app, ada)
    phone, _ = _browser(api_app, ada, "Safari on iPhone")
    phone_cookie = phone.cookies["dictation_session"]
    answer = office.post(f"{API}/users/me/password", headers={"X-CSRF-Token": csrf},
                         json={"current_password": PASSWORD, "new_password": "a brand new password"})
    assert answer.status_code == 200, answer.text
    assert _replay(api_app, phone_cookie) == 401
    assert office.get(f"{API}/users/me").status_code == 200  # a fresh cookie came with the answer
    assert len(office.get(f"{API}/users/me/sessions").json()) == 1


def test_deactivate_user_ends_their_sessions(api_app):
    ada = make_person(api_app, "author")
    boss = make_person(api_app, "admin")
    phone, _ = _browser(api_app, ada)
    cookie = phone.cookies["dictation_session"]
    answer = TestClient(api_app).patch(f"{API}/users/{ada.id}", json={"is_active": False}, headers=boss.auth)
    assert answer.status_code == 200
    assert _replay(api_app, cookie) == 401
    with api_app.state.database.session() as session:
        from sqlalchemy import func, select

        from dictation.models import BrowserSession

        assert session.scalar(select(func.count()).where(BrowserSession.user_id == ada.id)) == 0


def test_list_and_end_sessions_only_own(api_app):
    ada = make_person(api_app, "author")
    bob = make_person(api_app, "author")
    office, csrf = _browser(api_app, ada, "Firefox on the office PC")
    phone, _ = _browser(api_app, ada, "Safari on iPhone")
    bobs, bob_csrf = _browser(api_app, bob)
    listed = office.get(f"{API}/users/me/sessions").json()
    assert sorted(s["user_agent"] for s in listed) == ["Firefox on the office PC", "Safari on iPhone"]
    assert [s["user_agent"] for s in listed if s["current"]] == ["Firefox on the office PC"]
    phone_row = next(s for s in listed if s["user_agent"] == "Safari on iPhone")
    # Someone else's session does not exist for Bob.
    phone_url = f"{API}/users/me/sessions/{phone_row['id']}"
    assert bobs.delete(phone_url, headers={"X-CSRF-Token": bob_csrf}).status_code == 404
    assert phone.get(f"{API}/users/me").status_code == 200
    assert office.delete(phone_url, headers={"X-CSRF-Token": csrf}).status_code == 204
    assert phone.get(f"{API}/users/me").status_code == 401
    assert office.get(f"{API}/users/me").status_code == 200


def test_account_page_lists_sessions_with_end_buttons(desk):
    ada = make_person(desk, "author")
    office, _ = _browser(desk, ada, "Firefox on the office PC")
    _browser(desk, ada, "Safari on iPhone")
    page = office.get("/account")
    assert page.status_code == 200
    assert "Safari on iPhone" in page.text and "Firefox on the office PC" in page.text
    assert page.text.count('data-end-session="') == 2
    assert TestClient(desk).get("/account", follow_redirects=False).status_code == 303


# --- hole 4: the secret key ------------------------------------------------------------------

@pytest.mark.parametrize("key", ["", "x" * 40, "short-but-not-empty", "secret" * 20, secrets.token_hex(16)])
def test_refuse_weak_secret_key_in_production(key):
    with pytest.raises(ValidationError, match=r"token_urlsafe\(48\)"):
        Settings(environment="production", secret_key=key)


@pytest.mark.parametrize("key", [secrets.token_urlsafe(48), secrets.token_hex(32), secrets.token_urlsafe(32)])
def test_accept_random_secret_key_in_production(key):
    assert Settings(environment="production", secret_key=key).secret_key == key


def test_accept_every_generated_key_in_production():
    # A key that starts and ends with the same character once counted as repeating itself.
    from dictation.settings import MIN_SECRET_KEY_BITS, secret_key_bits

    keys = [secrets.token_urlsafe(32) for _ in range(3000)] + [secrets.token_hex(32) for _ in range(3000)]
    keys += [k[:-1] + k[0] for k in keys[:100]]
    assert min(secret_key_bits(k) for k in keys) >= MIN_SECRET_KEY_BITS


def test_allow_any_secret_key_in_development():
    assert Settings(environment="development", secret_key="dev").secret_key == "dev"


# --- hole 5: where sign-in sends people, and from where ---------------------------------------

HOSTILE_NEXT = ["/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/",
                "\t//evil.example", "/\u2028/evil.example", "javascript:alert(1)", " /x"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_form_refuses_offsite_next(client, api_app, target):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", data={"email": ada.email, "password": PASSWORD, "next": target},
                         follow_redirects=False)
    assert answer.status_code == 200 and "csrf_token" in answer.json()  # no redirect at all


def test_login_page_hands_script_only_a_checked_next(desk):
    http = TestClient(desk)
    page = http.get("/login?next=/%09/evil.example").text
    assert 'name="next" value="/"' in page and "evil.example" not in page
    assert 'name="next" value="/memos/3?tab=draft"' in http.get("/login", params={"next": "/memos/3?tab=draft"}).text


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"}, {"Origin": "null"},
])
def test_refuse_cross_site_sign_in(client, api_app, headers):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", data={"email": ada.email, "password": PASSWORD}, headers=headers)
    assert answer.status_code == 403 and answer.json()["error"] == "cross_site_sign_in"
    assert "another site" in answer.json()["message"] and "set-cookie" not in answer.headers


@pytest.mark.parametrize("headers", [{}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://127.0.0.1"},
                                     {"Sec-Fetch-Site": "none"}])
def test_accept_same_site_or_scripted_sign_in(client, api_app, headers):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", json={"email": ada.email, "password": PASSWORD}, headers=headers)
    assert answer.status_code == 200
