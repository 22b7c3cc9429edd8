"""The memo state machine: moves, refusals with reasons, roles, the claim lock, the audit trail."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from dictation import workflow
from dictation.errors import InvalidInput, TransitionRefused
from dictation.models import AuditEntry, Memo, State
from tests.support.dbfixtures import make_draft, make_memo, make_user

# The people's moves, written out from DESIGN.md independently of workflow.ACTIONS:
# (action, from state) -> to state. Every pair not listed must be refused.
EXPECTED = {
    ("claim", "ready"): "in_review",
    ("claim", "in_review"): "in_review",  # a draft someone released
    ("claim", "changes_requested"): "in_review",
    ("release", "in_review"): "ready",
    ("release", "changes_requested"): "changes_requested",
    ("submit_for_approval", "in_review"): "awaiting_approval",
    ("submit_for_approval", "changes_requested"): "awaiting_approval",  # sent again without re-claiming
    ("withdraw", "awaiting_approval"): "in_review",  # the assistant takes the request back to edit
    ("approve", "awaiting_approval"): "approved",
    ("request_changes", "awaiting_approval"): "changes_requested",
    **{
        ("archive", s): "archived"
        for s in ("ready", "in_review", "awaiting_approval", "approved", "changes_requested", "published", "failed")
    },
}
ALL_ACTIONS = ["claim", "release", "submit_for_approval", "withdraw", "approve", "request_changes", "archive"]
REFUSED = [(a, s.value) for a in ALL_ACTIONS for s in State if (a, s.value) not in EXPECTED]
SIGN_OFF = {"approve", "request_changes"}


@pytest.fixture
def people(db):
    with db.session() as s:
        return {
            "author": make_user(s, "author", name="Ada Author"),
            "other_author": make_user(s, "author", name="Otto Other"),
            "assistant": make_user(s, "assistant", name="Asha Assistant"),
            "assistant2": make_user(s, "assistant", name="Bo Second"),
            "admin": make_user(s, "admin", name="Ida Admin"),
        }


def new_memo(db, people, status="ready", holder=None):
    """A memo by the author with a draft; `holder` names who has claimed it."""
    with db.session() as s:
        memo = make_memo(s, people["author"], status=status)
        assignee = people[holder].id if holder else None
        make_draft(s, memo, assignee_id=assignee)
        return memo.id


def act(db, memo_id, action, who, comment=None):
    with db.session() as s:
        memo = s.get(Memo, memo_id)
        return workflow.apply(s, memo, action, s.merge(who, load=False) if who else None, comment)


def state_of(db, memo_id) -> tuple[str, int | None]:
    with db.session() as s:
        memo = s.get(Memo, memo_id)
        return memo.status, memo.draft.assignee_id


def audit_of(db, memo_id) -> list[tuple]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.memo_id == memo_id).order_by(AuditEntry.id))
        return [(e.action, e.actor_id, e.from_state, e.to_state, e.detail) for e in rows]


@pytest.mark.parametrize(("action", "from_state"), sorted(EXPECTED))
def test_apply_action_allowed_moves_memo(db, people, action, from_state):
    actor = "author" if action in SIGN_OFF else "assistant"
    holder = "assistant" if action == "release" else None
    memo_id = new_memo(db, people, from_state, holder=holder)
    comment = "Shorter intro, please." if action == "request_changes" else None

    act(db, memo_id, action, people[actor], comment)

    status, assignee = state_of(db, memo_id)
    assert status == EXPECTED[(action, from_state)]
    assert audit_of(db, memo_id) == [(action, people[actor].id, from_state, status, comment)]
    if action == "claim":
        assert assignee == people["assistant"].id
    if action in ("release", "archive"):
        assert assignee is None


@pytest.mark.parametrize(("action", "from_state"), REFUSED)
def test_apply_action_from_wrong_state_refused(db, people, action, from_state):
    actor = "author" if action in SIGN_OFF else "admin"
    memo_id = new_memo(db, people, from_state, holder="admin")
    with pytest.raises(TransitionRefused) as refused:
        act(db, memo_id, action, people[actor], comment="why")
    assert refused.value.status == 409
    assert "cannot be" in refused.value.message
    assert state_of(db, memo_id) == (from_state, people["admin"].id)
    assert audit_of(db, memo_id) == []


@pytest.mark.parametrize(
    ("action", "state", "who", "says"),
    [
        ("claim", "ready", "author", "Only an admin or an assistant"),
        ("archive", "ready", "author", "Only an admin or an assistant"),
        ("submit_for_approval", "in_review", "author", "Only an admin or an assistant"),
        ("approve", "awaiting_approval", "assistant", "Only an admin or an author"),
        ("request_changes", "awaiting_approval", "assistant2", "Only an admin or an author"),
        ("approve", "awaiting_approval", "other_author", "own memos"),
        ("request_changes", "awaiting_approval", "other_author", "own memos"),
    ],
)
def test_apply_action_wrong_role_refused(db, people, action, state, who, says):
    memo_id = new_memo(db, people, state)
    with pytest.raises(TransitionRefused, match=says):
        act(db, memo_id, action, people[who], comment="because")
    assert state_of(db, memo_id)[0] == state


def test_apply_admin_signs_off_any_memo(db, people):
    memo_id = new_memo(db, people, "awaiting_approval", holder="assistant")
    act(db, memo_id, "approve", people["admin"])
    assert state_of(db, memo_id)[0] == "approved"


def test_apply_without_person_refused(db, people):
    memo_id = new_memo(db, people)
    with pytest.raises(TransitionRefused, match="signed-in"):
        act(db, memo_id, "claim", None)


def test_apply_disabled_account_refused(db, people):
    with db.session() as s:
        user = make_user(s, "assistant", is_active=False)
    memo_id = new_memo(db, people)
    with pytest.raises(TransitionRefused, match="disabled"):
        act(db, memo_id, "claim", user)


def test_apply_unknown_action_invalid(db, people):
    memo_id = new_memo(db, people)
    with pytest.raises(InvalidInput, match="publish_now"):
        act(db, memo_id, "publish_now", people["admin"])


def test_apply_without_draft_refused(db, people):
    with db.session() as s:
        memo_id = make_memo(s, people["author"], status="ready").id
    with pytest.raises(TransitionRefused, match="no draft"):
        act(db, memo_id, "claim", people["assistant"])


@pytest.mark.parametrize("comment", [None, "", "   \n"])
def test_request_changes_without_reason_refused(db, people, comment):
    memo_id = new_memo(db, people, "awaiting_approval", holder="assistant")
    with pytest.raises(TransitionRefused, match="reason is required"):
        act(db, memo_id, "request_changes", people["author"], comment)
    assert state_of(db, memo_id)[0] == "awaiting_approval"


@pytest.mark.parametrize("action", ["claim", "release", "submit_for_approval", "archive"])
def test_apply_on_draft_claimed_by_someone_else_refused(db, people, action):
    memo_id = new_memo(db, people, "in_review", holder="assistant")
    with pytest.raises(TransitionRefused) as refused:
        act(db, memo_id, action, people["assistant2"])
    assert "Asha Assistant has claimed this draft" in refused.value.message
    assert "admin can reassign" in refused.value.message
    assert state_of(db, memo_id) == ("in_review", people["assistant"].id)


def test_claim_own_draft_twice_refused(db, people):
    memo_id = new_memo(db, people)
    act(db, memo_id, "claim", people["assistant"])
    with pytest.raises(TransitionRefused, match="already claimed"):
        act(db, memo_id, "claim", people["assistant"])


def test_claim_released_draft_by_another_assistant(db, people):
    memo_id = new_memo(db, people)
    act(db, memo_id, "claim", people["assistant"])
    act(db, memo_id, "release", people["assistant"])
    act(db, memo_id, "claim", people["assistant2"])
    assert state_of(db, memo_id) == ("in_review", people["assistant2"].id)


def test_reassign_admin_hands_claim_over(db, people):
    memo_id = new_memo(db, people, "in_review", holder="assistant")
    with db.session() as s:
        memo = s.get(Memo, memo_id)
        workflow.reassign(s, memo, s.merge(people["assistant2"], load=False), s.merge(people["admin"], load=False))
    assert state_of(db, memo_id) == ("in_review", people["assistant2"].id)
    assert audit_of(db, memo_id) == [
        ("reassign", people["admin"].id, "in_review", "in_review", "from Asha Assistant to Bo Second")
    ]
    with pytest.raises(TransitionRefused, match="Bo Second has claimed"):
        act(db, memo_id, "submit_for_approval", people["assistant"])
    act(db, memo_id, "submit_for_approval", people["assistant2"])
    assert state_of(db, memo_id)[0] == "awaiting_approval"


def test_reassign_ready_draft_puts_it_in_review(db, people):
    memo_id = new_memo(db, people, "ready")
    with db.session() as s:
        workflow.reassign(
            s, s.get(Memo, memo_id), s.merge(people["assistant"], load=False), s.merge(people["admin"], load=False)
        )
    assert state_of(db, memo_id) == ("in_review", people["assistant"].id)
    assert audit_of(db, memo_id)[0][4] == "from nobody to Asha Assistant"


@pytest.mark.parametrize(
    ("by", "to", "state", "says"),
    [
        ("assistant", "assistant2", "in_review", "Only an admin"),
        ("admin", "author", "in_review", "not an active assistant"),
        ("admin", "assistant2", "published", "cannot be reassigned"),
    ],
)
def test_reassign_refused(db, people, by, to, state, says):
    memo_id = new_memo(db, people, state, holder="assistant")
    with db.session() as s:
        memo = s.get(Memo, memo_id)
        with pytest.raises(TransitionRefused, match=says):
            workflow.reassign(s, memo, s.merge(people[to], load=False), s.merge(people[by], load=False))
    assert state_of(db, memo_id) == (state, people["assistant"].id)


def test_apply_whole_review_round_writes_audit_trail(db, people):
    memo_id = new_memo(db, people)
    a, author = people["assistant"], people["author"]
    act(db, memo_id, "claim", a)
    act(db, memo_id, "submit_for_approval", a, "Ready for you")
    act(db, memo_id, "request_changes", author, "  Drop the last paragraph.  ")
    act(db, memo_id, "claim", a)
    act(db, memo_id, "submit_for_approval", a)
    act(db, memo_id, "approve", author)
    assert audit_of(db, memo_id) == [
        ("claim", a.id, "ready", "in_review", None),
        ("submit_for_approval", a.id, "in_review", "awaiting_approval", "Ready for you"),
        ("request_changes", author.id, "awaiting_approval", "changes_requested", "Drop the last paragraph."),
        ("claim", a.id, "changes_requested", "in_review", None),
        ("submit_for_approval", a.id, "in_review", "awaiting_approval", None),
        ("approve", author.id, "awaiting_approval", "approved", None),
    ]
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.memo_id == memo_id)).all()
        assert all(e.created_at.tzinfo is not None for e in entries)
        assert [e.created_at for e in entries] == sorted(e.created_at for e in entries)


def test_allowed_actions_per_person(db, people):
    ready = new_memo(db, people, "ready")
    waiting = new_memo(db, people, "awaiting_approval", holder="assistant")
    held = new_memo(db, people, "in_review", holder="assistant")
    with db.session() as s:
        def allowed(memo_id, who):
            memo = s.get(Memo, memo_id)
            return workflow.allowed_actions(memo, memo.draft, s.merge(people[who], load=False))

        assert allowed(ready, "assistant") == ["claim", "archive"]
        assert allowed(ready, "author") == []
        assert allowed(waiting, "author") == ["approve", "request_changes"]
        assert allowed(waiting, "other_author") == []
        assert allowed(waiting, "assistant") == ["withdraw", "archive"]  # the text is frozen until withdrawn
        assert allowed(held, "assistant") == ["release", "submit_for_approval", "archive"]
        assert allowed(held, "assistant2") == []
        assert allowed(held, "admin") == ["claim", "release", "submit_for_approval", "archive", "reassign"]
        memo = s.get(Memo, ready)
        assert workflow.allowed_actions(memo, memo.draft, None) == []


def test_claim_with_stale_view_refused(any_db, people_any):
    """Two assistants opened the same ready memo; the one who clicks second is refused."""
    db, people = any_db, people_any
    memo_id = new_memo(db, people)
    with db.session() as first, db.session() as second:
        memo_1, memo_2 = first.get(Memo, memo_id), second.get(Memo, memo_id)
        assert memo_1.draft.assignee_id is None and memo_2.draft.assignee_id is None
        workflow.apply(first, memo_1, "claim", first.merge(people["assistant"], load=False))
        first.commit()
        with pytest.raises(TransitionRefused, match="changed meanwhile|has claimed"):
            workflow.apply(second, memo_2, "claim", second.merge(people["assistant2"], load=False))
        second.rollback()
    assert state_of(db, memo_id) == ("in_review", people["assistant"].id)
    assert [row[0] for row in audit_of(db, memo_id)] == ["claim"]


def test_claim_concurrent_exactly_one_wins(any_db, people_any):
    db, people = any_db, people_any
    memo_id = new_memo(db, people)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def claim(who):
        try:
            with db.session() as s:
                memo = s.get(Memo, memo_id)
                _ = memo.draft  # load it before the race, as a page view would
                barrier.wait()
                workflow.apply(s, memo, "claim", s.merge(people[who], load=False))
            outcomes[who] = "won"
        except TransitionRefused as exc:
            outcomes[who] = exc.message

    threads = [threading.Thread(target=claim, args=(w,), daemon=True) for w in ("assistant", "assistant2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)  # a lost lock shows as a failure here, not as a hung run
    assert not any(t.is_alive() for t in threads), "a concurrent call never returned"
    winners = [w for w, o in outcomes.items() if o == "won"]
    assert len(winners) == 1, outcomes
    assert state_of(db, memo_id) == ("in_review", people[winners[0]].id)
    assert len(audit_of(db, memo_id)) == 1


@pytest.fixture
def people_any(any_db):
    with any_db.session() as s:
        return {r: make_user(s, r.rstrip("2"), name=n) for r, n in
                [("author", "Ada Author"), ("assistant", "Asha Assistant"), ("assistant2", "Bo Second")]}


# --- the machine's moves ----------------------------------------------------------------


def move(db, memo_id, to, detail=None, **kw):
    with db.session() as s:
        return workflow.system(s, s.get(Memo, memo_id), State(to), detail, **kw)


def test_system_processing_path_audited(db, people):
    with db.session() as s:
        memo_id = make_memo(s, people["author"], status="received").id
    move(db, memo_id, "transcribing")
    move(db, memo_id, "failed", "The model could not be loaded.")
    with db.session() as s:
        assert s.get(Memo, memo_id).error == "The model could not be loaded."
    move(db, memo_id, "received", actor=people["assistant"])  # a person pressed retry
    move(db, memo_id, "transcribing")
    move(db, memo_id, "ready")
    with db.session() as s:
        memo = s.get(Memo, memo_id)
        assert (memo.status, memo.error) == ("ready", None)
    assert audit_of(db, memo_id) == [
        ("start_transcription", None, "received", "transcribing", None),
        ("fail", None, "transcribing", "failed", "The model could not be loaded."),
        ("retry", people["assistant"].id, "failed", "received", None),
        ("start_transcription", None, "received", "transcribing", None),
        ("transcribed", None, "transcribing", "ready", None),
    ]


def test_system_publishing_path(db, people):
    memo_id = new_memo(db, people, "approved", holder="assistant")
    for to in ("scheduled", "publishing", "failed", "publishing", "published"):
        move(db, memo_id, to, "CMS answered 503" if to == "failed" else None)
    assert [r[3] for r in audit_of(db, memo_id)] == ["scheduled", "publishing", "failed", "publishing", "published"]


@pytest.mark.parametrize(
    ("start", "to"),
    [("received", "published"), ("ready", "approved"), ("awaiting_approval", "scheduled"), ("archived", "ready")],
)
def test_system_impossible_move_refused(db, people, start, to):
    memo_id = new_memo(db, people, start)
    with pytest.raises(TransitionRefused, match="cannot become"):
        move(db, memo_id, to)
    assert state_of(db, memo_id)[0] == start
    assert audit_of(db, memo_id) == []


def test_system_failed_without_reason_refused(db, people):
    memo_id = new_memo(db, people, "transcribing")
    with pytest.raises(TransitionRefused, match="reason"):
        move(db, memo_id, "failed", "  ")


def test_system_cancel_named_by_caller(db, people):
    memo_id = new_memo(db, people, "transcribing")
    move(db, memo_id, "archived", "Cancelled by Asha", actor=people["assistant"], action="cancel")
    assert audit_of(db, memo_id) == [
        ("cancel", people["assistant"].id, "transcribing", "archived", "Cancelled by Asha")
    ]


def test_system_move_on_stale_memo_refused(db, people):
    memo_id = new_memo(db, people, "transcribing")
    with db.session() as s:
        stale = s.get(Memo, memo_id)
        move(db, memo_id, "archived", action="cancel")  # someone cancelled meanwhile
        with pytest.raises(TransitionRefused, match="changed meanwhile"):
            workflow.system(s, stale, State.ready)
        s.rollback()
    assert state_of(db, memo_id)[0] == "archived"


def test_actions_table_lists_the_people_moves():
    assert list(workflow.ACTIONS) == ALL_ACTIONS
    assert {(a, s.value): t.value for a, spec in workflow.ACTIONS.items() for s, t in spec.moves.items()} == EXPECTED
