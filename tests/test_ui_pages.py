"""The pages and the resumable upload endpoint over HTTP (no browser, no transcription):
who sees which page, escaping, CSRF, the language, and tus ownership and completion."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import shared_file

PASSWORD = "correct horse battery"


@pytest.fixture
def app(data_dir):
    from dictation import accounts
    from dictation.settings import Settings
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0))
    with app.state.database.session() as session:
        accounts.create_user(session, "alice@example.com", "assistant", password=PASSWORD, name="Alice")
        accounts.create_user(session, "erin@example.com", "author", password=PASSWORD, name="Erin")
        accounts.create_user(session, "fred@example.com", "author", password=PASSWORD, name="Fred", language="fr")
    return app


def signed_in(app, email: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    answer = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def add_memo(app, email: str, title: str, **values):
    from sqlalchemy import select

    from dictation.models import Memo, User

    with app.state.database.session() as session:
        author = session.scalar(select(User).where(User.email == email))
        memo = Memo(author_id=author.id, title=title, media_sha256=hashlib.sha256(title.encode()).hexdigest(), **values)
        session.add(memo)
        session.flush()
        return memo.id


def test_send_strangers_to_sign_in(app):
    client = TestClient(app)
    for path in ("/", "/worklist", "/memos/1", "/phone", "/tokens"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_send_authors_to_phone_page(app):
    client, _ = signed_in(app, "erin@example.com")
    assert client.get("/", follow_redirects=False).headers["location"] == "/phone"
    assert client.get("/worklist", follow_redirects=False).headers["location"] == "/phone"


def test_hide_other_authors_memos(app):
    memo_id = add_memo(app, "erin@example.com", "Erin's secret")
    client, _ = signed_in(app, "fred@example.com")
    answer = client.get(f"/phone/memos/{memo_id}")
    assert answer.status_code == 404 and "Erin's secret" not in answer.text


def test_escape_memo_text_in_worklist(app):
    add_memo(app, "erin@example.com", "<script>alert('x')</script>", note="<b>bold</b>")
    client, _ = signed_in(app, "alice@example.com")
    page = client.get("/worklist").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>bold</b>" not in page


def test_count_memos_per_state_and_filter(app):
    add_memo(app, "erin@example.com", "Urgent one", priority="urgent", status="ready")
    add_memo(app, "erin@example.com", "Normal one", status="failed", error="The file was empty.")
    client, _ = signed_in(app, "alice@example.com")
    page = client.get("/worklist").text
    assert re.search(r'data-state="ready".*?<b>1</b>', page, re.S)
    assert "The file was empty." in page and "data-retry" in page
    filtered = client.get("/worklist", params={"priority": "urgent"}).text
    assert "Urgent one" in filtered and "Normal one" not in filtered


def test_diff_draft_against_machine_text(app):
    from dictation.models import Draft

    memo_id = add_memo(app, "erin@example.com", "Diffed", status="ready")
    with app.state.database.session() as session:
        session.add(Draft(memo_id=memo_id, title="Diffed", machine_markdown="the cat sat <here>",
                          body_markdown="the dog sat <here>"))
    client, _ = signed_in(app, "alice@example.com")
    fragment = client.get(f"/memos/{memo_id}/diff").text
    assert "<del>cat</del>" in fragment and "<ins>dog</ins>" in fragment and "&lt;here&gt;" in fragment
    assert "1 words added, 1 removed" in fragment


def test_sanitise_preview_and_require_csrf(app):
    client, csrf = signed_in(app, "alice@example.com")
    body = {"title": "T", "body_markdown": "Hello <script>alert(1)</script> [x](javascript:alert(1))"}
    assert client.post("/preview", json=body).status_code == 403
    page = client.post("/preview", json=body, headers={"X-CSRF-Token": csrf}).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "href=\"javascript:" not in page  # shown as text at most, never a link


def test_speak_french_to_french_user_and_browser(app):
    client, csrf = signed_in(app, "fred@example.com")
    assert 'lang="fr"' in client.get("/phone").text and "Enregistrer un mémo" in client.get("/phone").text
    client, csrf = signed_in(app, "erin@example.com")
    assert "Record a memo" in client.get("/phone").text
    assert "Enregistrer un mémo" in client.get("/phone", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}).text
    answer = client.post("/language", data={"language": "fr", "csrf_token": csrf, "next": "/tokens"},
                         follow_redirects=False)
    assert answer.headers["location"] == "/tokens"
    assert "Jetons d’API" in client.get("/tokens").text


def test_refuse_language_change_without_csrf(app):
    client, _ = signed_in(app, "erin@example.com")
    answer = client.post("/language", data={"language": "fr", "csrf_token": "forged"})
    assert answer.status_code == 403
    assert "Record a memo" in client.get("/phone").text


# --- tus ----------------------------------------------------------------------------------


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create_upload(client: TestClient, csrf: str, size: int, **meta: str):
    return client.post("/api/v1/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Upload-Metadata": metadata(**meta),
        "X-CSRF-Token": csrf,
    })


def patch(client: TestClient, csrf: str, url: str, offset: int, data: bytes):
    return client.patch(url, content=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), "X-CSRF-Token": csrf,
        "Content-Type": "application/offset+octet-stream",
    })


def test_make_memo_from_resumable_upload(app):
    data = shared_file("audio/real/jfk.flac").read_bytes()
    client, csrf = signed_in(app, "erin@example.com")
    assert create_upload(TestClient(app), "", len(data)).status_code == 401
    assert create_upload(client, "forged", len(data)).status_code == 403
    created = create_upload(client, csrf, len(data), filename="jfk.flac", title="Ask not", priority="high")
    assert created.status_code == 201
    url = created.headers["location"]
    half = len(data) // 2
    assert patch(client, csrf, url, 0, data[:half]).status_code == 204
    # Another author cannot see or feed this upload.
    other, other_csrf = signed_in(app, "fred@example.com")
    assert other.head(url, headers={"Tus-Resumable": "1.0.0"}).status_code == 404
    assert patch(other, other_csrf, url, half, data[half:]).status_code == 404
    head = client.head(url, headers={"Tus-Resumable": "1.0.0"})
    assert head.headers["upload-offset"] == str(half)
    done = patch(client, csrf, url, half, data[half:])
    assert done.status_code == 204
    memo = client.get(f"/api/v1/memos/{done.headers['memo-id']}").json()
    assert memo["title"] == "Ask not" and memo["priority"] == "high" and memo["size_bytes"] == len(data)
    # Asked again after completion (the answer was lost): the memo, not a new upload.
    again = client.head(url, headers={"Tus-Resumable": "1.0.0"})
    assert again.status_code == 204 and again.headers["memo-id"] == done.headers["memo-id"]
    assert again.headers["upload-offset"] == str(len(data))


def test_refuse_resumable_upload_that_is_not_audio(app):
    data = b"%PDF-1.7\n" + b"x" * 5000
    client, csrf = signed_in(app, "erin@example.com")
    url = create_upload(client, csrf, len(data), filename="report.pdf").headers["location"]
    answer = patch(client, csrf, url, 0, data)
    assert answer.status_code == 415 and "not audio" in answer.json()["message"]
    assert client.get("/api/v1/memos").json()["total"] == 0
