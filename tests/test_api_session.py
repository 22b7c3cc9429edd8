"""Signing in, CSRF, API tokens, accounts, probes and the error format, over HTTP."""

from __future__ import annotations

from tests.support.api import PASSWORD, make_person, sine_wav, upload

API = "/api/v1"


def sign_in(client, person) -> str:
    answer = client.post(f"{API}/session", json={"email": person.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["csrf_token"]


def test_sign_in_sets_httponly_samesite_cookie(client, api_app):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", json={"email": ada.email, "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["user"]["email"] == ada.email and answer.json()["csrf_token"]
    cookie = answer.headers["set-cookie"].lower()
    assert "dictation_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http in development; production adds it
    assert client.get(f"{API}/users/me").json()["email"] == ada.email


def test_session_cookie_is_secure_in_production(api_app, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setattr(api_app.state.settings, "public_url", "https://desk.example.com")
    ada = make_person(api_app, "author")
    with TestClient(api_app, base_url="https://desk.example.com") as http:
        answer = http.post(f"{API}/session", json={"email": ada.email, "password": PASSWORD})
    assert "secure" in answer.headers["set-cookie"].lower()


def test_sign_in_with_form_redirects_to_next_on_this_site_only(client, api_app):
    ada = make_person(api_app, "author")
    form = {"email": ada.email, "password": PASSWORD}
    answer = client.post(f"{API}/session", data={**form, "next": "/desk"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/desk"
    answer = client.post(f"{API}/session", data={**form, "next": "//evil.example/"}, follow_redirects=False)
    assert answer.status_code == 200 and "csrf_token" in answer.json()


def test_sign_in_refuses_wrong_password_with_sentence(client, api_app):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", json={"email": ada.email, "password": "wrong password"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "not_authenticated", "message": "The e-mail address or the password is wrong."}
    assert "set-cookie" not in answer.headers


def test_request_without_credentials_gets_401(client):
    answer = client.get(f"{API}/memos")
    assert answer.status_code == 401 and answer.json()["error"] == "not_authenticated"
    assert "sign in" in answer.json()["message"]
    assert client.get(f"{API}/memos", headers={"Authorization": "Basic abc"}).status_code == 401


def test_form_without_csrf_token_gets_403(client, api_app):
    ada = make_person(api_app, "author")
    csrf = sign_in(client, ada)
    refused = client.post(f"{API}/tokens", json={"name": "phone"})
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    assert "reload the page" in refused.json()["message"]
    wrong = client.post(
        f"{API}/tokens", json={"name": "phone"}, headers={"X-CSRF-Token": csrf[:-1] + ("1" if csrf[-1] == "0" else "0")}
    )
    assert wrong.status_code == 403
    assert [t["name"] for t in client.get(f"{API}/tokens").json()] == ["tests"]  # nothing was made
    made = client.post(f"{API}/tokens", json={"name": "phone"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_upload_form_without_csrf_field_gets_403_and_keeps_nothing(client, api_app):
    ada = make_person(api_app, "author")
    csrf = sign_in(client, ada)
    refused = upload(client, sine_wav(0.5))
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    store = api_app.state.store
    assert not [p for p in store.root.rglob("*") if p.is_file()]
    accepted = upload(client, sine_wav(0.5), csrf_token=csrf)
    assert accepted.status_code == 201, accepted.text
    by_header = upload(client, sine_wav(0.5, 880), {"X-CSRF-Token": csrf})  # what fetch() sends
    assert by_header.status_code == 201, by_header.text
    forged = upload(client, sine_wav(0.5, 990), {"X-CSRF-Token": "forged"})
    assert forged.status_code == 403


def test_bearer_token_needs_no_csrf(client, api_app):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/tokens", json={"name": "script"}, headers=ada.auth)
    assert answer.status_code == 201 and answer.json()["token"].startswith("dd_")


def test_record_token_use_once_a_minute_through_api(client, api_app):
    from sqlalchemy import select, update

    from dictation.models import ApiToken

    ada = make_person(api_app, "author")

    def last_used():
        with api_app.state.database.session() as session:
            return session.scalars(select(ApiToken.last_used_at).where(ApiToken.user_id == ada.id)).one()

    assert last_used() is None
    assert client.get(f"{API}/worklist", headers=ada.auth).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get(f"{API}/memos", headers=ada.auth).status_code == 200
    assert last_used() == first  # within the minute: no write
    with api_app.state.database.session() as session:  # as if the last use were long ago
        long_ago = first.replace(year=2000)
        session.execute(update(ApiToken).where(ApiToken.user_id == ada.id).values(last_used_at=long_ago))
    assert client.get(f"{API}/memos", headers=ada.auth).status_code == 200
    assert last_used().year != 2000


def test_sign_out_ends_the_session(client, api_app):
    ada = make_person(api_app, "author")
    csrf = sign_in(client, ada)
    assert client.delete(f"{API}/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(f"{API}/users/me").status_code == 401


def test_sign_out_everywhere_invalidates_other_browsers(api_app):
    from fastapi.testclient import TestClient

    ada = make_person(api_app, "author")
    with TestClient(api_app) as laptop, TestClient(api_app) as phone:
        csrf = sign_in(laptop, ada)
        sign_in(phone, ada)
        assert laptop.post(f"{API}/session/everywhere", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert phone.get(f"{API}/users/me").status_code == 401
        assert "expired or was signed out" in phone.get(f"{API}/users/me").json()["message"]


def test_token_is_shown_once_listed_and_revoked(client, api_app):
    ada = make_person(api_app, "author")
    made = client.post(f"{API}/tokens", json={"name": "Ada's phone"}, headers=ada.auth).json()
    phone = {"Authorization": f"Bearer {made['token']}"}
    assert client.get(f"{API}/users/me", headers=phone).json()["email"] == ada.email
    listed = client.get(f"{API}/tokens", headers=ada.auth).json()
    assert {t["name"] for t in listed} == {"tests", "Ada's phone"}
    assert all("token" not in t for t in listed)
    assert client.delete(f"{API}/tokens/{made['id']}", headers=ada.auth).status_code == 204
    revoked = client.get(f"{API}/users/me", headers=phone)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]
    assert client.get(f"{API}/users/me", headers=ada.auth).status_code == 200


def test_revoke_someone_elses_token_is_404_unless_admin(client, api_app):
    ada, eve, admin = (make_person(api_app, r) for r in ("author", "assistant", "admin"))
    ada_tokens = client.get(f"{API}/tokens", headers=ada.auth).json()
    assert client.delete(f"{API}/tokens/{ada_tokens[0]['id']}", headers=eve.auth).status_code == 404
    assert client.get(f"{API}/users/me", headers=ada.auth).status_code == 200
    assert len(client.get(f"{API}/tokens", headers=admin.auth).json()) == 3
    assert client.delete(f"{API}/tokens/{ada_tokens[0]['id']}", headers=admin.auth).status_code == 204
    assert client.get(f"{API}/users/me", headers=ada.auth).status_code == 401


def test_admin_manages_users_others_get_403(client, api_app):
    admin, eve = make_person(api_app, "admin"), make_person(api_app, "assistant")
    made = client.post(
        f"{API}/users",
        json={"email": "Carol@Example.test", "role": "assistant", "password": PASSWORD},
        headers=admin.auth,
    )
    assert made.status_code == 201 and made.json()["email"] == "carol@example.test"
    assert client.post(f"{API}/users", json={"email": "carol@example.test"}, headers=admin.auth).status_code == 409
    refused = client.get(f"{API}/users", headers=eve.auth)
    assert refused.status_code == 403 and refused.json()["message"] == "Only an admin may manage accounts."
    carol = made.json()["id"]
    changed = client.patch(f"{API}/users/{carol}", json={"role": "admin"}, headers=admin.auth)
    assert changed.json()["role"] == "admin"
    assert client.post(f"{API}/session", json={"email": "carol@example.test", "password": PASSWORD}).status_code == 200
    client.patch(f"{API}/users/{carol}", json={"is_active": False}, headers=admin.auth)
    assert client.get(f"{API}/users/me").status_code == 401  # her session ended with the account
    assert client.post(f"{API}/session", json={"email": "carol@example.test", "password": PASSWORD}).status_code == 401


def test_last_admin_cannot_demote_themselves(client, api_app):
    admin = make_person(api_app, "admin")
    answer = client.patch(f"{API}/users/{admin.id}", json={"role": "author"}, headers=admin.auth)
    assert answer.status_code == 409 and "last active admin" in answer.json()["message"]


def test_validation_error_is_json_with_sentence(client, api_app):
    admin = make_person(api_app, "admin")
    answer = client.post(f"{API}/users", json={"email": "x@example.test", "role": "boss"}, headers=admin.auth)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid" and body["message"].startswith("The field 'role' is not valid")
    missing = client.get(f"{API}/nothing-here", headers=admin.auth)
    assert missing.status_code == 404 and missing.json() == {
        "error": "not_found",
        "message": "There is nothing at this address.",
    }


def test_healthz_and_readyz_report_each_check(client):
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get(f"{API}/readyz")
    body = ready.json()
    assert set(body["checks"]) == {"database", "queue", "model"}
    assert body["checks"]["database"]["ok"] and body["checks"]["queue"]["ok"]
    # The default model (base) is assembled from PyPI parts where they are installed.
    assert ready.status_code == (200 if body["checks"]["model"]["ok"] else 503)
    if ready.status_code == 503:
        assert body["error"] == "not_ready" and "the model" in body["message"]


def test_readyz_says_which_check_fails_and_only_admins_what_it_found(api_app, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from api.routers import health

    monkeypatch.setattr(health, "_said", {})  # what the log said a minute ago is not said again
    found = "The model path /nowhere/model-dir does not exist (or is not a directory)."
    admin, author = make_person(api_app, "admin"), make_person(api_app, "author")
    monkeypatch.setattr(api_app.state.settings, "model", "/nowhere/model-dir")
    with TestClient(api_app) as http:
        anonymous = http.get("/readyz")
        as_author = http.get(f"{API}/readyz", headers=author.auth)
        as_stranger = http.get("/readyz", headers={"Authorization": "Bearer dd_not-a-token"})
        as_admin = http.get(f"{API}/readyz", headers=admin.auth)
    # Anyone: the status and which check failed, in words, and nothing it found (no path).
    for answer in (anonymous, as_author, as_stranger):
        assert answer.status_code == 503
        body = answer.json()
        assert body["error"] == "not_ready" and "the model" in body["message"]
        assert body["checks"] == {"database": {"ok": True}, "queue": {"ok": True}, "model": {"ok": False}}
        assert "/nowhere" not in answer.text and "model-dir" not in answer.text
    # An admin, and the server log: what was found.
    assert as_admin.status_code == 503
    assert as_admin.json()["checks"]["model"] == {"ok": False, "detail": found}
    assert found in as_admin.json()["message"]
    assert found in caplog.text


def test_readyz_tells_anyone_no_path_when_ready(client, api_app):
    answer = client.get("/readyz")
    assert all(set(check) == {"ok"} for check in answer.json()["checks"].values())
    assert str(api_app.state.settings.data_dir) not in answer.text
    assert "sqlite" not in answer.text and "pending" not in answer.text


def test_openapi_documents_every_route_with_errors(client):
    schema = client.get(f"{API}/openapi.json").json()
    for path in ("/memos", "/memos/{memo_id}", "/memos/{memo_id}/audio", "/drafts/{draft_id}",
                 "/drafts/{draft_id}/transitions", "/drafts/{draft_id}/revisions", "/worklist", "/readyz"):
        assert f"{API}{path}" in schema["paths"]
    upload_doc = schema["paths"][f"{API}/memos"]["post"]
    assert {"413", "415", "401"} <= set(upload_doc["responses"])
    assert "multipart/form-data" in upload_doc["requestBody"]["content"]
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schema["components"]["securitySchemes"])


def test_create_app_migrates_a_fresh_database(data_dir):
    from fastapi.testclient import TestClient

    from api import create_app
    from dictation.settings import get_settings

    app = create_app(get_settings())
    with TestClient(app) as http:
        assert http.get(f"{API}/memos").status_code == 401  # tables exist: auth ran a query path
        answer = http.get(f"{API}/readyz")
        assert answer.json()["checks"]["database"]["ok"]


def test_change_password_keeps_this_browser_and_signs_out_others(api_app):
    from fastapi.testclient import TestClient

    ada = make_person(api_app, "author")
    with TestClient(api_app) as laptop, TestClient(api_app) as phone:
        csrf = sign_in(laptop, ada)
        sign_in(phone, ada)
        wrong = laptop.post(
            f"{API}/users/me/password",
            json={"current_password": "nope", "new_password": "brand new pass"},
            headers={"X-CSRF-Token": csrf},
        )
        assert wrong.status_code == 403 and wrong.json()["message"] == "The current password is wrong."
        changed = laptop.post(
            f"{API}/users/me/password",
            json={"current_password": PASSWORD, "new_password": "brand new pass"},
            headers={"X-CSRF-Token": csrf},
        )
        assert changed.status_code == 200 and changed.json()["csrf_token"] != csrf
        assert laptop.get(f"{API}/users/me").status_code == 200
        assert phone.get(f"{API}/users/me").status_code == 401
    with TestClient(api_app) as other:
        assert other.post(f"{API}/session", json={"email": ada.email, "password": "brand new pass"}).status_code == 200


def test_sign_in_refused_with_429_after_five_wrong_passwords(client, api_app):
    person = make_person(api_app, "assistant")
    for _ in range(5):
        wrong = client.post("/api/v1/session", json={"email": person.email, "password": "guess"})
        assert wrong.status_code == 401
    refused = client.post("/api/v1/session", json={"email": person.email, "password": PASSWORD})
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.json()["message"]
    assert int(refused.headers["Retry-After"]) > 0
