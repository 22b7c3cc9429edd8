"""Unpublishing from the built-in blog withdraws the post's audio too, and lets the memo be
deleted or archived afterwards (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from dictation import jobs
from dictation.models import Draft, Job, Memo, User
from dictation.publish import service as publishing
from dictation.storage import MediaStore
from tests.support.api import make_person, sine_wav

API = "/api/v1"


def _published_with_audio(client, api_app, title: str):
    """A memo whose real recording is published with its post on a blog that attaches audio."""
    from tests.support.dbfixtures import make_draft, make_memo

    admin, assistant = make_person(api_app, "admin"), make_person(api_app, "assistant")
    author = make_person(api_app, "author")
    added = client.post(f"{API}/destinations", json={"name": "voice", "kind": "blog", "attach_audio": True},
                        headers=admin.auth)
    assert added.status_code == 201, added.text
    stored = MediaStore(api_app.state.settings.media_dir).save_stream(sine_wav(0.5))
    with api_app.state.database.session() as session:
        memo = make_memo(session, session.get_one(User, author.id), status="in_review", playback_sha256=stored.sha256)
        draft_id, memo_id = make_draft(session, memo, title=title, body_markdown="Hello readers.").id, memo.id
    queued = client.post(f"{API}/drafts/{draft_id}/publish", json={"destination": "voice"}, headers=assistant.auth)
    assert queued.status_code == 202, queued.text
    with api_app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH, Job.memo_id == memo_id))
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "done"
    return admin, assistant, author, memo_id, draft_id


def _media_link(client, slug: str) -> str:
    page = client.get(f"/blog/{slug}/")
    assert page.status_code == 200
    start = page.text.index("/blog/media/")
    return page.text[start:page.text.index('"', start)]


def test_unpublish_withdraws_blog_audio_then_memo_deletes(client, api_app):
    admin, assistant, author, memo_id, draft_id = _published_with_audio(client, api_app, "Spring audio")
    media = _media_link(client, "spring-audio")
    heard = client.get(media)
    assert heard.status_code == 200 and heard.content == sine_wav(0.5)
    live = client.delete(f"{API}/memos/{memo_id}", headers=author.auth)
    assert live.status_code == 409 and "unpublish it" in live.json()["message"]

    down = client.post(f"{API}/drafts/{draft_id}/unpublish", json={"destination": "voice"}, headers=assistant.auth)
    assert down.status_code == 200 and down.json()["status"] == "unpublished"
    assert client.get("/blog/spring-audio/").status_code == 404
    assert client.get(media).status_code == 404

    assert client.delete(f"{API}/memos/{memo_id}", headers=author.auth).status_code == 204
    with api_app.state.database.session() as session:
        assert session.get(Memo, memo_id) is None and session.get(Draft, draft_id) is None


def test_unpublish_then_archive_memo_and_publish_again_restores_audio(client, api_app):
    admin, assistant, author, memo_id, draft_id = _published_with_audio(client, api_app, "Summer audio")
    media = _media_link(client, "summer-audio")
    client.post(f"{API}/drafts/{draft_id}/unpublish", json={"destination": "voice"}, headers=assistant.auth)
    assert client.get(media).status_code == 404
    # Publishing again copies the memo's recording back.
    again = client.post(f"{API}/drafts/{draft_id}/publish", json={"destination": "voice"}, headers=assistant.auth)
    assert again.status_code == 202, again.text
    with api_app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH, Job.memo_id == memo_id)
                                .order_by(Job.id.desc()).limit(1))
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "done"
    assert client.get(_media_link(client, "summer-audio")).status_code == 200

    client.post(f"{API}/drafts/{draft_id}/unpublish", json={"destination": "voice"}, headers=assistant.auth)
    archived = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "archive"}, headers=admin.auth)
    assert archived.status_code == 200 and archived.json()["to_state"] == "archived"
    assert client.get(media).status_code == 404
