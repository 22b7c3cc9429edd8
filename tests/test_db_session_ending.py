"""A session that only read sends nothing when it ends (dictation/db.py `nothing_to_send`), so
the API ends it on the event loop, without a thread hop; one that wrote is committed in a thread.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, func, select

from api import deps
from dictation import jobs
from dictation.db import nothing_to_send
from dictation.models import Draft, User
from tests.support.api import make_person, make_ready_draft
from tests.support.dbfixtures import make_user


def test_nothing_to_send_after_reads(any_db):
    with any_db.sessionmaker() as session:
        assert nothing_to_send(session)  # no connection taken yet
        session.execute(select(func.count()).select_from(User)).scalar_one()
        assert nothing_to_send(session)


def test_something_to_send_after_write_until_commit(any_db):
    with any_db.sessionmaker() as session:
        make_user(session)  # flushed: the database holds a transaction open
        assert not nothing_to_send(session)
        session.commit()
        assert nothing_to_send(session)
        session.execute(select(User)).all()  # a read after the commit opens none
        assert nothing_to_send(session)


def test_something_to_send_with_change_not_flushed(any_db):
    with any_db.sessionmaker() as session:
        session.execute(select(User)).all()
        session.add(User(email="pending@example.test", name="Pending", role="author"))
        assert not nothing_to_send(session)


def test_something_to_send_after_failed_flush(any_db):
    # SQLAlchemy has rolled the database back and emptied the session; closing it quietly would
    # let a caller that caught the error pass the lost write for done. Committing raises instead.
    with any_db.session() as session:
        make_user(session, email="taken@example.test")
    with any_db.sessionmaker() as session:
        session.add(User(email="taken@example.test", name="Again", role="author"))
        with pytest.raises(exc.IntegrityError):
            session.flush()
        assert not nothing_to_send(session)
        with pytest.raises(exc.InvalidRequestError, match="rolled back"):
            session.commit()


def test_something_to_send_with_job_waiting_for_commit(any_db):
    # A read-only session that re-sends a job: the job goes to the queue only at the commit.
    queue = jobs.make_queue(any_db.settings)
    with any_db.sessionmaker() as session:
        session.execute(select(User)).all()
        jobs.send_after_commit(session, 4242, queue, priority="normal")
        assert not nothing_to_send(session)
        session.commit()
        assert nothing_to_send(session)
    assert queue.pending_count() == 1


def test_end_read_on_loop_and_commit_write_in_thread(client, api_app, monkeypatch):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    ended_in_thread: list[bool] = []
    real = deps._commit_or_roll_back

    def counted(session, commit):
        ended_in_thread.append(commit)
        return real(session, commit)

    monkeypatch.setattr(deps, "_commit_or_roll_back", counted)
    read = client.get(f"/api/v1/drafts/{draft_id}", headers=eve.auth)
    assert read.status_code == 200 and ended_in_thread == []
    saved = client.patch(f"/api/v1/drafts/{draft_id}", json={"title": "Friday"},
                         headers={"If-Match": read.headers["etag"], **eve.auth})
    assert saved.status_code == 200 and ended_in_thread == [True]
    with api_app.state.database.session() as session:
        assert session.get_one(Draft, draft_id).title == "Friday"
