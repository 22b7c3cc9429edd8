"""The worklist answered from memory for a second (api/recent.py), on the real app and database:
others' changes show once the second is over, the caller's own writes at once, and no answer
is ever given to another caller or to a credential that no longer works. The clock is the
test's, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from api.recent import STALE_S, TTL_S, RecentAnswers
from tests.support.api import make_person, make_ready_draft

API = "/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(api_app) -> Clock:
    clock = Clock()
    api_app.state.recent.__init__(clock=clock)  # the instance the middleware holds, on the test's clock
    return clock


def shown(client, person) -> set[int]:
    answer = client.get(f"{API}/worklist", headers=person.auth)
    assert answer.status_code == 200, answer.text
    return {item["memo"]["draft_id"] for item in answer.json()["items"]}


def test_serve_worklist_again_until_second_is_over(client, api_app, clock):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    first = make_ready_draft(api_app, ada)
    assert shown(client, eve) == {first}
    second = make_ready_draft(api_app, ada)  # written by someone else (straight into the database)
    clock.now += TTL_S / 2
    assert shown(client, eve) == {first}  # the kept answer
    clock.now += TTL_S
    assert shown(client, eve) == {first, second}


def test_forget_kept_worklist_after_callers_own_write(client, api_app, clock):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft = make_ready_draft(api_app, ada)
    assert client.get(f"{API}/worklist", headers=eve.auth).json()["items"][0]["assignee"] is None
    claimed = client.post(f"{API}/drafts/{draft}/transitions", json={"action": "claim"}, headers=eve.auth)
    assert claimed.status_code == 200, claimed.text
    item = client.get(f"{API}/worklist", headers=eve.auth).json()["items"][0]  # same instant, fresh answer
    assert item["assignee"]["id"] == eve.id and item["memo"]["status"] == "in_review"


def test_share_answer_among_those_who_see_all_and_keep_the_rest_apart(client, api_app, clock):
    ada, eve, sam, root = (make_person(api_app, r) for r in ("author", "assistant", "assistant", "admin"))
    first = make_ready_draft(api_app, ada)
    assert shown(client, eve) == {first}
    second = make_ready_draft(api_app, ada)
    # Another assistant and an admin see every memo: eve's answer is theirs too, as kept
    assert shown(client, sam) == {first} and shown(client, root) == {first}
    assert shown(client, ada) == {first, second}  # an author's is their own: their memos only
    ben = make_person(api_app, "author")
    assert shown(client, ben) == set()  # and another author's, theirs
    mine = client.get(f"{API}/worklist?mine=true", headers=eve.auth).json()["items"]
    assert mine == []  # another query, another answer
    clock.now += TTL_S * 1.5
    assert shown(client, sam) == {first, second}


def test_refuse_revoked_token_despite_kept_answer(client, api_app, clock):
    from dictation.models import ApiToken

    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    make_ready_draft(api_app, ada)
    shown(client, eve)
    with api_app.state.database.session() as session:
        for token in session.query(ApiToken).filter_by(user_id=eve.id):
            session.delete(token)
    assert client.get(f"{API}/worklist", headers=eve.auth).status_code == 401


def test_drop_answer_read_while_callers_write_ran():
    clock = Clock()
    recent = RecentAnswers(clock=clock)
    key = ("caller", "/api/v1/worklist", "")
    started = clock()
    clock.now += 0.1
    recent.wrote("caller")  # a claim began while the read was running
    recent.put(key, started, b"{}")
    assert recent.get(key) is None


def test_compute_worklist_once_for_callers_arriving_meanwhile():
    recent = RecentAnswers(clock=Clock())
    key = ("caller", "/api/v1/worklist", "")
    computing, let_go, calls = threading.Event(), threading.Event(), []

    def compute() -> bytes:
        calls.append(1)
        computing.set()
        assert let_go.wait(10)
        return b'{"n": 1}'

    answers: list[bytes] = []
    first = threading.Thread(target=lambda: answers.append(recent.answer(key, compute)))
    first.start()
    assert computing.wait(10)
    others = [threading.Thread(target=lambda: answers.append(recent.answer(key, compute))) for _ in range(5)]
    for thread in others:
        thread.start()
    let_go.set()
    for thread in [first, *others]:
        thread.join(10)
    assert answers == [b'{"n": 1}'] * 6
    assert len(calls) == 1


def test_compute_again_after_failed_computation():
    recent = RecentAnswers(clock=Clock())
    key = ("caller", "/api/v1/worklist", "")

    def broken() -> bytes:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        recent.answer(key, broken)
    assert recent.answer(key, lambda: b"[]") == b"[]"  # nobody left waiting on the failed one


def test_compute_afresh_when_caller_wrote_during_computation():
    clock = Clock()
    recent = RecentAnswers(clock=clock)
    key = ("caller", "/api/v1/worklist", "")

    def read_while_claiming() -> bytes:
        clock.now += 0.1
        recent.wrote("caller")  # the caller's claim ran while this was read
        return b"before the claim"

    assert recent.answer(key, read_while_claiming) == b"before the claim"  # its own request's answer
    assert recent.answer(key, lambda: b"after the claim") == b"after the claim"  # not kept for the next


def _computing(recent: RecentAnswers, key: tuple[str, str, str], body: bytes):
    """Start a computation of `key` in a thread that holds until released: (release, thread)."""
    computing, let_go = threading.Event(), threading.Event()

    def compute() -> bytes:
        computing.set()
        assert let_go.wait(10)
        return body

    thread = threading.Thread(target=recent.answer, args=(key, compute))
    thread.start()
    assert computing.wait(10)
    return let_go, thread


def _answer_within(recent: RecentAnswers, key: tuple[str, str, str], seconds: float) -> list[bytes]:
    """What a second caller of `key` gets within `seconds` (empty when it is still waiting)."""
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(recent.answer(key, lambda: b"its own")), daemon=True)
    thread.start()
    thread.join(seconds)
    return got


@pytest.mark.parametrize(("age", "wrote", "gets_previous"), [
    (TTL_S + 0.5, False, True),  # past the TTL, under STALE_S: the previous answer at once
    (STALE_S + 0.1, False, False),  # too old to give: wait for the new one
    (TTL_S + 0.5, True, False),  # the caller wrote since: never the answer from before
])
def test_answer_worklist_while_successor_computes_by_age_and_writes(age, wrote, gets_previous):
    clock = Clock()
    recent = RecentAnswers(clock=clock)
    key = ("caller", "/api/v1/worklist", "")
    recent.put(key, clock(), b"previous")
    clock.now += age
    if wrote:
        recent.wrote("caller")
        clock.now += 0.01  # the computation below begins after the write
    let_go, computing = _computing(recent, key, b"new")
    try:
        got = _answer_within(recent, key, 0.5 if not gets_previous else 10)
        assert got == ([b"previous"] if gets_previous else [])
    finally:
        let_go.set()
        computing.join(10)
    assert recent.answer(key, lambda: b"not again") == b"new"  # the computed one is kept


@pytest.mark.parametrize(("age", "computing", "expected"), [
    (TTL_S / 2, False, b"previous"),  # kept and fresh
    (TTL_S + 0.5, False, None),  # past the TTL, nobody computing: the caller computes
    (TTL_S + 0.5, True, b"previous"),  # its successor is being computed: the previous one
    (STALE_S + 0.1, True, None),  # too old to give: the caller waits in a thread
])
def test_give_ready_worklist_only_when_answer_would_not_wait(age, computing, expected):
    clock = Clock()
    recent = RecentAnswers(clock=clock)
    key = ("caller", "/api/v1/worklist", "")
    recent.put(key, clock(), b"previous")
    clock.now += age
    let_go, thread = _computing(recent, key, b"new") if computing else (None, None)
    try:
        assert recent.ready(key) == expected
        assert recent.ready(None) is None  # no credential: never a kept answer
    finally:
        if let_go is not None:
            let_go.set()
            thread.join(10)


def test_end_request_session_without_connection_for_kept_worklist(client, api_app, clock, monkeypatch):
    """A kept answer needs no database: the request's session takes no connection (so it is
    ended on the event loop, without a thread), while the token is still checked each time."""
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    make_ready_draft(api_app, ada)
    database = api_app.state.database
    assert shown(client, eve)  # computed and kept
    checkouts: list[str] = []
    # The token is checked on the loop's own connection: SQLite's in the loop, PostgreSQL's awaited.
    pools = {"app": database.engine.pool}
    if (reader := database.loop_reader()) is not None:
        pools["loop"] = reader.pool
    if (awaited := database.awaited_reader()) is not None:
        real = awaited.first

        async def counted(*args, **kwargs):
            checkouts.append("loop")
            return await real(*args, **kwargs)

        monkeypatch.setattr(awaited, "first", counted)
    listeners = {name: (lambda *_a, name=name: checkouts.append(name)) for name in pools}

    for name, pool in pools.items():
        event.listen(pool, "checkout", listeners[name])
    try:
        clock.now += TTL_S / 2
        assert shown(client, eve)  # kept
        kept = list(checkouts)
        clock.now += TTL_S
        assert shown(client, eve)  # computed again
        computed = checkouts[len(kept):]
    finally:
        for name, pool in pools.items():
            event.remove(pool, "checkout", listeners[name])
    # The token's own check, nothing for the request's session...
    assert kept == ["loop"]
    assert computed == ["app", "app"]  # ...and when computed, the token's check and the request's session
