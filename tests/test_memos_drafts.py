"""The draft service (dictation.memos.drafts), called directly on a real database: the versioned
save, revisions, workflow moves and comments."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion, TransitionRefused
from dictation.memos import drafts
from dictation.models import Comment, Draft, DraftRevision, State, User
from tests.support.dbfixtures import make_draft, make_memo, make_user


@pytest.fixture
def ids(any_db) -> dict[str, int]:
    """An author's ready memo with the machine's draft, an assistant and an admin."""
    with any_db.session() as session:
        author = make_user(session, "author")
        memo = make_memo(session, author, status="ready")
        draft = make_draft(session, memo)
        return {
            "author": author.id, "assistant": make_user(session, "assistant").id,
            "other": make_user(session, "assistant").id, "admin": make_user(session, "admin").id,
            "memo": memo.id, "draft": draft.id,
        }


def save(database, ids, who: str, version: int, **changes) -> Draft:
    with database.session() as session:
        user = session.get(User, ids[who])
        draft = drafts.visible_draft(session, user, ids["draft"])
        return drafts.save_draft(session, user, draft, version, changes)


def test_save_draft_writes_next_version_and_keeps_both_revisions(any_db, ids):
    saved = save(any_db, ids, "assistant", 1, title="Friday launch", body_markdown="We ship Friday.")

    assert (saved.version, saved.title, saved.body_markdown) == (2, "Friday launch", "We ship Friday.")
    with any_db.session() as session:
        rows = session.scalars(select(DraftRevision).order_by(DraftRevision.version)).all()
        assert [(r.version, r.saved_by_id, r.title) for r in rows] == [
            (1, None, "Memo " + rows[0].title.split()[-1]), (2, ids["assistant"], "Friday launch"),
        ]
        assert session.get(Draft, ids["draft"]).machine_markdown == "We ship on Friday.\n\nThanks, everyone."


def test_save_draft_refuses_stale_version_and_writes_nothing(any_db, ids):
    save(any_db, ids, "assistant", 1, body_markdown="first save")

    with pytest.raises(StaleVersion, match="now version 2"):
        save(any_db, ids, "assistant", 1, body_markdown="based on the old text")

    with any_db.session() as session:
        draft = session.get(Draft, ids["draft"])
        assert (draft.version, draft.body_markdown) == (2, "first save")


def test_save_draft_refuses_second_writer_holding_same_version(any_db, ids):
    # Both opened version 1; the first save wins, the second finds the row moved on.
    with any_db.session() as first, any_db.session() as second:
        user_a, user_b = first.get(User, ids["assistant"]), second.get(User, ids["admin"])
        draft_a = drafts.visible_draft(first, user_a, ids["draft"])
        draft_b = drafts.visible_draft(second, user_b, ids["draft"])
        drafts.save_draft(first, user_a, draft_a, 1, {"body_markdown": "assistant's text"})
        first.commit()
        with pytest.raises(StaleVersion):
            drafts.save_draft(second, user_b, draft_b, 1, {"body_markdown": "admin's text"})

    with any_db.session() as session:
        assert session.get(Draft, ids["draft"]).body_markdown == "assistant's text"
        assert len(drafts.revisions(session, session.get(Draft, ids["draft"]))) == 2


def test_save_draft_refuses_author(any_db, ids):
    with pytest.raises(Forbidden, match="Authors comment"):
        save(any_db, ids, "author", 1, title="mine")


def test_save_draft_refuses_draft_claimed_by_someone_else(any_db, ids):
    with any_db.session() as session:
        session.get(Draft, ids["draft"]).assignee_id = ids["other"]

    with pytest.raises(Conflict, match="has claimed this draft"):
        save(any_db, ids, "assistant", 1, title="not yours")
    assert save(any_db, ids, "admin", 1, title="admins may").version == 2


def test_save_draft_refuses_archived_memo(any_db, ids):
    with any_db.session() as session:
        session.get(Draft, ids["draft"]).memo.status = State.archived.value

    with pytest.raises(Conflict, match="while its memo is archived"):
        save(any_db, ids, "assistant", 1, title="too late")


def test_save_draft_refuses_null_and_unknown_fields(any_db, ids):
    with pytest.raises(InvalidInput, match="'title' cannot be empty"):
        save(any_db, ids, "assistant", 1, title=None)
    with pytest.raises(InvalidInput, match="'machine_markdown' cannot be changed"):
        save(any_db, ids, "assistant", 1, machine_markdown="rewritten history")


def test_visible_draft_hides_other_authors_draft(any_db, ids):
    with any_db.session() as session:
        stranger = make_user(session, "author")
        with pytest.raises(NotFound):
            drafts.visible_draft(session, stranger, ids["draft"])


def test_revisions_gives_machine_version_when_never_saved(any_db, ids):
    with any_db.session() as session:
        found = drafts.revisions(session, session.get(Draft, ids["draft"]))
    assert [(r.version, r.saved_by) for r in found] == [(1, None)]


def test_revisions_lists_newest_first_with_who_saved(any_db, ids):
    save(any_db, ids, "assistant", 1, title="two")
    save(any_db, ids, "admin", 2, title="three")
    with any_db.session() as session:
        found = drafts.revisions(session, session.get(Draft, ids["draft"]))
        assert [(r.version, r.title, r.saved_by.id if r.saved_by else None) for r in found][:2] == [
            (3, "three", ids["admin"]), (2, "two", ids["assistant"]),
        ]


def test_add_comment_refuses_empty_and_keeps_order(any_db, ids):
    with any_db.session() as session:
        user, draft = session.get(User, ids["author"]), session.get(Draft, ids["draft"])
        with pytest.raises(InvalidInput, match="cannot be empty"):
            drafts.add_comment(session, user, draft, "   ")
        drafts.add_comment(session, user, draft, " first ")
        drafts.add_comment(session, user, draft, "second")
        assert [c.body for c in drafts.comments(session, draft)] == ["first", "second"]


def test_transition_claim_then_request_changes_adds_comment(any_db, ids):
    with any_db.session() as session:
        assistant, author = session.get(User, ids["assistant"]), session.get(User, ids["author"])
        draft = session.get(Draft, ids["draft"])
        drafts.transition(session, assistant, draft, "claim")
        assert draft.assignee_id == ids["assistant"]
        drafts.transition(session, assistant, draft, "submit_for_approval")
        entry = drafts.transition(session, author, draft, "request_changes", comment="Say Friday, not Monday.")
        assert entry.to_state == State.changes_requested
        assert session.scalars(select(Comment.body)).all() == ["Say Friday, not Monday."]


def test_transition_refusal_speaks_page_language(any_db, ids):
    with any_db.session() as session:
        author, draft = session.get(User, ids["author"]), session.get(Draft, ids["draft"])
        with pytest.raises(TransitionRefused) as english:
            drafts.transition(session, author, draft, "claim")
        with pytest.raises(TransitionRefused) as french:
            drafts.transition(session, author, draft, "claim", language="fr")
    assert english.value.message != french.value.message
    assert english.value.detail == french.value.detail  # the reason code for programs stays the same


def test_transition_reassign_needs_someone(any_db, ids):
    with any_db.session() as session:
        admin, draft = session.get(User, ids["admin"]), session.get(Draft, ids["draft"])
        with pytest.raises(InvalidInput, match="to_user_id"):
            drafts.transition(session, admin, draft, "reassign")
        drafts.transition(session, admin, draft, "reassign", to_user_id=ids["other"])
        assert draft.assignee_id == ids["other"]
