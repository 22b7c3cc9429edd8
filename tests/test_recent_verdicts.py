"""The door's recent verdicts on bearer tokens (api/recent.py, `VERDICT_S`): a token found valid
a moment ago is not read again for a kept worklist, and any change to users, tokens or browser
sessions (dictation/credential_changes.py) ends every such verdict at once, whatever code path made
it. On the real app and database (SQLite and PostgreSQL); the clock is the test's and stands
still, so a refusal below is the change's doing, never the verdict's age."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text, update

from api import recent
from api.deps import SESSION_COOKIE
from api.recent import MAX_KEPT, VERDICT_S, RecentAnswers
from dictation import accounts, credential_changes
from dictation.db import Database
from dictation.models import ApiToken, BrowserSession, Draft, User
from dictation.writemarks import LocalMarks
from tests.support.api import PASSWORD, make_person, make_ready_draft
from tests.test_recent_answers import Clock

WORKLIST = "/api/v1/worklist"
CALLER = "ab" * 32
OWNER = User(id=7, role="assistant")


def test_vouch_caller_until_verdict_ages():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    assert answers.vouched(CALLER) is None
    answers.vouch(CALLER, clock(), OWNER)
    clock.now += VERDICT_S
    assert answers.vouched(CALLER) is OWNER
    clock.now += 0.01
    assert answers.vouched(CALLER) is None


def test_drop_verdicts_when_credentials_change():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    answers.vouch(CALLER, clock(), OWNER)
    answers.credentials_changed()
    assert answers.vouched(CALLER) is None
    answers.vouch(CALLER, clock.now, OWNER)  # a check that began at the change: it may have read the old row
    assert answers.vouched(CALLER) is None
    clock.now += 0.1
    answers.vouch(CALLER, clock.now, OWNER)
    assert answers.vouched(CALLER) is OWNER


def test_refuse_verdict_begun_before_change_marked_by_another_process():
    clock, shared = Clock(), LocalMarks()
    one, other = RecentAnswers(clock=clock, marks=shared), RecentAnswers(clock=clock, marks=shared)
    began = clock()
    clock.now += 0.2
    other.credentials_changed()  # a token revoked in the other process while this check ran
    clock.now += 0.1
    one.vouch(CALLER, began, OWNER)
    assert one.vouched(CALLER) is None


def test_drop_verdict_when_another_process_marks_change():
    clock, shared = Clock(), LocalMarks()  # as SharedMarks, mapped by both processes
    one, other = RecentAnswers(clock=clock, marks=shared), RecentAnswers(clock=clock, marks=shared)
    one.vouch(CALLER, clock(), OWNER)
    clock.now += 0.1
    assert one.vouched(CALLER) is OWNER
    other.credentials_changed()
    assert one.vouched(CALLER) is None


def test_keep_verdicts_bounded():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    callers = [f"{n:064x}" for n in range(MAX_KEPT + 5)]
    for caller in callers:
        answers.vouch(caller, clock(), OWNER)
    assert answers.vouched(callers[0]) is None and answers.vouched(callers[-1]) is OWNER
    assert len(answers._vouched) == MAX_KEPT


class Marks:
    def __init__(self) -> None:
        self.count = 0

    def mark(self) -> None:
        self.count += 1


@pytest.fixture
def marks() -> Marks:
    """How many times credential changes were marked (the listener is held weakly: the fixture
    keeps it alive for the test)."""
    recorder = Marks()
    credential_changes.listen(recorder.mark)
    return recorder


def test_mark_credential_changes_before_and_after_commit(api_app, marks):
    eve = make_person(api_app, "assistant")
    marks.count = 0
    with api_app.state.database.session() as session:
        user = session.get(User, eve.id)
        token = session.scalars(accounts.visible_tokens_query(user)).one()
        accounts.revoke_token(session, token.id, user)
        assert marks.count == 1  # at the statement, before the commit
    assert marks.count == 2  # and once the connection is back after it


def _savepoint_released(s, uid):
    """A change in a released savepoint, then one in a savepoint rolled back, before the commit."""
    with s.begin_nested():
        s.get(User, uid).is_active = False
    rolled_back = s.begin_nested()
    s.get(User, uid).name = "Renamed"
    s.flush()
    rolled_back.rollback()


@pytest.mark.parametrize("change", [
    lambda s, uid: accounts.deactivate_user(s, s.get(User, uid)),
    lambda s, uid: accounts.end_all_sessions(s, s.get(User, uid)),
    lambda s, uid: s.execute(update(ApiToken).where(ApiToken.user_id == uid).values(revoked_at=ApiToken.created_at)),
    lambda s, uid: s.execute(delete(BrowserSession).where(BrowserSession.user_id == uid)),
    lambda s, uid: setattr(s.get(User, uid), "role", "author"),
    lambda s, uid: s.delete(s.get(User, uid)),
    lambda s, uid: s.connection().execute(
        update(ApiToken.__table__).where(ApiToken.__table__.c.user_id == uid).values(revoked_at=func.now())),
    lambda s, uid: s.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": uid}),
    lambda s, uid: s.bulk_update_mappings(User, [{"id": uid, "is_active": False}]),
    _savepoint_released,
], ids=["deactivated", "signed-out-everywhere", "bulk-revoked", "sessions-deleted", "role-changed", "deleted",
        "core-on-connection", "text-sql", "bulk-mappings", "savepoints"])
def test_mark_every_kind_of_credential_change(api_app, marks, change):
    eve = make_person(api_app, "assistant")
    marks.count = 0
    with api_app.state.database.session() as session:
        change(session, eve.id)
    assert marks.count >= 2  # at the statement (a change left to the commit's flush: then), and after


def test_mark_change_made_through_another_database_of_the_process(api_app, marks):
    """The in-process worker and mail-in have Databases of their own."""
    eve = make_person(api_app, "assistant")
    other = Database(api_app.state.database.settings)
    try:
        marks.count = 0
        with other.session() as session:
            session.execute(update(User).where(User.id == eve.id).values(is_active=False))
        assert marks.count == 2
    finally:
        other.dispose()


def test_mark_nothing_for_memo_work_or_use_hints(client, api_app, marks):
    ada = make_person(api_app, "author")
    make_ready_draft(api_app, ada)
    signed_in = client.post("/api/v1/session", json={"email": ada.email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    marks.count = 0
    with api_app.state.database.session() as session:
        assert session.execute(update(Draft).values(body_markdown="Edited.")).rowcount == 1
    with api_app.state.database.session() as session:  # the token's first use is recorded
        assert accounts.user_for_token(session, ada.token) is not None
    with api_app.state.database.session() as session:  # and a browser's visit
        browser = session.scalars(select(BrowserSession).where(BrowserSession.user_id == ada.id)).one()
        browser.last_seen_at = browser.created_at - dt.timedelta(minutes=5)
    with api_app.state.database.session() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.user_id == ada.id)).one()
        assert token.last_used_at is not None
    assert marks.count == 0


@pytest.mark.parametrize(("statement", "changes"), [
    ("UPDATE api_tokens SET last_used_at=? WHERE api_tokens.id = ?", False),
    ("UPDATE browser_sessions SET last_seen_at=%(last_seen_at)s WHERE browser_sessions.id = %(id)s", False),
    ("UPDATE api_tokens SET last_used_at=%(last_used_at)s::TIMESTAMP WITH TIME ZONE WHERE api_tokens.id = "
     "%(id_1)s::INTEGER", False),
    ("UPDATE api_tokens SET last_used_at=?, revoked_at=? WHERE api_tokens.id = ?", True),
    ("UPDATE api_tokens SET last_used_at=%(a)s::TIMESTAMP WITH TIME ZONE, revoked_at=%(b)s WHERE id = 1", True),
    ("update users set role='admin'", True),
    ('DELETE FROM "users" WHERE id = 1', True),
    ("INSERT INTO api_tokens (user_id) VALUES (1) ON CONFLICT (id) DO UPDATE SET revoked_at = NULL", True),
    ("INSERT OR REPLACE INTO users (id) VALUES (1)", True),
    ("UPDATE drafts SET body_markdown=? WHERE drafts.id = ?", False),
    ("SELECT * FROM users", False),
])
def test_tell_credential_writes_from_use_hints(statement, changes):
    assert credential_changes.changes_credentials(statement) is changes


def _prime(api_app):
    clock = Clock()
    api_app.state.recent.__init__(clock=clock)  # the instance the middleware holds, on the test's clock
    ada, eve = make_person(api_app, "admin"), make_person(api_app, "assistant")
    make_ready_draft(api_app, ada)
    clock.now += 0.1  # after making the people (a credential change), then still
    return ada, eve


def _count_checks(monkeypatch) -> list[object]:
    checks: list[object] = []
    real = recent.owner_on_the_loop

    async def counted(request, database):
        checks.append(request.url.path)
        return await real(request, database)

    monkeypatch.setattr(recent, "owner_on_the_loop", counted)
    return checks


def test_skip_token_read_for_recently_vouched_caller(client, api_app, monkeypatch):
    _, eve = _prime(api_app)
    checks = _count_checks(monkeypatch)
    computed = client.get(WORKLIST, headers=eve.auth)  # computed inside: the app's own check
    assert computed.status_code == 200 and checks == []
    assert client.get(WORKLIST, headers=eve.auth).content == computed.content  # kept; checked, vouched
    assert checks == [WORKLIST]
    for _ in range(3):
        assert client.get(WORKLIST, headers=eve.auth).content == computed.content
    assert checks == [WORKLIST]


def test_check_again_when_session_cookie_carries_vouched_value(client, api_app, monkeypatch):
    """A verdict is on a bearer token: the same string sent as a session cookie is judged anew."""
    _, eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # vouched
    client.cookies.set(SESSION_COOKIE, f"Bearer {eve.token}")
    answer = client.get(WORKLIST)
    client.cookies.clear()
    assert answer.status_code == 401


def _revoke_token_as_admin(client, admin, eve):
    # Another credential: eve's own DELETE would drop her kept answers (a write of hers), so the
    # 401 would come from inside whatever the verdicts did.
    token_id = client.get(f"/api/v1/tokens?user_id={eve.id}", headers=admin.auth).json()[0]["id"]
    return client.delete(f"/api/v1/tokens/{token_id}", headers=admin.auth)


def _deactivate(client, admin, eve):
    return client.patch(f"/api/v1/users/{eve.id}", json={"is_active": False}, headers=admin.auth)


@pytest.mark.parametrize("stop", [_revoke_token_as_admin, _deactivate],
                         ids=["revoked-by-admin", "deactivated-by-admin"])
def test_refuse_vouched_caller_at_once_after_api_change(client, api_app, monkeypatch, stop):
    admin, eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # kept and vouched
    checks = _count_checks(monkeypatch)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert checks == []  # the verdict is in use
    changed = stop(client, admin, eve)
    assert changed.status_code in (200, 204), changed.text
    refused = client.get(WORKLIST, headers=eve.auth)  # the same instant on the test's clock
    assert refused.status_code == 401, refused.text


def test_refuse_vouched_caller_after_change_in_another_session(client, api_app):
    """A change made by code that is not the API's, through another engine of the process and in
    plain SQL, ends the verdict too."""
    _, eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # kept and vouched
    other = Database(api_app.state.database.settings)  # as the in-process worker's, or mail-in's
    try:
        with other.engine.begin() as connection:  # plain SQL, no ORM session
            connection.execute(text("UPDATE api_tokens SET revoked_at = created_at WHERE user_id = :id"),
                               {"id": eve.id})
    finally:
        other.dispose()
    refused = client.get(WORKLIST, headers=eve.auth)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
