"""Publishing over HTTP: destinations managed by admins (secrets never shown again, stored
encrypted), a draft published to the built-in blog through the queue, its address on the
memo, the blog at /blog/ with an Atom feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import select

from dictation import jobs
from dictation.models import Destination, Job
from dictation.publish import service as publishing
from tests.support.api import make_person

SECRET = "app-password that must never come back"


def _ready_draft(api_app, title: str) -> tuple[int, int]:
    from tests.support.dbfixtures import make_draft, make_memo, make_user

    with api_app.state.database.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        draft = make_draft(session, memo, title=title, body_markdown="Hello <script>alert(1)</script> **readers**.",
                           slug="", tags=["news"])
        return memo.id, draft.id


def test_add_destination_hides_secret_and_encrypts_it(client, api_app):
    admin, assistant = make_person(api_app, "admin"), make_person(api_app, "assistant")
    body = {"name": "wp", "kind": "wordpress", "url": "http://127.0.0.1:9/", "user": "admin", "secret": SECRET}
    assert client.post("/api/v1/destinations", json=body, headers=assistant.auth).status_code == 403
    answer = client.post("/api/v1/destinations", json=body, headers=admin.auth)
    assert answer.status_code == 201 and answer.json()["has_secret"] is True
    listed = client.get("/api/v1/destinations", headers=assistant.auth)
    assert SECRET not in answer.text + listed.text
    assert {d["name"] for d in listed.json()} == {"blog", "wp"}
    with api_app.state.database.session() as session:
        stored = session.scalar(select(Destination.secret_encrypted).where(Destination.name == "wp"))
        assert stored and SECRET not in stored
    again = client.post("/api/v1/destinations", json=body, headers=admin.auth)
    assert again.status_code == 409 and "already" in again.json()["message"]
    bad = client.post("/api/v1/destinations", json={**body, "name": "x", "url": None}, headers=admin.auth)
    assert bad.status_code == 422 and "address" in bad.json()["message"]


def test_publish_draft_to_builtin_blog_over_http(client, api_app):
    assistant = make_person(api_app, "assistant")
    memo_id, draft_id = _ready_draft(api_app, "Our spring plans")
    answer = client.post(f"/api/v1/drafts/{draft_id}/publish", json={}, headers=assistant.auth)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "scheduled" and answer.json()["destination"] == "blog"

    twice = client.post(f"/api/v1/drafts/{draft_id}/publish", json={}, headers=assistant.auth)
    assert twice.status_code == 409  # one publication at a time
    with api_app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH))
    queue = jobs.make_queue(api_app.state.settings)
    assert jobs.run_job(job_id, api_app.state.settings, queue) == "done"

    memo = client.get(f"/api/v1/memos/{memo_id}", headers=assistant.auth).json()
    assert memo["status"] == "published" and memo["published_url"].endswith("/blog/our-spring-plans/")
    listed = client.get(f"/api/v1/drafts/{draft_id}/publications", headers=assistant.auth).json()
    assert listed[0]["remote_url"] == memo["published_url"]

    index = client.get("/blog/")
    assert index.status_code == 200 and "Our spring plans" in index.text
    post = client.get("/blog/our-spring-plans/")
    assert "<script>alert(1)</script>" not in post.text and "&lt;script&gt;" in post.text
    feed = client.get("/blog/feed.xml")
    entries = ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert [e.findtext("{http://www.w3.org/2005/Atom}title") for e in entries] == ["Our spring plans"]


def test_publish_refused_for_author_and_unknown_destination(client, api_app):
    author, assistant = make_person(api_app, "author"), make_person(api_app, "assistant")
    _, draft_id = _ready_draft(api_app, "Not yet")
    assert client.post(f"/api/v1/drafts/{draft_id}/publish", json={}, headers=author.auth).status_code in (403, 404)
    missing = client.post(f"/api/v1/drafts/{draft_id}/publish", json={"destination": "nowhere"}, headers=assistant.auth)
    assert missing.status_code == 404 and "nowhere" in missing.json()["message"]
