"""Every door of the app, as the app's own router lists them, and the people who knock.

Shared by the permission matrix (tests/test_permissions.py) and the CSRF coverage test
(tests/test_security_csrf.py): both enumerate the routes of the whole app, built as
`dictation serve` builds it, so a route added without a row fails them.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.support.api import sine_wav

PERSONAS = ("anonymous", "author", "other_author", "assistant", "other_assistant", "admin",
            "revoked_token", "deactivated")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
_serial = itertools.count(1)


@contextlib.contextmanager
def whole_app(data_dir) -> Iterator[tuple[object, object]]:
    """The app as `dictation serve` builds it (no worker) and a client for it."""
    from fastapi.testclient import TestClient

    from dictation.settings import Settings
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        yield app, http
    app.state.database.dispose()


@pytest.fixture(scope="module")
def whole_desk(tmp_path_factory):
    """`whole_app` once per test module: (app, client)."""
    with whole_app(tmp_path_factory.mktemp("whole-desk")) as built:
        yield built


def routes(app) -> set[tuple[str, str]]:
    """(method, path template) of every route of the app; a mount counts as GET of its prefix."""
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.add(("GET", context.path_format or route.path))
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD" or route.methods == {"HEAD"} or "GET" not in route.methods:
                found.add((method, context.path_format))
    return found


@dataclass
class Knock:
    """A request to send: its path and, for those who may pass, a body that is valid."""

    path: str
    json: object | None = None
    data: dict | None = None
    files: dict | None = None
    headers: dict = field(default_factory=dict)
    content: bytes | None = None  # a raw body (the featured image's PUT)


@dataclass
class World:
    """Fresh people and things for one route: a memo of `author` whose draft `assistant` holds."""

    app: object
    ids: dict
    cookies: dict  # persona -> session cookie value
    csrf: dict  # persona -> CSRF token
    tokens: dict  # persona -> bearer token (revoked_token only)

    def credentials(self, persona: str, method: str, with_csrf: bool = True) -> dict:
        if persona == "anonymous":
            return {}
        if persona == "revoked_token":
            return {"Authorization": f"Bearer {self.tokens[persona]}"}
        headers = {"Cookie": f"dictation_session={self.cookies[persona]}"}
        if with_csrf and method in UNSAFE:
            headers["X-CSRF-Token"] = self.csrf[persona]
        return headers


def build_world(app) -> World:
    from dictation import accounts
    from dictation.housekeeping import upload_dirs
    from dictation.models import Destination, State

    n = next(_serial)
    secret = f"q{n}z{n * 7919}x"  # in the memo's title: must never reach someone who may not see it
    cookies_factory = app.state.cookies
    store = app.state.store
    with app.state.database.session() as session:
        people = {}
        for persona, role in (("author", "author"), ("other_author", "author"), ("assistant", "assistant"),
                              ("other_assistant", "assistant"), ("admin", "admin"), ("deactivated", "author")):
            people[persona] = accounts.create_user(session, f"{persona}.{n}@doors.test", role, name=f"{persona} {n}")
        cookies = {p: cookies_factory.issue(session, u, "Matrix browser") for p, u in people.items()}
        stored = store.save_stream(sine_wav(0.2, freq=200 + n))
        from dictation.models import Draft, Memo

        memo = Memo(author_id=people["author"].id, status=State.in_review.value, media_sha256=stored.sha256,
                    size_bytes=stored.size, title=f"Confidential memo {n}-{secret}", original_filename="memo.wav",
                    content_type="audio/wav", duration_s=0.2)
        session.add(memo)
        session.flush()
        draft = Draft(memo_id=memo.id, title="A draft", body_markdown="We ship on Friday.",
                      machine_markdown="We ship on Friday.", assignee_id=people["assistant"].id)
        session.add(draft)
        session.flush()
        # What the desk learned: a correction to decide on, a decision to withdraw, a word to revert.
        from dictation.learning.tables import Correction, LearnedWord, VocabularyEntry

        session.add(Correction(draft_id=draft.id, memo_id=memo.id, author_id=people["author"].id, language="en",
                               heard="fry day", heard_key="fry day", written="Friday", is_name=True,
                               context="We ship on Friday", start=0.1, end=0.2))
        entry = VocabularyEntry(heard_key=f"shipp {n}", written="ship", language="en", status="accepted")
        learned = LearnedWord(draft_id=draft.id, heard="fry day", written="Friday", occurrence=0, start=0.1, end=0.2)
        session.add_all([entry, learned])
        token_row, _ = accounts.create_token(session, people["author"], "phone")
        revoked_row, revoked = accounts.create_token(session, people["author"], "old phone")
        accounts.revoke_token(session, revoked_row.id, people["author"])
        destination = Destination(name=f"hook-{n}", kind="webhook", url="http://127.0.0.1:9/hook", options={})
        session.add(destination)
        session.flush()
        author_session = cookies_factory.row(session, cookies["author"])
        accounts.deactivate_user(session, people["deactivated"])
        ids = {"memo_id": memo.id, "draft_id": draft.id, "user_id": people["author"].id, "token_id": token_row.id,
               "session_id": author_session.id, "name_or_id": destination.name, "secret": secret,
               "entry_id": entry.id, "word_id": learned.id}
    csrf = {p: cookies_factory.csrf_token(c) for p, c in cookies.items()}
    # An unfinished resumable upload of the author's, for HEAD and PATCH.
    from fastapi.testclient import TestClient

    with TestClient(app) as http:
        created = http.post("/api/v1/uploads/", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "64", "Cookie": f"dictation_session={cookies['author']}",
            "X-CSRF-Token": csrf["author"], "Upload-Metadata": "filename bWVtby53YXY="})
        assert created.status_code == 201, created.text
    ids["upload_id"] = created.headers["location"].rsplit("/", 1)[-1]
    assert (upload_dirs(app.state.settings).staging / ids["upload_id"]).exists()
    return World(app, ids, cookies, csrf, {"revoked_token": revoked})


TUS = {"Tus-Resumable": "1.0.0"}
# A real 1x1 PNG: the featured image's type is read from its bytes.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def knock(method: str, template: str, world: World) -> Knock:
    """The request for one route, with a body those allowed through would send."""
    ids = world.ids
    n = next(_serial)
    path = template.format(**ids, path="", rest="", version=1)
    key = (method, template)
    bodies = {
        ("POST", "/api/v1/session"): Knock(path, json={"email": "nobody@doors.test", "password": "not the password"}),
        ("POST", "/api/v1/tokens"): Knock(path, json={"name": "matrix"}),
        ("POST", "/api/v1/users/me/password"): Knock(path, json={"current_password": "wrong one",
                                                                   "new_password": "a new password"}),
        ("POST", "/api/v1/users"): Knock(path, json={"email": f"new{n}@doors.test", "role": "author"}),
        ("PATCH", "/api/v1/users/{user_id}"): Knock(path, json={"name": "Renamed"}),
        ("POST", "/api/v1/memos"): Knock(path, files={"file": ("memo.wav", sine_wav(0.2, freq=300 + n), "audio/wav")}),
        ("POST", "/api/v1/memos/{memo_id}/additions"): Knock(path, files={
            "file": ("more.wav", sine_wav(0.2, freq=700 + n), "audio/wav")}),
        ("PATCH", "/api/v1/drafts/{draft_id}"): Knock(path, json={"title": "Edited"}, headers={"If-Match": '"1"'}),
        ("POST", "/api/v1/drafts/{draft_id}/transitions"): Knock(path, json={"action": "release"}),
        ("POST", "/api/v1/drafts/{draft_id}/comments"): Knock(path, json={"body": "Looks good."}),
        # Version 1 is the current text: whoever gets past the permission checks hears that
        # there is nothing to restore (422); tests/test_revisions.py restores for real.
        ("POST", "/api/v1/drafts/{draft_id}/revisions/{version}/restore"): Knock(path, headers={"If-Match": '"1"'}),
        ("POST", "/api/v1/drafts/{draft_id}/publish"): Knock(path, json={}),
        ("POST", "/api/v1/drafts/{draft_id}/looked-at"): Knock(path, json={"words": []}),
        ("PUT", "/api/v1/drafts/{draft_id}/featured-image"): Knock(path, content=PNG_1PX,
                                                                   headers={"Content-Type": "image/png"}),
        ("POST", "/api/v1/vocabulary"): Knock(path, json={"heard": "fry day", "written": "Friday", "language": "en",
                                                           "accept": True}),
        ("POST", "/api/v1/drafts/{draft_id}/learned/{word_id}/revert"): Knock(path, headers={"If-Match": '"1"'}),
        ("POST", "/api/v1/drafts/{draft_id}/unpublish"): Knock(path, json={}),
        ("POST", "/api/v1/destinations"): Knock(path, json={"name": f"new-{n}", "kind": "webhook",
                                                             "url": "http://127.0.0.1:9/new", "secret": "s3cret-hook"}),
        ("PATCH", "/api/v1/destinations/{name_or_id}"): Knock(path, json={"default": True}),
        ("POST", "/api/v1/uploads/{rest}"): Knock("/api/v1/uploads/", headers={**TUS, "Upload-Length": "64"}),
        ("HEAD", "/api/v1/uploads/{rest}"): Knock(f"/api/v1/uploads/{ids['upload_id']}", headers=TUS),
        ("PATCH", "/api/v1/uploads/{rest}"): Knock(f"/api/v1/uploads/{ids['upload_id']}", data=None, headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}),
        ("OPTIONS", "/api/v1/uploads/{rest}"): Knock(f"/api/v1/uploads/{ids['upload_id']}"),
        ("POST", "/preview"): Knock(path, json={"title": "T", "body_markdown": "Hello", "memo_id": ids["memo_id"]}),
        ("POST", "/language"): Knock(path, data={"language": "en", "next": "/"}),
        ("POST", "/tokens/mail-address"): Knock(path, data={}),
        ("GET", "/blog/{path}"): Knock("/blog/feed.xml"),
        ("GET", "/static/{path}"): Knock("/static/js/common.js"),
    }
    return bodies.get(key, Knock(path))


def send(http, method: str, request: Knock, headers: dict):
    http.cookies.clear()
    all_headers = {**request.headers, **headers}
    if request.data is not None and "X-CSRF-Token" in headers:
        request = Knock(request.path, data={**request.data, "csrf_token": headers["X-CSRF-Token"]},
                        headers=request.headers)
    # Half of the upload: a whole one would go on to become a memo (and these bytes are no audio).
    content = b"x" * 32 if (method, request.headers.get("Content-Type")) == (
        "PATCH", "application/offset+octet-stream") else request.content
    if (method, request.path) == ("POST", "/api/v1/session"):
        # Each knock is a first try: the throttle counts every failed sign-in from this client.
        from dictation import accounts

        http.app.state.sign_in_throttle = accounts.SignInThrottle()
    return http.request(method, request.path, json=request.json, data=request.data, files=request.files,
                        content=content, headers=all_headers, follow_redirects=False)
