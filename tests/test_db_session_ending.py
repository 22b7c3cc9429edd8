"""A session that only read sends nothing when it ends (dictation/db.py `nothing_to_send`), so
the API ends it on the event loop, without a thread hop; one that wrote is committed in a thread.
On SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from api import deps
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
