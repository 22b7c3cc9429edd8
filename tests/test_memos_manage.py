"""Retrying, cancelling and deleting a memo through the service both doors call
(dictation.memos.manage): who may, and what each refuses, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation.errors import Conflict, Forbidden, NotFound
from dictation.memos import manage
from dictation.models import Job, JobStatus, Memo, Publication, State
from dictation.publish import destinations
from dictation.storage import MediaStore
from tests.support.dbfixtures import make_draft, make_memo, make_user


def stored_memo(db, store: MediaStore, status: str = "ready", data: bytes = b"a recording") -> tuple[int, int, str]:
    """(memo id, its author's id, the sha of its recording in `store`)."""
    sha = store.save_stream(data).sha256
    with db.session() as session:
        author = make_user(session, "author")
        memo = make_memo(session, author, status=status, media_sha256=sha)
        return memo.id, author.id, sha


def person(db, role: str):
    with db.session() as session:
        user = make_user(session, role)
        session.expunge(user)
        return user


def user_of(db, user_id: int):
    from dictation.models import User

    with db.session() as session:
        user = session.get(User, user_id)
        session.expunge(user)
        return user


def test_delete_memo_its_author_only_and_the_recording_goes_too(any_db, settings):
    store = MediaStore.from_settings(settings)
    memo_id, author_id, sha = stored_memo(any_db, store)
    with pytest.raises(Forbidden, match="author or an admin"):
        manage.delete_memo(any_db, store, person(any_db, "assistant"), memo_id)
    with pytest.raises(NotFound):  # another author never learns the memo exists
        manage.delete_memo(any_db, store, person(any_db, "author"), memo_id)
    assert store.exists(sha)
    manage.delete_memo(any_db, store, user_of(any_db, author_id), memo_id)
    with any_db.session() as session:
        assert session.get(Memo, memo_id) is None
    assert not store.exists(sha)


def test_delete_published_memo_refused_by_the_service(any_db, settings):
    store = MediaStore.from_settings(settings)
    memo_id, _, sha = stored_memo(any_db, store, status="published", data=b"published")
    admin = person(any_db, "admin")
    with pytest.raises(Conflict, match="archive it instead"):
        manage.delete_memo(any_db, store, admin, memo_id)
    # A post still live on a destination: unpublish first.
    with any_db.session() as session:
        memo = session.get(Memo, memo_id)
        draft = make_draft(session, memo)
        blog = destinations.ensure_builtin_blog(session)
        session.add(Publication(draft_id=draft.id, destination_id=blog.id, status="published", remote_id="7"))
    with pytest.raises(Conflict, match="live on blog"):
        manage.delete_memo(any_db, store, admin, memo_id)
    with any_db.session() as session:
        assert session.get(Memo, memo_id) is not None
    assert store.exists(sha)


def test_only_author_assistant_or_admin_may_retry_or_cancel(any_db):
    with any_db.session() as session:
        memo = make_memo(session, make_user(session, "author"))
        other = make_user(session, "author")
        with pytest.raises(Forbidden, match="may retry it"):
            manage.check_may_manage(other, memo, "retry")
        with pytest.raises(NotFound):
            manage.visible_memo(session, other, memo.id)
        for role in ("assistant", "admin"):
            manage.check_may_manage(make_user(session, role), memo, "cancel")
        manage.check_may_manage(memo.author, memo, "cancel")


def test_retry_failed_transcription_then_cancel_it(any_db, settings, queue):
    with any_db.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="failed", error="the model crashed")
        memo_id = memo.id
    with any_db.session() as session:
        memo = session.get(Memo, memo_id)
        with pytest.raises(Conflict, match="no transcription queued or running"):
            manage.cancel(session, memo, memo.author)
        retried = manage.retry(session, memo, memo.author, queue=queue)
        assert retried.status == State.received and retried.error is None
    with any_db.session() as session:
        memo = session.get(Memo, memo_id)
        job = session.scalar(select(Job).where(Job.memo_id == memo_id))
        assert job is not None and job.status == JobStatus.queued
        with pytest.raises(Conflict, match="already queued"):
            manage.retry(session, memo, memo.author, queue=queue)
        assert manage.cancel(session, memo, memo.author).status == State.received
        assert session.scalar(select(Job.status).where(Job.memo_id == memo_id)) == JobStatus.cancelled
