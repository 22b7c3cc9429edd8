"""The workflow sends its e-mails through a real SMTP server (aiosmtpd): a draft ready goes
to the assistants, a sign-off request and a publication to the author."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from dictation import jobs
from dictation.memos import processing
from dictation.models import Draft, Job, Memo, User
from dictation.publish import service as publishing
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.dbfixtures import make_draft, make_memo, make_user
from tests.support.mail import SMTP_PASSWORD as PASSWORD
from tests.support.mail import SMTP_USER


@pytest.fixture
def settings_changes(smtp_server):
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_user": SMTP_USER,
            "smtp_password": PASSWORD, "smtp_starttls": "false", "public_url": "https://desk.example"}


@pytest.fixture
def mail_settings(db, settings):
    yield settings
    jobs.dispose_databases()


def test_send_mail_to_assistants_when_draft_ready(db, mail_settings, smtp_server):
    stored = MediaStore(mail_settings.media_dir).save_stream(shared_file("audio/real/jfk.flac").open("rb"))
    with db.session() as session:
        make_user(session, "assistant", email="ann@example.test")
        make_user(session, "author", email="not-an-assistant@example.test")
        memo = make_memo(session, make_user(session, "author", name="Claire"), status="received",
                         title="Ask not", media_sha256=stored.sha256, size_bytes=stored.size)
        job = processing.enqueue_processing(session, memo, jobs.make_queue(mail_settings))
    assert jobs.run_job(job.id, mail_settings, jobs.make_queue(mail_settings)) == "done"

    (recipients, message), = smtp_server.messages
    assert recipients == ["ann@example.test"]
    assert message["Subject"] == "New draft ready: Ask not"
    assert f"https://desk.example/memos/{memo.id}" in message.get_content()


def test_send_mail_to_author_on_signoff_request_and_publication(db, mail_settings, smtp_server):
    from fastapi.testclient import TestClient

    from api import create_app
    from dictation import accounts

    app = create_app(mail_settings, migrate=False)
    with app.state.database.session() as session:
        author = make_user(session, "author", email="ceo@example.test")
        assistant = make_user(session, "assistant")
        memo = make_memo(session, author, status="ready")
        draft = make_draft(session, memo, title="Spring plans", assignee_id=None)
        _, token = accounts.create_token(session, assistant, "t")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        for action in ("claim", "submit_for_approval"):
            answer = client.post(f"/api/v1/drafts/{draft.id}/transitions", json={"action": action}, headers=headers)
            assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 10
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    (recipients, message), = smtp_server.messages
    assert recipients == ["ceo@example.test"] and message["Subject"] == "Sign-off requested: Spring plans"

    with db.session() as session:
        memo = session.get(Memo, memo.id)
        memo.status = "approved"
        publishing.request_publication(session, session.get(Draft, draft.id), None, session.get(User, assistant.id),
                                       queue=jobs.make_queue(mail_settings))
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH))
    assert jobs.run_job(job_id, mail_settings, jobs.make_queue(mail_settings)) == "done"
    recipients, message = smtp_server.messages[-1]
    assert recipients == ["ceo@example.test"] and message["Subject"] == "Published: Spring plans"
    assert "/blog/spring-plans/" in message.get_content()
    app.state.database.dispose()
