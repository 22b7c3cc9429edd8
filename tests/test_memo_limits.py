"""DICTATION_MAX_MEMO_MINUTES: a memo longer than the limit is refused at upload from its header
(413 with a sentence, nothing kept), and by the worker on its decoded length."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from dictation import audio, jobs
from dictation.errors import TooLarge
from dictation.models import Job, Memo
from tests.conftest import shared_file
from tests.support.amr_notes import dtx_note
from tests.support.desk import ERIN, desk_app, signed_in

SPEECH = "audio/real/jfk.flac"  # 11 s


def make_app(data_dir, max_memo_minutes: float):
    return desk_app(data_dir, max_memo_minutes=max_memo_minutes, model="tiny.en", language="en", beam_size=1)


@pytest.fixture
def short_limit_app(data_dir):
    app = make_app(data_dir, 0.1)  # 6 s: jfk.flac (11 s) is over it
    yield app
    app.state.database.dispose()


def nothing_kept(app) -> bool:
    media = app.state.settings.media_dir
    stored = [p for p in media.rglob("*") if p.is_file() and not p.name.startswith(".")] if media.exists() else []
    with app.state.database.session() as session:
        return session.scalar(select(func.count(Memo.id))) == 0 and not stored


def test_refuse_long_memo_at_multipart_upload(short_limit_app):
    client, csrf = signed_in(short_limit_app, ERIN[0])
    data = shared_file(SPEECH).read_bytes()
    answer = client.post("/api/v1/memos", files={"file": ("jfk.flac", data, "audio/flac")},
                         headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large" and "limit of 0.1 minutes" in answer.json()["message"]
    assert nothing_kept(short_limit_app)


def test_refuse_long_memo_at_tus_upload(short_limit_app):
    client, csrf = signed_in(short_limit_app, ERIN[0])
    data = shared_file(SPEECH).read_bytes()
    name = base64.b64encode(b"jfk.flac").decode()
    created = client.post("/api/v1/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}",
        "X-CSRF-Token": csrf,
    })
    done = client.patch(created.headers["location"], content=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "X-CSRF-Token": csrf,
        "Content-Type": "application/offset+octet-stream",
    })
    assert done.status_code == 413 and "limit of 0.1 minutes" in done.json()["message"]
    assert nothing_kept(short_limit_app)


def test_prepare_refuses_decoded_length_over_limit(tmp_path):
    with pytest.raises(TooLarge) as caught:
        audio.prepare(shared_file(SPEECH), tmp_path / "play.webm", max_seconds=6)
    assert "limit of 0.1 minutes" in caught.value.message
    assert not list(tmp_path.iterdir())  # no half-written playback copy left behind
    assert audio.prepare(shared_file(SPEECH), None, max_seconds=60).duration == pytest.approx(11.0, abs=0.1)


def test_worker_refuses_memo_whose_header_understates_length(data_dir, tmp_path):
    # A raw AMR note with DTX: FFmpeg guesses its length from the bitrate, seconds short of the
    # truth, so the header check lets it in and the decoded length must catch it.
    note = dtx_note(shared_file("audio/memos/en_mb-us1.m4a"), tmp_path)
    guessed = audio.probe(note).duration
    real = audio.prepare(note).duration
    assert guessed < real - 2
    app = make_app(data_dir, (guessed + real) / 2 / 60)
    try:
        client, csrf = signed_in(app, ERIN[0])
        sent = client.post("/api/v1/memos", files={"file": ("note.amr", note.read_bytes(), "audio/amr")},
                           headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 201, sent.text
        with app.state.database.session() as session:
            job_id = session.scalar(select(Job.id).where(Job.memo_id == sent.json()["id"]))
        assert jobs.run_job(job_id, app.state.settings, app.state.queue) == "failed"
        memo = client.get(f"/api/v1/memos/{sent.json()['id']}").json()
        assert memo["status"] == "failed" and "longer than the limit" in memo["error"]
    finally:
        app.state.database.dispose()
