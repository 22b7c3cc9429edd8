"""No secret ever comes back: a whole publish to each CMS kind (the real WordPress, Ghost and
Micropub peers, a webhook receiver), once with the right secret and once with a wrong one,
with DEBUG logs and an SMTP server that needs its password, while every log line, API
answer, memo error, e-mail and page is searched for each secret."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dictation import jobs
from dictation.models import Job, User
from dictation.publish import service as publishing
from tests.support.api import PASSWORD, make_person
from tests.support.canned_http import CannedServer
from tests.support.dbfixtures import make_draft, make_memo
from tests.support.mail import SMTP_PASSWORD, SMTP_USER

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"webhook signing key 0123456789ab").decode()
WRONG = {"wordpress": "wrng pass word xxxx yyyy zzzz", "ghost": "6f1e0c2b9a8d7e6f5a4b3c2d:" + "ab" * 32,
         "micropub": "wrong-micropub-token-8843", "webhook": "whsec_" + base64.b64encode(b"wrong key!" * 3).decode()}


def _destination(kind: str, request) -> tuple[dict, list[str]]:
    """(the API body for a destination of this kind, the secrets it holds)."""
    if kind == "wordpress":
        peer = request.getfixturevalue("wordpress_peer")
        body = {"url": peer["WP_BASE_URL"], "user": peer["WP_USER"], "secret": peer["WP_APP_PASSWORD"]}
        return body, [peer["WP_APP_PASSWORD"], peer["WP_APP_PASSWORD"].replace(" ", "")]
    if kind == "ghost":
        peer = request.getfixturevalue("ghost_peer")
        key = peer["GHOST_ADMIN_KEY"]
        return {"url": peer["GHOST_URL"], "secret": key}, [key, key.split(":", 1)[1]]
    if kind == "micropub":
        peer = request.getfixturevalue("micropub_peer")
        return {"url": peer["MICROPUB_ENDPOINT"], "secret": peer["MICROPUB_TOKEN"]}, [peer["MICROPUB_TOKEN"]]
    receiver = CannedServer(200, b'{"id": "p-1", "url": "https://cms.example/p-1"}')
    request.addfinalizer(receiver.close)
    return {"url": receiver.url, "secret": WEBHOOK_SECRET}, [WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_")]


@pytest.fixture
def desk(db, smtp_server):
    from dictation.settings import get_settings
    from review_ui.app import create_app

    settings = get_settings().model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_user": SMTP_USER,
        "smtp_password": SMTP_PASSWORD, "smtp_starttls": False, "log_level": "DEBUG",
        "publish_max_attempts": 1, "publish_backoff_s": 0.01,
    })
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield app, client


def _publish(app, client, assistant, author, destination: str, title: str) -> dict:
    with app.state.database.session() as session:
        memo = make_memo(session, session.get(User, author.id), status="in_review", title=title)
        draft_id, memo_id = make_draft(session, memo, title=title, body_markdown="We **grew**.").id, memo.id
    answer = client.post(f"/api/v1/drafts/{draft_id}/publish", json={"destination": destination},
                         headers=assistant.auth)
    assert answer.status_code == 202, answer.text
    with app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH, Job.memo_id == memo_id))
    jobs.run_job(job_id, app.state.settings, jobs.make_queue(app.state.settings))
    return client.get(f"/api/v1/memos/{memo_id}", headers=assistant.auth).json()


@pytest.mark.peers
@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.peers(kind))
                                  for kind in ("wordpress", "ghost", "micropub", "webhook")])
def test_keep_every_secret_out_of_logs_answers_errors_mail_and_pages(kind, desk, smtp_server, request, caplog):
    app, client = desk
    caplog.set_level(logging.DEBUG)
    body, secrets = _destination(kind, request)
    secrets += [WRONG[kind], SMTP_PASSWORD]
    admin, assistant = make_person(app, "admin"), make_person(app, "assistant")
    author = make_person(app, "author")
    seen: list[str] = []

    for name, secret in (("right", body["secret"]), ("wrong", WRONG[kind])):
        added = client.post("/api/v1/destinations", headers=admin.auth,
                            json={**body, "secret": secret, "name": f"{kind}-{name}", "kind": kind})
        assert added.status_code == 201, added.text
        seen.append(added.text)
    good = _publish(app, client, assistant, author, f"{kind}-right", f"Leak check {kind}")
    assert good["status"] == "published", good["error"]
    bad = _publish(app, client, assistant, author, f"{kind}-wrong", f"Leak check {kind} again")
    if kind != "webhook":  # the canned receiver takes any signature; the CMSs refuse a wrong secret
        assert bad["status"] == "failed" and "HTTP 40" in bad["error"], bad
    seen += [json.dumps(good), json.dumps(bad)]
    for memo in (good, bad):
        seen.append(client.get(f"/api/v1/drafts/{memo['draft_id']}/publications", headers=assistant.auth).text)
    seen.append(client.get("/api/v1/destinations", headers=admin.auth).text)
    seen.append(client.get("/api/v1/worklist", headers=assistant.auth).text)

    for person, pages in ((admin, ["/admin/destinations"]), (assistant, ["/worklist", f"/memos/{bad['id']}"])):
        signed = client.post("/api/v1/session", json={"email": person.email, "password": PASSWORD})
        assert signed.status_code == 200
        seen += [client.get(page).text for page in pages]
    assert smtp_server.messages, "the published mail went through the password-protected SMTP server"
    seen += [message.as_string() for _, message in smtp_server.messages]
    logs = [record.getMessage() for record in caplog.records]
    logs += [caplog.text]
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    if kind != "webhook":  # the refusal was logged (with the CMS's answer), and searched below
        assert any("answered HTTP 40" in line for line in logs)

    for secret in secrets:
        for where, texts in (("answers, errors, mail and pages", seen), ("logs", logs)):
            leaked = [text[:300] for text in texts if secret in text]
            assert not leaked, f"{kind}: a secret appeared in the {where}: {leaked}"
