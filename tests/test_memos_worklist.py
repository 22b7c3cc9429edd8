"""The one worklist query (dictation.memos.worklist), called directly on a real database."""

from __future__ import annotations

import datetime as dt

import pytest

from dictation.db import utcnow
from dictation.memos import worklist as work
from dictation.models import Job, JobStatus, Memo, Priority, Publication, PublicationStatus, State
from dictation.publish import destinations
from tests.support.dbfixtures import make_draft, make_memo, make_user

NOW = dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def titles(found: work.Worklist) -> list[str]:
    return [entry.memo.title for entry in found.entries]


@pytest.fixture
def people(any_db):
    with any_db.session() as session:
        found = {role: make_user(session, role) for role in ("author", "assistant", "admin")}
        found["other_author"] = make_user(session, "author")
        for person in found.values():
            session.expunge(person)
        return found


def add(database, author, title, status="ready", **fields):
    with database.session() as session:
        memo = make_memo(session, author, status=status, title=title, **fields)
        make_draft(session, memo)
        return memo.id


def test_load_orders_overdue_then_priority_then_due_date(any_db, people):
    ada = people["author"]
    add(any_db, ada, "normal-later", priority="normal", due_at=NOW + 48 * HOUR)
    add(any_db, ada, "urgent-no-date", priority="urgent")
    add(any_db, ada, "normal-overdue", priority="normal", due_at=NOW - HOUR)
    add(any_db, ada, "high-soon", priority="high", due_at=NOW + 24 * HOUR)
    add(any_db, ada, "urgent-soon", priority="urgent", due_at=NOW + 3 * HOUR)
    add(any_db, ada, "high-no-date", priority="high")

    with any_db.session() as session:
        found = work.load(session, people["assistant"], work.WorklistQuery(), now=NOW)

    assert titles(found) == ["normal-overdue", "urgent-soon", "urgent-no-date", "high-soon", "high-no-date",
                             "normal-later"]
    assert [e.overdue for e in found.entries] == [True] + [False] * 5


def test_load_leaves_out_done_memos_unless_asked(any_db, people):
    ada = people["author"]
    for state in State:
        add(any_db, ada, state.value, status=state, due_at=NOW - HOUR)

    with any_db.session() as session:
        assistant = people["assistant"]
        open_ = work.load(session, assistant, work.WorklistQuery(), now=NOW)
        everything = work.load(session, assistant, work.WorklistQuery(include_done=True), now=NOW)
        only = work.load(session, assistant, work.WorklistQuery(states=(State.published,)), now=NOW)

    assert set(titles(open_)) == {s.value for s in State} - {"scheduled", "publishing", "published", "archived"}
    assert all(e.overdue for e in open_.entries)
    assert len(everything.entries) == len(State)
    # A published memo is not overdue: nothing is left to do for it.
    assert titles(only) == ["published"] and not only.entries[0].overdue
    assert open_.counts == {s.value: 1 for s in State}


def test_load_shows_authors_their_own_memos_only(any_db, people):
    add(any_db, people["author"], "mine")
    add(any_db, people["other_author"], "theirs")

    with any_db.session() as session:
        found = work.load(session, people["author"], work.WorklistQuery(), now=NOW)
        everyone = work.load(session, people["admin"], work.WorklistQuery(), now=NOW)

    assert titles(found) == ["mine"] and sum(found.counts.values()) == 1
    assert sorted(titles(everyone)) == ["mine", "theirs"] and sum(everyone.counts.values()) == 2


def test_load_filters_by_assignee_priority_and_words(any_db, people):
    ada, assistant = people["author"], people["assistant"]
    claimed = add(any_db, ada, "Quarterly numbers", priority="high")
    add(any_db, ada, "Team offsite", note="book the boat")
    with any_db.session() as session:
        memo = session.get(Memo, claimed)
        memo.draft.assignee_id = assistant.id

    def load(**asked):
        with any_db.session() as session:
            return titles(work.load(session, assistant, work.WorklistQuery(**asked), now=NOW))

    assert load(assignee=work.Assignee.me) == ["Quarterly numbers"]
    assert load(assignee=work.Assignee.unassigned) == ["Team offsite"]
    assert load(priority=Priority.high) == ["Quarterly numbers"]
    assert load(words="boat") == ["Team offsite"]
    assert load(words="QUARTERLY") == ["Quarterly numbers"]


def test_load_sorts_by_title_and_age(any_db, people):
    ada = people["author"]
    for n, title in enumerate(["banana", "Apple", "cherry"]):
        add(any_db, ada, title, created_at=NOW - (10 - n) * HOUR)

    def load(sort):
        with any_db.session() as session:
            return titles(work.load(session, people["assistant"], work.WorklistQuery(sort=sort), now=NOW))

    assert load(work.Sort.alphabetical) == ["Apple", "banana", "cherry"]
    assert load(work.Sort.oldest) == ["banana", "Apple", "cherry"]
    assert load(work.Sort.newest) == ["cherry", "Apple", "banana"]


def test_load_limits_rows_but_counts_everything(any_db, people):
    for n in range(5):
        add(any_db, people["author"], f"memo {n}")

    with any_db.session() as session:
        found = work.load(session, people["assistant"], work.WorklistQuery(limit=2), now=NOW)

    assert len(found.entries) == 2 and found.counts["ready"] == 5


def test_load_gives_running_job_and_publication_of_each_memo(any_db, people):
    ada = people["author"]
    running = add(any_db, ada, "transcribing", status="transcribing")
    scheduled = add(any_db, ada, "scheduled", status="scheduled")
    with any_db.session() as session:
        session.add(Job(kind="process", memo_id=running, status=JobStatus.running.value, progress=0.4,
                        stage="transcribe", run_at=utcnow()))
        blog = destinations.ensure_builtin_blog(session)
        draft_id = session.get(Memo, scheduled).draft.id
        session.add(Publication(draft_id=draft_id, destination_id=blog.id, status=PublicationStatus.scheduled,
                                publish_at=NOW + HOUR))

    with any_db.session() as session:
        found = work.load(session, people["assistant"], work.WorklistQuery(include_done=True), now=NOW)
        by_title = {e.memo.title: e for e in found.entries}

    assert by_title["transcribing"].job.stage == "transcribe"
    assert by_title["scheduled"].scheduled_at == NOW + HOUR and by_title["scheduled"].job is None


def test_load_reads_no_draft_text_and_shows_rows_without_more_queries(any_db, people):
    """A list shows a draft's title and who claimed it; its text, paragraphs and tags (JSON
    decoded per row: half a worklist's CPU with 100 rows) stay in the database, and what the
    desk and the API show of each row needs no query of its own."""
    from sqlalchemy import event

    ada, assistant = people["author"], people["assistant"]
    for n in range(3):
        add(any_db, ada, f"memo {n}")
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    with any_db.session() as session:
        event.listen(any_db.engine, "before_cursor_execute", seen)
        try:
            found = work.load(session, assistant, work.WorklistQuery(), now=NOW)
            loaded = len(statements)
            shown = [(e.memo.draft.id, e.memo.draft.title, e.memo.draft.assignee, e.memo.author.name)
                     for e in found.entries]
        finally:
            event.remove(any_db.engine, "before_cursor_execute", seen)

    assert len(shown) == 3 and all(title for _, title, _, _ in shown)
    assert len(statements) == loaded  # nothing loaded lazily, row by row
    drafts_read = [s for s in statements if "FROM drafts" in s and "drafts.title" in s]
    assert drafts_read, statements
    for column in ("body_markdown", "machine_markdown", "paragraphs", "tags", "looked_at"):
        assert not any(f"drafts.{column}" in s for s in drafts_read), (column, drafts_read)
