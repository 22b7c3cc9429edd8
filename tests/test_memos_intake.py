"""Memo intake (dictation.memos.intake), called directly on a real database and media store, as
both doors (multipart API upload, finished tus upload) call it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from dictation import jobs
from dictation.errors import InvalidInput
from dictation.memos import intake
from dictation.models import Job, JobStatus, Memo, Priority, State
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.dbfixtures import make_user

JFK = "audio/real/jfk.flac"


@pytest.fixture
def store(settings) -> MediaStore:
    return MediaStore(settings.media_dir)


def recording(store: MediaStore, data: bytes | None = None) -> intake.Recording:
    stored = store.save_stream(data if data is not None else shared_file(JFK).read_bytes())
    return intake.Recording(stored=stored, media_type="audio/flac", filename="jfk.flac")


def author(database, role="author"):
    with database.session() as session:
        person = make_user(session, role)
        session.expunge(person)
        return person


def memo_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Memo))


def test_receive_memo_creates_memo_queued_for_transcription(any_db, store, queue):
    person = author(any_db)
    fields = {"title": "  Board recap ", "priority": "urgent", "due_at": "2030-06-30T17:00:00", "note": "for Friday"}

    taken = intake.receive_memo(any_db, store, queue, person, recording(store), fields, key="k-1")

    assert taken.created
    memo = taken.memo
    assert (memo.title, memo.priority, memo.note, memo.language) == ("Board recap", "urgent", "for Friday", "auto")
    assert memo.due_at.replace(tzinfo=dt.UTC) == dt.datetime(2030, 6, 30, 17, tzinfo=dt.UTC)
    assert memo.status == State.received.value and memo.author.id == person.id
    assert (memo.content_type, memo.original_filename, memo.idempotency_key) == ("audio/flac", "jfk.flac", "k-1")
    with any_db.session() as session:
        job = session.scalar(select(Job).where(Job.memo_id == memo.id))
    assert job.status == JobStatus.queued.value
    assert job.id in jobs.queued_job_ids(queue)


def test_receive_memo_answers_first_memo_for_same_key(any_db, store, queue):
    person = author(any_db)
    first = intake.receive_memo(any_db, store, queue, person, recording(store), {}, key="same")
    # A retry of the same upload, even with other bytes, is the same memo.
    again = intake.receive_memo(any_db, store, queue, person, recording(store, b"other bytes"), {}, key="same")

    assert not again.created and again.memo.id == first.memo.id
    assert memo_count(any_db) == 1
    assert intake.find_by_key(any_db, person, "same").id == first.memo.id


def test_receive_memo_answers_first_memo_for_same_bytes_from_same_author(any_db, store, queue):
    person, other = author(any_db), author(any_db)
    first = intake.receive_memo(any_db, store, queue, person, recording(store), {}, key="a")
    again = intake.receive_memo(any_db, store, queue, person, recording(store), {}, key="b")
    theirs = intake.receive_memo(any_db, store, queue, other, recording(store), {}, key="a")

    assert not again.created and again.memo.id == first.memo.id
    assert theirs.created and theirs.memo.id != first.memo.id  # the same bytes from someone else
    assert memo_count(any_db) == 2


def test_receive_memo_refuses_bad_field_and_removes_file(any_db, store, queue):
    person = author(any_db)
    sent = recording(store, b"a recording nobody else has")

    with pytest.raises(InvalidInput, match="priority must be one of"):
        intake.receive_memo(any_db, store, queue, person, sent, {"priority": "whenever"})

    assert memo_count(any_db) == 0
    assert not store.exists(sent.stored.sha256)


def test_receive_memo_refused_keeps_file_another_memo_uses(any_db, store, queue):
    first = intake.receive_memo(any_db, store, queue, author(any_db), recording(store), {})

    with pytest.raises(InvalidInput, match="due date"):
        intake.receive_memo(any_db, store, queue, author(any_db), recording(store), {"due_at": "next Tuesday"})

    assert store.exists(first.memo.media_sha256)
    assert memo_count(any_db) == 1


def test_find_by_key_ignores_other_authors_key(any_db, store, queue):
    person = author(any_db)
    intake.receive_memo(any_db, store, queue, person, recording(store), {}, key="mine")

    assert intake.find_by_key(any_db, author(any_db), "mine") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "x" * 301}, "longer than 300"),
        ({"priority": "asap"}, "priority must be one of"),
        ({"due_at": "tomorrow"}, "is not a date and time"),
        ({"language": "english"}, "language must be"),
    ],
)
def test_parse_details_refuses_bad_field(fields, message):
    with pytest.raises(InvalidInput, match=message):
        intake.parse_details(fields)


def test_parse_details_fills_defaults():
    details = intake.parse_details({"title": "  ", "language": " FR ", "due_at": "2030-01-02T03:04:05+01:00"})

    assert details == intake.MemoDetails(
        title=None, priority=Priority.normal, language="fr", note=None,
        due_at=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    )
