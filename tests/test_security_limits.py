"""Issue 9, hole 7: one limit for JSON and form bodies, counted as they stream in (the memo
upload routes keep their own), and field limits that match the database columns, so a long
string is a 422 with a sentence, never a 500 from PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.api import PASSWORD, make_person, sine_wav, upload

API = "/api/v1"


def test_refuse_large_json_body_with_sentence(client):
    answer = client.post(f"{API}/session", content=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    assert "1024 KB" in answer.json()["message"]


def test_refuse_streamed_body_without_length(client):
    def chunks():
        for _ in range(40):
            yield b" " * 65536  # 2.5 MB of JSON whitespace, sent without Content-Length

    answer = client.post(f"{API}/session", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"


def test_stop_reading_oversized_body_on_real_server(api_server):
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(1600):  # 100 MB, if the server kept reading
            sent += 65536
            yield b" " * 65536

    try:
        answer = httpx.post(f"{api_server}{API}/session", content=chunks(), timeout=60,
                            headers={"Content-Type": "application/json"})
        assert answer.status_code == 413
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered and closed while we were still sending: also a refusal
    assert sent < 100 * 1024 * 1024, "the server read the whole 100 MB body"


def test_accept_memo_upload_above_body_limit(data_dir):
    from api import create_app
    from dictation.settings import Settings

    app = create_app(Settings(data_dir=data_dir, workers=0, max_body_kb=16))
    ada = make_person(app, "author")
    with TestClient(app) as http:
        answer = upload(http, sine_wav(2.0), headers=ada.auth)  # 64 KB
        assert answer.status_code == 201, answer.text
        too_big = http.post(f"{API}/tokens", json={"name": "x" * 100, "pad": "y" * 20_000}, headers=ada.auth)
        assert too_big.status_code == 413
    app.state.database.dispose()


@pytest.mark.parametrize("field, value", [
    ("name", "N" * 201), ("language", "en-GB-x-long"), ("email", "a" * 320 + "@example.test"),
])
def test_refuse_user_field_longer_than_column(client, api_app, field, value):
    boss = make_person(api_app, "admin")
    body = {"email": "new@example.test", "role": "author", field: value}
    answer = client.post(f"{API}/users", json=body, headers=boss.auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] != "internal"


def test_accept_user_fields_at_column_length(client, api_app):
    boss = make_person(api_app, "admin")
    answer = client.post(f"{API}/users", headers=boss.auth,
                         json={"email": "full@example.test", "role": "author", "name": "N" * 200, "language": "fr"})
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("patch", [{"tags": ["t" * 101]}, {"tags": ["x"] * 51}, {"excerpt": "e" * 5001},
                                   {"body_markdown": "b" * 300_001}])
def test_refuse_draft_field_beyond_limit(client, api_app, patch):
    from dictation.models import Draft, Memo
    from tests.support.dbfixtures import make_draft, make_memo, make_user

    eve = make_person(api_app, "assistant")
    with api_app.state.database.session() as session:
        author = make_user(session, "author")
        draft = make_draft(session, make_memo(session, author, status="in_review"))
        draft.assignee_id = eve.id
        draft_id = draft.id
    answer = client.patch(f"{API}/drafts/{draft_id}", json=patch, headers={**eve.auth, "If-Match": '"1"'})
    assert answer.status_code in (413, 422), answer.text
    with api_app.state.database.session() as session:
        assert session.get(Draft, draft_id).version == 1 and session.get(Memo, draft.memo_id) is not None


@pytest.mark.parametrize("body", [{"name": "site", "kind": "webhook", "url": "https://example.test/" + "p" * 500},
                                  {"name": "wp", "kind": "wordpress", "url": "https://example.test/",
                                   "user": "u" * 201, "secret": "s3cret"}])
def test_refuse_destination_field_longer_than_column(client, api_app, body):
    boss = make_person(api_app, "admin")
    answer = client.post(f"{API}/destinations", json=body, headers=boss.auth)
    assert answer.status_code == 422, answer.text


def test_refuse_huge_password_at_sign_in(client, api_app):
    ada = make_person(api_app, "author")
    answer = client.post(f"{API}/session", json={"email": ada.email, "password": PASSWORD + "x" * 1000})
    assert answer.status_code == 422
