"""A corpus of hostile inputs, each answered with a clear refusal (4xx and a sentence) or
rendered inert: ids past any integer column, control characters in addresses, titles and
comments, lone surrogates, path tricks and line breaks in file names, HTML and script in
everything a page shows, `javascript:` links, CMS answers that are not JSON."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dictation import jobs
from dictation.models import Comment, Job
from dictation.publish import destinations
from dictation.publish import service as publishing
from tests.support.api import PASSWORD, make_person, sine_wav, upload
from tests.support.canned_http import CannedServer
from tests.support.dbfixtures import make_draft, make_memo

HUGE = "99999999999999999999"  # past 64 bits
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def web(api_app):
    from review_ui.app import create_app

    app = create_app(api_app.state.settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.full_app = app
        yield client


def _signed_in(web, person) -> str:
    answer = web.post("/api/v1/session", json={"email": person.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["csrf_token"]


def _routes(app):
    """Every route, those of included routers too (FastAPI keeps those behind a wrapper)."""
    for route in app.routes:
        if hasattr(route, "effective_candidates"):
            yield from route.effective_candidates()
        else:
            yield route


def _id_routes(app) -> list[tuple[str, str]]:
    found = []
    for route in _routes(app):
        path = getattr(route, "path", "")
        if re.search(r"\{\w*id\}", path) or "{version}" in path:
            found += [(method, path) for method in sorted(getattr(route, "methods", ()) or ()) if method != "HEAD"]
    return found


def test_refuse_ids_beyond_any_integer_on_every_id_route(web, api_app):
    admin = make_person(api_app, "admin")
    csrf = _signed_in(web, admin)
    routes = _id_routes(web.full_app)
    assert len(routes) > 15, routes  # the API's and the pages' id routes were found
    for method, path in routes:
        url = re.sub(r"\{\w+\}", HUGE, path)
        answer = web.request(method, url, headers={"X-CSRF-Token": csrf, "If-Match": '"1"'}, json={})
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text[:200])
        if path.startswith("/api/"):
            assert answer.json()["message"].endswith("."), (method, path)


@pytest.mark.parametrize(("path", "status"), [
    ("/blog/a%00b/", 400), ("/api/v1/memos/1%00", 400), ("/blog/" + "a" * 5000 + "/", 404),
    ("/blog/media/" + "b" * 5000, 404), ("/blog/tags/" + "c" * 5000 + "/", 404), ("/memos/1%0d%0aSet-Cookie:x=1", 400),
])
def test_refuse_hostile_addresses_with_a_sentence(web, path, status):
    answer = web.get(path)
    assert answer.status_code == status
    if status == 400:
        assert "control character" in answer.json()["message"]


def test_refuse_lone_surrogate_in_sign_in_email(web, api_app):
    raw = b'{"email": "\\ud800ada@example.com", "password": "whatever"}'
    answer = web.post("/api/v1/session", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "broken character" in answer.json()["message"]


def test_clean_control_characters_in_comments_and_titles(web, api_app):
    assistant, author = make_person(api_app, "assistant"), make_person(api_app, "author")
    with api_app.state.database.session() as session:
        memo = make_memo(session, _user(session, author), status="ready")
        draft_id = make_draft(session, memo).id
    said = web.post(f"/api/v1/drafts/{draft_id}/comments", headers=assistant.auth,
                    json={"body": "Fine\x00 by me\x07.\nSecond line"})
    assert said.status_code == 201, said.text
    assert said.json()["body"] == "Fine by me.\nSecond line"  # NUL gone (PostgreSQL refuses it), lines kept
    with api_app.state.database.session() as session:
        assert session.scalar(select(Comment.body).where(Comment.draft_id == draft_id)) == "Fine by me.\nSecond line"
    draft = web.get(f"/api/v1/drafts/{draft_id}", headers=assistant.auth).json()
    claimed = web.post(f"/api/v1/drafts/{draft_id}/transitions", headers=assistant.auth, json={"action": "claim"})
    assert claimed.status_code == 200, claimed.text
    saved = web.patch(f"/api/v1/drafts/{draft_id}", headers={**assistant.auth, "If-Match": f'"{draft["version"]}"'},
                      json={"title": "Q3\x0b results\r\nBcc: everyone@example.com", "tags": ["a\x00b"]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["title"] == "Q3  results Bcc: everyone@example.com" and saved.json()["tags"] == ["ab"]


def _user(session, person):
    from dictation.models import User

    return session.get(User, person.id)


def test_keep_feed_valid_with_control_characters_in_a_stored_title(tmp_path):
    from dictation.publish.cms import Destination, Post, get_publisher
    from dictation.publish.cms.blog import Blog
    from dictation.settings import Settings

    settings = Settings(data_dir=tmp_path)
    publisher = get_publisher(Destination(kind="blog"), settings)
    # Written straight to the publisher, as a title saved before input cleaning existed would be.
    publisher.create(Post(draft_id="d1", title="Results\x01 of Q3\x1b", slug="results", body_markdown="Up \x02 go."))
    publisher.create(Post(draft_id="d2", title="Second", slug="second", body_markdown="Fine."))
    status, _, feed = Blog(settings).page("feed.xml")
    titles = [e.text for e in ET.fromstring(feed).iter("{http://www.w3.org/2005/Atom}title")]
    assert status == 200 and "Results of Q3" in titles and "Second" in titles


def test_send_mail_with_line_breaks_in_title_on_one_subject_line(smtp_server, tmp_path):
    from dictation.notify import Mailer
    from dictation.settings import Settings

    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False)
    delivery = Mailer(settings).published("ada@example.com", "Q3 plans\r\nBcc: all@example.com", "http://x/p")
    assert delivery.sent, delivery.error
    (recipients, message), = smtp_server.messages
    assert recipients == ["ada@example.com"] and message["Bcc"] is None
    assert message["Subject"] == "Published: Q3 plans Bcc: all@example.com"


@pytest.mark.parametrize("name", ["../../etc/passwd.wav", "memo\r\nSet-Cookie: a=b.wav", "mémo d'été 🎙.wav",
                                  "..\\..\\boot.ini.wav"])
def test_echo_upload_name_without_path_or_line_break(web, api_app, name):
    author = make_person(api_app, "author")
    made = upload(web, sine_wav(0.5, freq=300 + len(name)), headers=author.auth, filename=name)
    assert made.status_code in (200, 201), made.text
    audio = web.get(f"/api/v1/memos/{made.json()['id']}/audio", headers=author.auth)
    assert audio.status_code == 200
    disposition = audio.headers["content-disposition"]
    assert "filename" in disposition and "Set-Cookie" not in audio.headers
    for trick in ("/", "\\", "..", "\r", "\n", "%2F", "%0D", "%0A"):
        assert trick not in disposition, (name, disposition)


def test_render_markup_inert_on_every_page_that_shows_it(web, api_app):
    author, assistant = make_person(api_app, "author"), make_person(api_app, "assistant")
    words = [{"word": f" {SCRIPT}", "start": 0.0, "end": 0.5, "probability": 0.9}]
    with api_app.state.database.session() as session:
        memo = make_memo(session, _user(session, author), status="awaiting_approval", title=f"Memo {SCRIPT}",
                         note=f"Note {SCRIPT}", original_filename=f"{SCRIPT}.wav",
                         transcript={"segments": [{"start": 0.0, "end": 0.5, "text": SCRIPT, "words": words}]})
        draft = make_draft(session, memo, title=f"Draft {SCRIPT}",
                           body_markdown=f"Body {SCRIPT} [click](javascript:alert(1)) [also](JaVaScRiPt:alert(2))")
        session.add(Comment(draft_id=draft.id, user_id=assistant.id, body=f"Comment {SCRIPT}"))
        memo_id = memo.id
    pages = [(assistant, ["/worklist", f"/memos/{memo_id}", f"/memos/{memo_id}/diff"]),
             (author, ["/phone", f"/phone/memos/{memo_id}"])]  # the last one is the sign-off page
    for person, paths in pages:
        _signed_in(web, person)
        for path in paths:
            page = web.get(path)
            assert page.status_code == 200, (path, page.status_code)
            # escaped (&lt;) in HTML, \u003c in the pages' JSON data: never a live tag
            assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
            assert not re.search(r"""href=["']?\s*javascript:""", page.text, re.I), path
        web.delete("/api/v1/session", headers={"X-CSRF-Token": _signed_in(web, person)})
    csrf = _signed_in(web, assistant)
    body = {"title": SCRIPT, "body_markdown": f"{SCRIPT} [x](javascript:alert(1))", "memo_id": memo_id}
    preview = web.post("/preview", headers={"X-CSRF-Token": csrf}, json=body)
    assert preview.status_code == 200 and "<script>alert" not in preview.text
    assert not re.search(r"""href=["']?\s*javascript:""", preview.text, re.I)
    assert "&lt;script&gt;" in preview.text


def test_refuse_cms_answer_that_is_not_json_with_a_sentence(web, api_app):
    assistant, author = make_person(api_app, "assistant"), make_person(api_app, "author")
    html = b"<html><body>Login required at /srv/intranet/sso.php</body></html>"
    with CannedServer(200, html, "text/html") as fake_cms:
        with api_app.state.database.session() as session:
            destinations.add_destination(session, api_app.state.settings, "wp", "wordpress", url=fake_cms.url,
                                         user="desk", secret="app password")
            memo = make_memo(session, _user(session, author), status="in_review")
            draft_id = make_draft(session, memo, title="Spring plans", slug="spring-plans").id
            memo_id = memo.id
        answer = web.post(f"/api/v1/drafts/{draft_id}/publish", json={"destination": "wp"}, headers=assistant.auth)
        assert answer.status_code == 202, answer.text
        with api_app.state.database.session() as session:
            job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH))
        jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings))
    memo = web.get(f"/api/v1/memos/{memo_id}", headers=assistant.auth).json()
    assert memo["status"] == "failed" and "not the JSON expected" in memo["error"]
    assert "/srv" not in json.dumps(memo) and "Login required" not in json.dumps(memo)


def test_clean_upload_details_from_both_doors_once(web, api_app):
    author = make_person(api_app, "author")
    made = upload(web, sine_wav(0.5, freq=777), headers=author.auth, filename="../../x/memo.wav",
                  title="Q3\x00 plan\r\nBcc: x@example.com", note="first\x07 line\nsecond")
    assert made.status_code in (200, 201), made.text
    memo = made.json()
    memo = memo.get("memo", memo)
    assert memo["title"] == "Q3 plan Bcc: x@example.com" and memo["note"] == "first line\nsecond"
    assert memo["original_filename"] == "memo.wav"


def test_throttle_guesser_without_locking_the_owner_and_ignore_spoofed_forwarding(api_app):
    from review_ui.app import create_app

    owner = make_person(api_app, "author")
    app = create_app(api_app.state.settings.model_copy(update={"trusted_proxies": "10.9.0.0/16"}))
    wrong = {"email": owner.email, "password": "not the password"}
    with TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.7", 5000)) as guesser:
        for n in range(5):  # a different spoofed X-Forwarded-For each time changes nothing
            answer = guesser.post("/api/v1/session", json=wrong, headers={"X-Forwarded-For": f"198.51.100.{n}"})
            assert answer.status_code == 401
        refused = guesser.post("/api/v1/session", json=wrong, headers={"X-Forwarded-For": "198.51.100.99"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "try again in" in refused.json()["message"]
    with TestClient(app, base_url="http://127.0.0.1", client=("198.51.100.20", 5000)) as owner_elsewhere:
        right = owner_elsewhere.post("/api/v1/session", json={"email": owner.email, "password": PASSWORD})
        assert right.status_code == 200  # the account itself is not locked
    with TestClient(app, base_url="http://127.0.0.1", client=("10.9.0.5", 5000)) as proxy:
        # Behind our proxy, the client is the forwarded address: the guesser is still held up...
        held = proxy.post("/api/v1/session", json=wrong, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
        assert held.status_code == 429
        # ...and another client behind the same proxy is not.
        other = proxy.post("/api/v1/session", json=wrong, headers={"X-Forwarded-For": "192.0.2.44"})
        assert other.status_code == 401
