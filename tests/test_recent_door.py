"""A kept worklist answer given at the door (api/recent.py's `KeptAtTheDoor`), outside the
admission gate: it does not wait for a place inside, it is the same answer with the same headers
as the app's, it is counted under the route's template, and it is never given to a credential
that stopped working, nor past the request guard. On the real app and database; the clock is
the test's, so an answer stays kept for as long as a test needs."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.admission import Admission
from dictation.telemetry import metrics
from tests.support import doors
from tests.support.api import PASSWORD, make_person, make_ready_draft
from tests.test_recent_answers import Clock

WORKLIST = "/api/v1/worklist"


def _admission(app) -> Admission:
    layer = app.middleware_stack
    while not isinstance(layer, Admission):
        layer = layer.app
    return layer


def _counted(route: str) -> float:
    return sum(sample.value for family in metrics.HTTP_SECONDS.collect() for sample in family.samples
               if sample.name.endswith("_count") and sample.labels.get("route") == route)


def _prime(api_app):
    clock = Clock()
    api_app.state.recent.__init__(clock=clock)  # the instance the middleware holds, on the test's clock
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    make_ready_draft(api_app, ada)
    return eve


def test_answer_kept_worklist_while_admission_is_full(client, api_app):
    eve = _prime(api_app)
    computed = client.get(WORKLIST, headers=eve.auth)
    assert computed.status_code == 200, computed.text
    gate = _admission(api_app)
    full = gate._gate = asyncio.Semaphore(0)  # nobody gets inside any more
    answers: list = []
    asking = threading.Thread(target=lambda: answers.append(client.get(WORKLIST, headers=eve.auth)))
    try:
        asking.start()
        asking.join(20)
        assert answers, "the kept worklist waited at the full admission gate"
    finally:
        client.portal.call(full.release)  # whatever waits gets in, so the test ends either way
        asking.join(20)
        gate._gate = None
    kept = answers[0]
    assert kept.status_code == 200 and kept.content == computed.content
    assert set(kept.headers) == set(computed.headers)  # the security headers and request id too
    per_request = {"x-request-id", "content-security-policy"}  # an id and a nonce of its own
    assert {k: v for k, v in kept.headers.items() if k not in per_request} == \
        {k: v for k, v in computed.headers.items() if k not in per_request}
    assert kept.headers["x-request-id"] != computed.headers["x-request-id"]


def test_count_kept_worklist_under_route_template(client, api_app):
    eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    before, unmatched = _counted(WORKLIST), _counted("<unmatched>")
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # the kept one
    assert _counted(WORKLIST) == before + 1
    assert _counted("<unmatched>") == unmatched


def test_refuse_method_override_before_kept_worklist(client, api_app):
    eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    answer = client.get(WORKLIST, headers={**eve.auth, "X-HTTP-Method-Override": "DELETE"})
    assert answer.status_code == 400 and answer.json()["error"] == "method_override"


def test_refuse_kept_worklist_to_browser_signed_out_elsewhere(api_app):
    eve = _prime(api_app)
    with TestClient(api_app, base_url="http://127.0.0.1") as desk, \
            TestClient(api_app, base_url="http://127.0.0.1") as other:
        for browser in (desk, other):
            signed_in = browser.post("/api/v1/session", json={"email": eve.email, "password": PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
        assert desk.get(WORKLIST).status_code == 200  # kept for the desk's cookie
        csrf = other.get("/api/v1/session").json()["csrf_token"]
        assert other.post("/api/v1/session/everywhere", headers={"X-CSRF-Token": csrf}).status_code == 204
        refused = desk.get(WORKLIST)  # the same instant on the test's clock: still kept, not given
        assert refused.status_code == 401 and "sign in" in refused.json()["message"]


def test_pass_other_queries_and_methods_to_app(client, api_app):
    eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert client.get(f"{WORKLIST}?limit=0", headers=eve.auth).status_code == 422  # not the kept query
    assert client.head(WORKLIST, headers=eve.auth).status_code == 405  # the app's answer, not the door's 200


def test_refuse_two_authorization_headers_before_kept_worklist(client, api_app):
    from dictation.models import ApiToken

    eve = _prime(api_app)
    mallory = make_person(api_app, "author")  # sees none of the memos eve's worklist shows
    assert client.get(WORKLIST, headers=eve.auth).json()["items"]  # kept for eve's token
    with api_app.state.database.session() as session:
        session.query(ApiToken).filter_by(user_id=eve.id).delete()
    both = [("Authorization", f"Bearer {mallory.token}"), ("Authorization", f"Bearer {eve.token}")]
    answer = client.get(WORKLIST, headers=both)  # identified as mallory, keyed as eve: never
    assert answer.status_code == 400 and answer.json()["error"] == "several_credentials"
    assert client.get(WORKLIST, headers=eve.auth).status_code == 401


def test_refuse_two_authorization_headers_at_every_route(whole_desk):
    app, http = whole_desk
    ada = make_person(app, "admin")
    for method, template in sorted(doors.routes(app)):
        path = re.sub(r"{[^}]+}", "7", template)
        answer = http.request(method, path, headers=[("Authorization", f"Bearer {ada.token}")] * 2)
        assert answer.status_code == 400, (method, path, answer.status_code)
        assert method == "HEAD" or answer.json()["error"] == "several_credentials"


def _count_hops(monkeypatch) -> list[object]:
    from api import recent

    hops: list[object] = []
    real = recent.anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(recent.anyio.to_thread, "run_sync", counted)
    return hops


def test_check_token_on_loop_without_thread_for_kept_worklist(client, api_app, monkeypatch):
    """A kept answer's token is judged on the event loop, no thread hop (a hop cost more than
    the read under load): on SQLite in the loop itself, on PostgreSQL awaited there."""
    database = api_app.state.database
    on_sqlite = database.engine.dialect.name == "sqlite"
    assert (database.loop_reader() is not None) == on_sqlite
    assert (database.awaited_reader() is not None) == (not on_sqlite)
    eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # computed, kept, its use recorded
    hops = _count_hops(monkeypatch)
    kept = client.get(WORKLIST, headers=eve.auth)
    assert kept.status_code == 200
    assert hops == []


def test_check_token_in_thread_when_loop_reader_cannot_answer(client, api_app, monkeypatch):
    """A reader that cannot answer (PostgreSQL resting after a failure, SQLite's file gone from
    under its connection) sends the check to the thread path, which still answers."""
    from api.deps import identify_briefly

    database = api_app.state.database
    eve = _prime(api_app)
    computed = client.get(WORKLIST, headers=eve.auth)
    assert computed.status_code == 200
    if database.awaited_reader() is not None:
        monkeypatch.setattr(database.awaited_reader(), "_rest_until", float("inf"))
    else:
        monkeypatch.setattr(database, "_loop_reader", None)
    hops = _count_hops(monkeypatch)
    kept = client.get(WORKLIST, headers=eve.auth)
    assert kept.status_code == 200 and kept.content == computed.content
    assert hops == [identify_briefly]


def _revoke(session, eve):
    from sqlalchemy import update

    from dictation.models import ApiToken

    session.execute(update(ApiToken).where(ApiToken.user_id == eve.id).values(revoked_at=ApiToken.created_at))


def _delete_token(session, eve):
    from sqlalchemy import delete

    from dictation.models import ApiToken

    session.execute(delete(ApiToken).where(ApiToken.user_id == eve.id))


def _deactivate(session, eve):
    from sqlalchemy import update

    from dictation.models import User

    session.execute(update(User).where(User.id == eve.id).values(is_active=False))


@pytest.mark.parametrize("stop", [_revoke, _delete_token, _deactivate], ids=["revoked", "deleted", "deactivated"])
def test_refuse_kept_worklist_once_token_stops_working(client, api_app, stop):
    """Whatever stops a token (revoked, deleted, its owner deactivated, by another connection),
    the next read is refused though its answer is still kept: the loop's check finds no owner,
    the thread path's refuses, and the app's path words the 401."""
    eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    with api_app.state.database.session() as session:
        stop(session, eve)
    refused = client.get(WORKLIST, headers=eve.auth)  # the same instant on the test's clock: still kept
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "not_authenticated" and "revoked" in refused.json()["message"]


def test_loop_reader_neither_writes_nor_waits_nor_makes_a_database(tmp_path):
    """The loop's connection: a write is refused, another connection's write lock does not make
    it wait, a committed change is seen at once, and a missing file stays missing."""
    import sqlite3
    import time

    from sqlalchemy import exc, text

    from dictation.db import Database
    from dictation.settings import Settings

    database = Database(Settings(data_dir=tmp_path, database_url=None))
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    reader = database.loop_reader()
    assert reader is not None
    with reader.connect() as conn, pytest.raises(exc.OperationalError, match="readonly"):
        conn.execute(text("INSERT INTO t VALUES (2)"))
    holder = sqlite3.connect(str(database.engine.url.database))
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, never committed here
    holder.execute("INSERT INTO t VALUES (3)")
    try:
        started = time.monotonic()
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
        assert time.monotonic() - started < 1.0  # no busy wait (the app's engine would allow 30 s)
    finally:
        holder.rollback()
        holder.close()
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (4)"))
    with reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2  # committed elsewhere: seen
    database.dispose()

    elsewhere = tmp_path / "elsewhere"
    missing = Database(Settings(data_dir=elsewhere, database_url=None))
    db_file = Path(str(missing.engine.url.database))
    assert not db_file.exists()
    with pytest.raises(exc.OperationalError), missing.loop_reader().connect() as conn:  # type: ignore[union-attr]
        conn.execute(text("SELECT 1"))
    assert not db_file.exists()
    missing.dispose()


def test_record_token_use_when_due_though_answer_kept(client, api_app):
    """The loop's connection neither writes nor waits: a token whose last use is due to be
    recorded goes through the thread path, which records it, and still gets the kept answer."""
    from sqlalchemy import select, update

    from dictation.models import ApiToken

    eve = _prime(api_app)
    computed = client.get(WORKLIST, headers=eve.auth)
    assert computed.status_code == 200

    def last_used():
        with api_app.state.database.session() as session:
            return session.scalars(select(ApiToken.last_used_at).where(ApiToken.user_id == eve.id)).one()

    long_ago = last_used().replace(year=2000)
    with api_app.state.database.session() as session:
        session.execute(update(ApiToken).where(ApiToken.user_id == eve.id).values(last_used_at=long_ago))
    kept = client.get(WORKLIST, headers=eve.auth)
    assert kept.status_code == 200 and kept.content == computed.content
    assert last_used().year != 2000

