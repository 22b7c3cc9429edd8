"""Browser defences on every answer (CSP, nosniff, no framing, referrer policy), and the desk
working under its policy in Chromium: no page reports a CSP violation, and a remote image
in a draft is never fetched by the reviewer's browser."""

from __future__ import annotations

import re

import pytest

from review_ui.context import STATIC
from tests.conftest import ROOT, shared_file
from tests.support.browser import Account, run_live_server
from tests.support.canned_http import CannedServer

TEMPLATES = ROOT / "review_ui" / "templates"


@pytest.fixture
def web(api_app):
    """The whole app (pages, static files, blog, API) on the test database."""
    from fastapi.testclient import TestClient

    from review_ui.app import create_app

    app = create_app(api_app.state.settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def _policy(answer) -> dict[str, str]:
    return {part.split()[0]: part for part in answer.headers["content-security-policy"].split("; ")}


@pytest.mark.parametrize("path", [
    "/login", "/api/v1/memos", "/static/css/desk.css", "/nowhere", "/blog/", "/api/v1/docs",
])
def test_send_browser_defences_on_every_kind_of_answer(web, path):
    answer = web.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    policy = _policy(answer)
    assert policy["frame-ancestors"] == "frame-ancestors 'none'" and policy["object-src"] == "object-src 'none'"
    if path.startswith("/blog"):
        assert policy["script-src"] == "script-src 'none'"  # the public blog runs no script at all
    elif path != "/api/v1/docs":
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"] and policy["img-src"] == "img-src 'self' data: blob:"


@pytest.mark.parametrize("path", ["/login/", "/api/v1/memos/", "/api/v1/worklist/", "/api/v1/uploads"])
def test_redirect_to_this_site_whatever_the_host_header_says(web, path):
    """Starlette's trailing-slash redirect built its Location from the Host header."""
    answer = web.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.status_code == 307
    assert "evil.example" not in answer.headers["location"]
    assert answer.headers["location"] == (path + "/" if path.endswith("uploads") else path.rstrip("/"))


def test_give_a_tus_upload_an_address_on_this_site_whatever_the_host_header_says(web, api_app):
    from tests.support.api import make_person

    author = make_person(api_app, "author")
    tus = {"Tus-Resumable": "1.0.0", **author.auth}
    created = web.post("/api/v1/uploads/", headers={**tus, "Host": "evil.example", "Upload-Length": "1000"})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert "evil.example" not in location and location.startswith("/api/v1/uploads/")
    assert web.head(location, headers=tus).headers["upload-offset"] == "0"  # the address works


@pytest.mark.parametrize(("location", "kept"), [
    ("http://evil.example/login", "/login"),
    ("http://EVIL.example//other.example/x?a=1", "/other.example/x?a=1"),  # never protocol-relative
    ("http://evil.example/\\other.example/x", "/other.example/x"),
    ("https://elsewhere.example/post/", "https://elsewhere.example/post/"),  # not the Host: left alone
    ("/already/a/path", "/already/a/path"),
])
def test_turn_a_location_naming_the_host_header_into_a_path_of_this_site(location, kept):
    from api.security import own_location

    assert own_location(location, "evil.example") == kept


def test_allow_import_map_only_by_the_nonce_of_its_own_answer(web):
    first, second = web.get("/login"), web.get("/login")
    nonces = []
    for answer in (first, second):
        in_page = re.findall(r'<script type="importmap" nonce="([^"]+)">', answer.text)
        in_policy = re.findall(r"'nonce-([^']+)'", _policy(answer)["script-src"])
        assert in_page == in_policy and len(in_page) == 1
        nonces.append(in_page[0])
    assert nonces[0] != nonces[1]


def test_keep_inline_scripts_and_styles_out_of_desk_templates():
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        assert "style=" not in html and "<style" not in html, template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name  # no inline event handlers
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="' in tag or 'type="application/json"' in tag or 'nonce="' in tag, (template.name, tag)
    for script in (STATIC / "js").glob("*.js"):
        code = script.read_text()
        assert "eval(" not in code and "new Function" not in code, script.name


def test_hide_remote_images_from_the_preview():
    from dictation.settings import Settings
    from review_ui.preview import preview_html

    page = preview_html(Settings(), "Plans", "Look: ![chart](https://tracker.example/pixel.png?who=me)\n\n![ok](/blog/media/a.png)")
    assert '<img src="https://tracker.example' not in page
    assert 'href="https://tracker.example/pixel.png?who=me"' in page  # still there, as a link
    assert '<img src="/blog/media/a.png"' in page
    assert "/static/css/preview.css" in page and "<style>.content" not in page


# --- in Chromium ---------------------------------------------------------------------------

PEOPLE = [
    Account("csp-assistant@example.com", "assistant", "Casey Assistant"),
    Account("csp-author@example.com", "author", "Avery Author"),
    Account("csp-admin@example.com", "admin", "Ada Admin"),
]
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI), true);
"""


@pytest.fixture(scope="module")
def csp_server(tmp_path_factory):
    with run_live_server(tmp_path_factory.mktemp("csp"), [Account(**vars(a)) for a in PEOPLE]) as server:
        yield server


@pytest.mark.browser
@pytest.mark.slow
def test_work_every_desk_page_under_the_policy(csp_server, new_context):
    server = csp_server
    memo = server.upload("csp-author", shared_file("audio/real/jfk.flac"), title="Ask not")
    memo = server.wait_for("csp-author", memo["id"])
    with CannedServer(200, b"GIF89a", "image/gif") as tracker, server.api("csp-assistant") as api:
        draft = api.get(f"/api/v1/drafts/{memo['draft_id']}").json()
        assert api.post(f"/api/v1/drafts/{draft['id']}/transitions", json={"action": "claim"}).status_code == 200
        body = draft["body_markdown"] + f"\n\n![pixel]({tracker.url}pixel.gif)\n"
        saved = api.patch(f"/api/v1/drafts/{draft['id']}", json={"body_markdown": body},
                          headers={"If-Match": f'"{draft["version"]}"'})
        assert saved.status_code == 200, saved.text
        assert api.post(f"/api/v1/drafts/{draft['id']}/transitions",
                        json={"action": "submit_for_approval"}).status_code == 200

        visits = {
            "csp-assistant": ["/worklist", f"/memos/{memo['id']}", "/tokens", "/account"],
            "csp-admin": ["/admin/destinations", "/admin/users"],
            "csp-author": ["/phone", f"/phone/memos/{memo['id']}"],
        }
        reports: list[str] = []

        def on_console(message) -> None:
            if "Content Security Policy" in message.text:
                reports.append(message.text)

        for who, paths in visits.items():
            context = new_context()
            context.add_init_script(WATCH)
            page = context.new_page()
            page.on("console", on_console)
            server.sign_in(page, who)
            for path in paths:
                answer = page.goto(f"{server.url}{path}")
                assert answer.status == 200, path
                page.wait_for_load_state("networkidle")
                if path == f"/memos/{memo['id']}":
                    # the preview frame shows the draft, styled by the blog's own stylesheet
                    frame = page.frame_locator("#preview-frame")
                    frame.locator("a.remote-image").wait_for()
                    header = frame.locator("header.site")
                    assert header.evaluate("e => getComputedStyle(e).borderBottomStyle") == "solid"
                reports += [f"{path}: {v}" for v in page.evaluate("window.__csp")]
        assert reports == []
        assert tracker.requests == [], "the reviewer's browser fetched a remote image"
