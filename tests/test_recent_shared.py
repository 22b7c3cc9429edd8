"""One kept worklist answer shared by every caller who would get the same (assistants and admins,
who see every memo, asking the same query without "mine"), at the door and inside: computed once
for all of them, never given to an author or for "mine", and each caller still reads their own
writes at once. On the real app and database; the test's clock stands still unless moved."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.recent import TTL_S
from dictation.memos import worklist as work
from tests.support.api import PASSWORD, make_person, make_ready_draft
from tests.test_recent_answers import Clock, shown

WORKLIST = "/api/v1/worklist"


def _prime(api_app) -> Clock:
    clock = Clock()
    api_app.state.recent.__init__(clock=clock)  # the instance the middleware holds, on the test's clock
    return clock


def _count_computations(monkeypatch) -> list[int]:
    computed: list[int] = []
    real = work.load

    def counted(session, user, wanted, now=None):
        computed.append(user.id)
        return real(session, user, wanted, now)

    monkeypatch.setattr(work, "load", counted)
    return computed


def test_compute_worklist_once_for_every_desk(client, api_app, monkeypatch):
    clock = _prime(api_app)
    ada = make_person(api_app, "author")
    desks = [make_person(api_app, role) for role in ("assistant", "assistant", "admin", "assistant")]
    draft = make_ready_draft(api_app, ada)
    clock.now += 0.1
    computed = _count_computations(monkeypatch)
    for desk in desks * 2:
        assert shown(client, desk) == {draft}
    assert computed == [desks[0].id]
    clock.now += TTL_S * 1.5
    assert shown(client, desks[2]) == {draft}
    assert computed == [desks[0].id, desks[2].id]  # past its second: once more, for all


def test_keep_author_and_mine_answers_their_own(client, api_app, monkeypatch):
    _prime(api_app)
    ada, ben, eve = make_person(api_app, "author"), make_person(api_app, "author"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    assert shown(client, eve) == {draft}  # kept for all who see every memo
    computed = _count_computations(monkeypatch)
    assert shown(client, ben) == set()
    assert shown(client, ada) == {draft}
    for query in ("?mine=true", "?mine=false", "?mine=1"):  # any "mine": the caller's own
        assert client.get(f"{WORKLIST}{query}", headers=eve.auth).status_code == 200
    assert computed == [ben.id, ada.id, eve.id, eve.id, eve.id]


def test_read_own_claim_at_once_though_answer_is_shared(client, api_app):
    clock = _prime(api_app)
    ada, eve, sam = make_person(api_app, "author"), make_person(api_app, "assistant"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    for desk in (eve, sam, eve, sam):  # kept, and both tokens vouched for at the door
        assert client.get(WORKLIST, headers=desk.auth).json()["items"][0]["assignee"] is None
    claimed = client.post(f"/api/v1/drafts/{draft}/transitions", json={"action": "claim"}, headers=sam.auth)
    assert claimed.status_code == 200, claimed.text
    clock.now += 0.01  # the shared answer, from before the claim, is still within its second
    item = client.get(WORKLIST, headers=sam.auth).json()["items"][0]
    assert item["assignee"]["id"] == sam.id and item["memo"]["status"] == "in_review"
    # eve now gets sam's newer answer, the one computed after the claim
    assert client.get(WORKLIST, headers=eve.auth).json()["items"][0]["assignee"]["id"] == sam.id


def test_end_sharing_at_once_when_role_changes_to_author(client, api_app):
    _prime(api_app)
    root, ada, eve = make_person(api_app, "admin"), make_person(api_app, "author"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    for _ in range(2):  # kept and vouched
        assert shown(client, eve) == {draft}
    changed = client.patch(f"/api/v1/users/{eve.id}", json={"role": "author"}, headers=root.auth)
    assert changed.status_code == 200, changed.text
    assert shown(client, eve) == set()  # the same instant: an author now, who sees only their own
    assert shown(client, root) == {draft}


def test_share_answer_with_signed_in_desk(api_app, monkeypatch):
    _prime(api_app)
    ada, eve, sam = make_person(api_app, "author"), make_person(api_app, "assistant"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    with TestClient(api_app, base_url="http://127.0.0.1") as desk:
        assert desk.post("/api/v1/session", json={"email": sam.email, "password": PASSWORD}).status_code == 200
        assert shown(desk, eve) == {draft}  # eve, by token, computes
        computed = _count_computations(monkeypatch)
        answer = desk.get(WORKLIST)  # sam, by session cookie: the door identifies, then shares
        assert answer.status_code == 200 and {i["memo"]["draft_id"] for i in answer.json()["items"]} == {draft}
        assert computed == []
        desk.cookies.clear()
        assert desk.get(WORKLIST).status_code == 401  # no credential: nothing shared


def _mine(client, person) -> set[int]:
    answer = client.get(f"{WORKLIST}?mine=true", headers=person.auth)
    assert answer.status_code == 200, answer.text
    return {item["memo"]["draft_id"] for item in answer.json()["items"]}


def _claim(client, person, draft) -> None:
    claimed = client.post(f"/api/v1/drafts/{draft}/transitions", json={"action": "claim"}, headers=person.auth)
    assert claimed.status_code == 200, claimed.text


def _claimed_by_eve(client, api_app, other_role: str):
    """An author's draft claimed by eve, an assistant, and someone else of `other_role`."""
    clock = _prime(api_app)
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    other = make_person(api_app, other_role)
    draft = make_ready_draft(api_app, ada)
    _claim(client, eve, draft)
    clock.now += 0.01
    return clock, eve, other, draft


def test_keep_mine_apart_between_assistants(client, api_app):
    _, eve, sam, draft = _claimed_by_eve(client, api_app, "assistant")
    assert _mine(client, eve) == {draft}
    assert _mine(client, sam) == set()
    assert _mine(client, sam) == set()  # the second time at the door


def test_drop_own_answer_read_before_demotion(client, api_app):
    clock, eve, root, draft = _claimed_by_eve(client, api_app, "admin")
    assert _mine(client, eve) == {draft}
    assert _mine(client, eve) == {draft}  # kept
    clock.now += 0.01
    assert client.patch(f"/api/v1/users/{eve.id}", json={"role": "author"}, headers=root.auth).status_code == 200
    clock.now += 0.01
    assert _mine(client, eve) == set()  # an author now: ada's memo is not hers, whoever claimed it


def test_keep_no_answer_computed_after_demotion_for_caller_identified_before(client, api_app, monkeypatch):
    """The caller was identified (as an assistant) before a demotion that committed before their
    answer was computed: that answer is not kept for after it."""
    from starlette.concurrency import run_in_threadpool

    import api.routers.worklist as router
    from dictation.models import User

    clock, eve, _, _ = _claimed_by_eve(client, api_app, "assistant")
    armed = [True]

    async def demoted_meanwhile(func, *args, **kwargs):
        if armed and armed.pop():
            with api_app.state.database.session() as session:
                session.get(User, eve.id).role = "author"
            clock.now += 0.01
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(router, "run_in_threadpool", demoted_meanwhile)
    _mine(client, eve)  # concurrent with the demotion: either answer is fair
    clock.now += 0.01
    assert _mine(client, eve) == set()


def test_keep_shared_answer_through_others_credential_changes(client, api_app, monkeypatch):
    """Anyone's new token or sign-in is a credential change; the shared answer is no role's, so
    it stays (else any account could keep every desk's worklist computing)."""
    clock = _prime(api_app)
    ada, eve, sam = make_person(api_app, "author"), make_person(api_app, "assistant"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    clock.now += 0.01
    assert shown(client, eve) == {draft}
    clock.now += 0.01
    made = client.post("/api/v1/tokens", json={"name": "another"}, headers=ada.auth)
    assert made.status_code == 201, made.text
    clock.now += 0.01
    computed = _count_computations(monkeypatch)
    assert shown(client, sam) == {draft}
    assert computed == []
