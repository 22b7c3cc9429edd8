"""A worklist past its second is computed by the first caller to ask (api/recent.py's claim):
the same reads arriving before that computation starts get the previous answer at once, the
claimant computes (it is not handed the previous answer itself), and a claim whose request
never comes lapses rather than leave anyone waiting. The clock is the test's."""

from __future__ import annotations

import threading

from api.recent import STALE_S, TTL_S, RecentAnswers
from tests.support.api import make_person, make_ready_draft
from tests.test_recent_answers import Clock, shown

KEY = ("caller", "/api/v1/worklist", "")


def _past_ttl() -> tuple[Clock, RecentAnswers]:
    clock = Clock()
    recent = RecentAnswers(clock=clock)
    recent.put(KEY, clock(), b"previous")
    clock.now += TTL_S + 0.3
    return clock, recent


def test_claim_successor_for_first_caller_past_ttl():
    _, recent = _past_ttl()
    assert recent.ready(KEY) is None  # the first: claimed, it computes
    assert [recent.ready(KEY) for _ in range(3)] == [b"previous"] * 3  # the rest meanwhile: at once
    assert recent.answer(KEY, lambda: b"new") == b"new"  # the claim's computation, not a wait
    assert recent.ready(KEY) == b"new"


def test_compute_claimed_answer_by_whoever_answers_first():
    """The claimant's request may fail on its way (refused, disconnected): the next caller that
    needs an answer computes it at once instead of waiting for the claimant."""
    _, recent = _past_ttl()
    assert recent.ready(KEY) is None
    got: list[bytes] = []
    other = threading.Thread(target=lambda: got.append(recent.answer(KEY, lambda: b"by another")), daemon=True)
    other.start()
    other.join(5)
    assert got == [b"by another"]


def test_lapse_claim_nobody_took():
    clock, recent = _past_ttl()
    assert recent.ready(KEY) is None  # claimed; its request never comes
    clock.now += STALE_S
    assert recent.ready(KEY) is None  # the previous answer is too old to give: claimed anew
    clock.now += STALE_S + 0.1
    assert recent.ready(KEY) is None  # and again, rather than wait for a claim that lapsed
    assert recent.answer(KEY, lambda: b"new") == b"new"
    assert recent.ready(KEY) == b"new"


def test_give_no_previous_answer_after_callers_write_despite_claim():
    clock, recent = _past_ttl()
    assert recent.ready(KEY) is None
    recent.wrote("caller")
    clock.now += 0.01
    assert recent.ready(KEY) is None  # never the answer from before the write
    assert recent.answer(KEY, lambda: b"after the write") == b"after the write"


def test_keep_claims_bounded():
    from api import recent as module

    clock = Clock()
    recent = RecentAnswers(clock=clock)
    for caller in range(module.MAX_KEPT + 50):
        assert recent.ready((str(caller), "/api/v1/worklist", "")) is None
    assert len(recent._claimed) == len(recent._running) == module.MAX_KEPT


def test_compute_worklist_for_claimant_at_the_door(client, api_app):
    """Through the app: the request that claimed the computation at the door gets a computed
    worklist (showing a change made since), not the previous answer the endpoint would find."""
    clock = Clock()
    api_app.state.recent.__init__(clock=clock)
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    first = make_ready_draft(api_app, ada)
    assert shown(client, eve) == {first}
    second = make_ready_draft(api_app, ada)
    clock.now += TTL_S / 2
    assert shown(client, eve) == {first}  # kept
    clock.now += TTL_S
    assert shown(client, eve) == {first, second}  # the claimant computes
