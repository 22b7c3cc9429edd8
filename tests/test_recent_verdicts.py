"""The door's recent verdicts on bearer tokens (api/recent.py, `VERDICT_S`): a token found valid
a moment ago is not read again for a kept worklist, and any change to users, tokens or browser
sessions (dictation/accounts/changes.py) ends every such verdict at once, whatever code path made
it. On the real app and database (SQLite and PostgreSQL); the clock is the test's and stands
still, so a refusal below is the change's doing, never the verdict's age."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, update

from api import recent
from api.deps import SESSION_COOKIE
from api.recent import MAX_KEPT, VERDICT_S, RecentAnswers
from dictation import accounts
from dictation.accounts import changes
from dictation.models import ApiToken, BrowserSession, Draft, User
from dictation.writemarks import LocalMarks
from tests.support.api import PASSWORD, make_person, make_ready_draft
from tests.test_recent_answers import Clock

WORKLIST = "/api/v1/worklist"
CALLER = "ab" * 32


def test_vouch_caller_until_verdict_ages():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    assert not answers.vouched(CALLER)
    answers.vouch(CALLER, clock())
    clock.now += VERDICT_S
    assert answers.vouched(CALLER)
    clock.now += 0.01
    assert not answers.vouched(CALLER)


def test_drop_verdicts_when_credentials_change():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    answers.vouch(CALLER, clock())
    answers.credentials_changed()
    assert not answers.vouched(CALLER)
    answers.vouch(CALLER, clock.now)  # a check that began at the change: it may have read the old row
    assert not answers.vouched(CALLER)
    clock.now += 0.1
    answers.vouch(CALLER, clock.now)
    assert answers.vouched(CALLER)


def test_refuse_verdict_begun_before_change_marked_by_another_process():
    clock, shared = Clock(), LocalMarks()
    one, other = RecentAnswers(clock=clock, marks=shared), RecentAnswers(clock=clock, marks=shared)
    began = clock()
    clock.now += 0.2
    other.credentials_changed()  # a token revoked in the other process while this check ran
    clock.now += 0.1
    one.vouch(CALLER, began)
    assert not one.vouched(CALLER)


def test_drop_verdict_when_another_process_marks_change():
    clock, shared = Clock(), LocalMarks()  # as SharedMarks, mapped by both processes
    one, other = RecentAnswers(clock=clock, marks=shared), RecentAnswers(clock=clock, marks=shared)
    one.vouch(CALLER, clock())
    clock.now += 0.1
    assert one.vouched(CALLER)
    other.credentials_changed()
    assert not one.vouched(CALLER)


def test_keep_verdicts_bounded():
    clock = Clock()
    answers = RecentAnswers(clock=clock)
    callers = [f"{n:064x}" for n in range(MAX_KEPT + 5)]
    for caller in callers:
        answers.vouch(caller, clock())
    assert not answers.vouched(callers[0]) and answers.vouched(callers[-1])
    assert len(answers._vouched) == MAX_KEPT


@pytest.fixture
def marked(api_app) -> list[str]:
    """Each mark, named by whether a transaction with a credential change was still open."""
    database = api_app.state.database
    seen: list[str] = []
    changes.watch(database.sessionmaker, lambda: seen.append("marked"))
    return seen


def test_mark_credential_changes_before_and_after_commit(api_app, marked):
    eve = make_person(api_app, "assistant")
    marked.clear()
    with api_app.state.database.session() as session:
        user = session.get(User, eve.id)
        token = session.scalars(accounts.visible_tokens_query(user)).one()
        accounts.revoke_token(session, token.id, user)
        assert marked == ["marked"]  # at the flush, before the commit
    assert marked == ["marked", "marked"]


@pytest.mark.parametrize("change", [
    lambda s, uid: accounts.deactivate_user(s, s.get(User, uid)),
    lambda s, uid: accounts.end_all_sessions(s, s.get(User, uid)),  # one bulk DELETE, no flush sees it
    lambda s, uid: s.execute(update(ApiToken).where(ApiToken.user_id == uid).values(revoked_at=ApiToken.created_at)),
    lambda s, uid: s.execute(delete(BrowserSession).where(BrowserSession.user_id == uid)),
    lambda s, uid: setattr(s.get(User, uid), "role", "author"),
    lambda s, uid: s.delete(s.get(User, uid)),
], ids=["deactivated", "signed-out-everywhere", "bulk-revoked", "sessions-deleted", "role-changed", "deleted"])
def test_mark_every_kind_of_credential_change(api_app, marked, change):
    eve = make_person(api_app, "assistant")
    marked.clear()
    with api_app.state.database.session() as session:
        change(session, eve.id)
    assert len(marked) >= 2 and marked[-1] == "marked"


def test_mark_nothing_for_memo_work_use_hints_or_rolled_back_change(client, api_app, marked):
    ada = make_person(api_app, "author")
    make_ready_draft(api_app, ada)
    signed_in = client.post("/api/v1/session", json={"email": ada.email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    marked.clear()
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
    assert marked == []
    with pytest.raises(RuntimeError), api_app.state.database.session() as session:
        session.get(User, ada.id).is_active = False
        session.flush()
        raise RuntimeError("rolled back")
    assert marked == ["marked"]  # the flush's; no commit followed


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


def _revoke_own_token(client, admin, eve):
    token_id = client.get("/api/v1/tokens", headers=eve.auth).json()[0]["id"]
    return client.delete(f"/api/v1/tokens/{token_id}", headers=eve.auth)


def _deactivate(client, admin, eve):
    return client.patch(f"/api/v1/users/{eve.id}", json={"is_active": False}, headers=admin.auth)


@pytest.mark.parametrize("stop", [_revoke_own_token, _deactivate], ids=["revoked-by-owner", "deactivated-by-admin"])
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
    """A change made by code that is not the API's (here the tests' own session, as the CLI or a
    housekeeping job would make it) ends the verdict too."""
    _, eve = _prime(api_app)
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200
    assert client.get(WORKLIST, headers=eve.auth).status_code == 200  # kept and vouched
    with api_app.state.database.session() as session:
        session.execute(update(ApiToken).where(ApiToken.user_id == eve.id).values(revoked_at=ApiToken.created_at))
    refused = client.get(WORKLIST, headers=eve.auth)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
