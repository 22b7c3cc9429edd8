"""Retention: originals go N days after publication or archiving (playback copy and transcript
stay unless their own setting is set too), shared files stay while another memo needs them,
what went is on the memo and in its history, the job books itself daily, and the admin's
storage page shows the space used."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import undefer

from dictation import accounts, jobs
from dictation.db import utcnow
from dictation.models import AuditEntry, Job, Memo, MemoAddition
from dictation.ops import retention
from dictation.settings import Settings
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.dbfixtures import make_memo, make_user

PASSWORD = "correct horse battery"


def stored(settings: Settings, relative: str, salt: bytes = b""):
    return MediaStore(settings.media_dir).save_stream(shared_file(relative).read_bytes() + salt)


def done_memo(session, settings: Settings, state: str, days_ago: float, salt: bytes, author=None) -> int:
    """A memo published (or archived) `days_ago`, with its own recording and playback copy."""
    original = stored(settings, "audio/real/jfk.flac", salt)
    playback = stored(settings, "audio/real/pv_test.wav", salt)
    memo = make_memo(session, author or make_user(session, "author"), status=state, media_sha256=original.sha256,
                     playback_sha256=playback.sha256, transcript={"text": "kept", "segments": []})
    session.add(AuditEntry(memo_id=memo.id, action=state, from_state="publishing", to_state=state,
                           created_at=utcnow() - dt.timedelta(days=days_ago)))
    session.flush()
    return memo.id


def load(db, memo_id: int) -> Memo:
    with db.session() as session:
        return session.get(Memo, memo_id, options=[undefer(Memo.transcript)])


def test_purge_original_audio_after_retention_keeps_playback_and_transcript(db, data_dir):
    settings = Settings(data_dir=data_dir, retain_audio_days=30)
    store = MediaStore(settings.media_dir)
    with db.session() as session:
        old = done_memo(session, settings, "published", 40, b"1")
        recent = done_memo(session, settings, "published", 5, b"2")
        archived = done_memo(session, settings, "archived", 31, b"3")
        in_review = make_memo(session, make_user(session, "author"), status="in_review",
                              media_sha256=stored(settings, "audio/real/jfk.flac", b"4").sha256).id

    report = retention.purge(db, store, settings)
    assert (report.originals, report.playback, report.transcripts) == (2, 0, 0)
    assert report.bytes_freed > 2 * 300_000
    for memo_id in (old, archived):
        memo = load(db, memo_id)
        assert not store.exists(memo.media_sha256) and memo.original_purged_at is not None
        assert store.exists(memo.playback_sha256) and memo.transcript == {"text": "kept", "segments": []}
        with db.session() as session:
            said = session.scalar(select(AuditEntry.detail).where(AuditEntry.memo_id == memo_id,
                                                                  AuditEntry.action == "retention"))
        assert "original recording" in said and "DICTATION_RETAIN_AUDIO_DAYS=30" in said
    for memo_id in (recent, in_review):
        memo = load(db, memo_id)
        assert store.exists(memo.media_sha256) and memo.original_purged_at is None
    again = retention.purge(db, store, settings)
    assert (again.originals, again.bytes_freed) == (0, 0)


def test_purge_playback_and_transcript_when_also_set(db, data_dir):
    settings = Settings(data_dir=data_dir, retain_audio_days=30, retain_playback_days=60, retain_transcript_days=60)
    store = MediaStore(settings.media_dir)
    with db.session() as session:
        middle = done_memo(session, settings, "published", 45, b"1")
        oldest = done_memo(session, settings, "published", 90, b"2")
    report = retention.purge(db, store, settings)
    assert (report.originals, report.playback, report.transcripts) == (2, 1, 1)
    middle_memo, oldest_memo = load(db, middle), load(db, oldest)
    assert store.exists(middle_memo.playback_sha256) and middle_memo.transcript is not None
    assert not store.exists(oldest_memo.playback_sha256) and oldest_memo.transcript is None
    assert oldest_memo.playback_purged_at and oldest_memo.transcript_purged_at


def test_purge_keeps_file_another_memo_still_needs(db, data_dir):
    settings = Settings(data_dir=data_dir, retain_audio_days=30)
    store = MediaStore(settings.media_dir)
    with db.session() as session:
        old = done_memo(session, settings, "published", 40, b"same")
        sha = session.get(Memo, old).media_sha256
        # The same bytes, sent by another author, still being edited.
        make_memo(session, make_user(session, "author"), status="in_review", media_sha256=sha)
    retention.purge(db, store, settings)
    assert load(db, old).original_purged_at is not None
    assert store.exists(sha)


def test_purge_original_removes_its_additions_recordings(db, data_dir):
    """A memo with an addition has three originals: the joined recording, the added part and the
    recording it had before; all go when its original does."""
    settings = Settings(data_dir=data_dir, retain_audio_days=30)
    store = MediaStore(settings.media_dir)
    with db.session() as session:
        old = done_memo(session, settings, "published", 40, b"joined")
        memo = session.get(Memo, old)
        part = stored(settings, "audio/real/jfk.flac", b"part")
        before = stored(settings, "audio/real/jfk.flac", b"before")
        session.add(MemoAddition(memo_id=old, author_id=memo.author_id, media_sha256=part.sha256,
                                 previous_sha256=before.sha256, status="done", size_bytes=part.size))
        joined, playback = memo.media_sha256, memo.playback_sha256
    report = retention.purge(db, store, settings)
    assert report.originals == 1 and report.bytes_freed > 3 * 300_000
    assert not any(store.exists(sha) for sha in (joined, part.sha256, before.sha256))
    assert store.exists(playback)


def test_purge_keeps_file_another_memo_addition_holds(db, data_dir):
    settings = Settings(data_dir=data_dir, retain_audio_days=30)
    store = MediaStore(settings.media_dir)
    with db.session() as session:
        old = done_memo(session, settings, "published", 40, b"part")
        sha = session.get(Memo, old).media_sha256
        # The same bytes, sent by another author as a follow-up to a memo still being edited.
        other = make_memo(session, make_user(session, "author"), status="in_review",
                          media_sha256=stored(settings, "audio/real/jfk.flac", b"other").sha256)
        session.add(MemoAddition(memo_id=other.id, author_id=other.author_id, media_sha256=sha,
                                 status="queued", size_bytes=1))
    retention.purge(db, store, settings)
    assert load(db, old).original_purged_at is not None
    assert store.exists(sha)


def test_run_retention_job_daily_books_next_run(db, data_dir):
    settings = Settings(data_dir=data_dir, retain_audio_days=1)
    queue = jobs.make_queue(settings)
    with db.session() as session:
        old = done_memo(session, settings, "published", 3, b"1")
        first = retention.schedule_daily(session)
        assert retention.schedule_daily(session) is None  # one booking at a time
        first_id = first.id
    assert jobs.run_job(first_id, settings, queue) == "done"
    assert load(db, old).original_purged_at is not None
    with db.session() as session:
        booked = session.scalars(select(Job).where(Job.kind == retention.RETENTION, Job.status == "queued")).all()
    assert len(booked) == 1
    wait = booked[0].run_at - utcnow()
    assert dt.timedelta(hours=23) < wait <= dt.timedelta(days=1)
    jobs.dispose_databases()


def test_show_storage_used_on_admin_page(db, data_dir):
    from review_ui.app import create_app

    settings = Settings(data_dir=data_dir, workers=0, retain_audio_days=30)
    app = create_app(settings)
    with app.state.database.session() as session:
        accounts.create_user(session, "ada@example.com", "admin", password=PASSWORD, name="Ada")
        accounts.create_user(session, "alice@example.com", "assistant", password=PASSWORD, name="Alice")
        memo_id = done_memo(session, settings, "published", 40, b"1")
    retention.purge(app.state.database, MediaStore(settings.media_dir), settings)

    def page(email: str, language: str = "en"):
        client = TestClient(app, headers={"Accept-Language": language})
        assert client.post("/api/v1/session", json={"email": email, "password": PASSWORD}).status_code == 200
        return client.get("/admin/storage")

    assert page("alice@example.com").status_code == 403
    answer = page("ada@example.com")
    assert answer.status_code == 200
    html = answer.text
    playback_kb = shared_file("audio/real/pv_test.wav").stat().st_size / 1024
    assert "Playback copies" in html and "Original recordings" in html
    assert f"{playback_kb:.1f} kB" in html or f"{playback_kb / 1024:.1f} MB" in html
    assert "removed 30 days after publication" in html and "Removed so far: 1 original recordings" in html
    assert "Espace libre" in page("ada@example.com", "fr").text
    # The API says what retention removed, where a phone or a script looks.
    client = TestClient(app)
    client.post("/api/v1/session", json={"email": "alice@example.com", "password": PASSWORD})
    memo = client.get(f"/api/v1/memos/{memo_id}").json()
    assert memo["audio_removed_at"] and memo["playback_removed_at"] is None and memo["transcript_removed_at"] is None
    app.state.database.dispose()


def test_show_retention_removal_on_editor_phone_page_and_api(db, data_dir):
    """Where the recording was, the pages say what retention removed and when, in the reader's
    language, instead of a player that cannot play; the API carries the same."""
    from review_ui.app import create_app

    settings = Settings(data_dir=data_dir, workers=0, retain_audio_days=30, retain_playback_days=30)
    app = create_app(settings)
    with app.state.database.session() as session:
        accounts.create_user(session, "alice@example.com", "assistant", password=PASSWORD, name="Alice")
        author = accounts.create_user(session, "bob@example.com", "author", password=PASSWORD, name="Bob")
        memo_id = done_memo(session, settings, "published", 40, b"1", author=author)
        kept_id = done_memo(session, settings, "published", 2, b"2", author=author)
    retention.purge(app.state.database, MediaStore(settings.media_dir), settings)

    def client(email: str, language: str = "en") -> TestClient:
        signed_in = TestClient(app, headers={"Accept-Language": language})
        assert signed_in.post("/api/v1/session", json={"email": email, "password": PASSWORD}).status_code == 200
        return signed_in

    alice = client("alice@example.com")
    memo = alice.get(f"/api/v1/memos/{memo_id}").json()
    assert [(r["what"], r["days_after"], r["after"]) for r in memo["retention"]] == [
        ("original", 40, "published"), ("playback", 40, "published")]
    assert memo["links"]["playback"] is None and memo["playback_removed_at"]
    assert memo["links"]["audio"] is None and memo["audio_removed_at"]
    for what, name in (("audio", "original recording"), ("playback", "playback copy")):
        gone = alice.get(f"/api/v1/memos/{memo_id}/{what}")
        assert gone.status_code == 404 and f"The {name} was removed on" in gone.json()["message"], gone.text
    kept = alice.get(f"/api/v1/memos/{kept_id}").json()
    assert kept["retention"] == [] and kept["links"]["playback"] and kept["links"]["audio"]
    assert alice.get(kept["links"]["audio"]).status_code == 200

    editor = alice.get(f"/memos/{memo_id}").text
    assert "The original recording was removed on" in editor and "(40 days after publication)" in editor
    assert " hidden" in next(line for line in editor.splitlines() if 'id="player"' in line)
    assert f"/memos/{memo_id}/playback" not in editor  # no player pointing at a file that is gone
    assert "retention-note" not in alice.get(f"/memos/{kept_id}").text

    phone = client("bob@example.com").get(f"/phone/memos/{memo_id}").text
    assert "The original recording was removed on" in phone and "<audio" not in phone
    phone_fr = client("bob@example.com", "fr").get(f"/phone/memos/{memo_id}").text
    assert "L’enregistrement original a été supprimé le" in phone_fr and "(40 jours après la publication)" in phone_fr
    kept_phone = client("bob@example.com").get(f"/phone/memos/{kept_id}").text
    assert f"/memos/{kept_id}/playback" in kept_phone and "retention-note" not in kept_phone
    app.state.database.dispose()
