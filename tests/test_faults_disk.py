"""A really full disk under the media store (a small tmpfs, else a loop-mounted ext4 image):
storing an upload answers 507 with a sentence and keeps no partial file and no memo; writing the
playback copy fails the attempt as retryable, and the memo is done once space is back."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from dictation import jobs
from dictation.memos import processing
from dictation.models import Job, Memo
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.api import make_person, sine_wav, upload
from tests.support.dbfixtures import make_memo, make_user
from tests.support.faults import fill_disk, small_disk

DISK_MB = 3


@pytest.fixture
def media(settings):
    """The media store on a filesystem of DISK_MB megabytes."""
    with small_disk(settings.media_dir, DISK_MB) as kind:
        yield kind


def leftovers(store_root) -> list[str]:
    """Files of the store other than the filler: stored recordings and partial writes."""
    return sorted(str(p.relative_to(store_root)) for p in store_root.rglob("*") if p.is_file()
                  and p.name != "filler.bin")


def test_refuse_upload_on_full_disk_with_507_then_accept_it(db, settings, media):
    from api import create_app

    app = create_app(settings, migrate=False)
    author = make_person(app, "author")
    recording = sine_wav(20.0, 330.0)  # 640 KB, more than the space left
    filler = fill_disk(settings.media_dir, leave_bytes=100 * 1024)
    with TestClient(app, base_url="http://127.0.0.1") as http:
        full = upload(http, recording, headers=author.auth)
        assert full.status_code == 507, full.text
        assert full.json()["error"] == "storage_full"
        assert "no disk space left" in full.json()["message"] and "nothing was kept" in full.json()["message"]
        en_francais = upload(http, recording, headers={**author.auth, "Accept-Language": "fr-FR,fr;q=0.9"})
        assert en_francais.status_code == 507 and "disque du serveur est plein" in en_francais.json()["message"]
        assert leftovers(settings.media_dir) == []  # no partial file under any name
        with db.session() as session:
            assert session.query(Memo).count() == 0  # and no memo pointing at nothing

        filler.unlink()  # space is back: the same request works
        again = upload(http, recording, headers=author.auth)
        assert again.status_code == 201, again.text
    memo = again.json()
    assert MediaStore(settings.media_dir).exists(memo["sha256"])
    app.state.database.dispose()


def test_retry_processing_after_full_disk_stopped_playback_copy(db, settings, queue, media):
    store = MediaStore(settings.media_dir)
    stored = store.save_stream(shared_file("audio/real/jfk.flac").read_bytes())
    with db.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="received", title=None,
                         media_sha256=stored.sha256, size_bytes=stored.size)
        job_id = processing.enqueue_processing(session, memo, queue).id
        memo_id = memo.id
    filler = fill_disk(settings.media_dir, leave_bytes=8 * 1024)  # too little for the Opus copy

    assert jobs.run_job(job_id, settings, queue) == "queued"  # retryable, not failed
    with db.session() as session:
        job, memo = session.get(Job, job_id), session.get(Memo, memo_id)
        assert "disk was full" in job.error and "tried again" in job.error, job.error
        assert "/" not in job.error.split("(")[0]  # a sentence, no server path
        assert memo.playback_sha256 is None and memo.status == "transcribing"
    assert leftovers(settings.media_dir) == [f"{stored.sha256[:2]}/{stored.sha256}"]  # only the recording

    filler.unlink()
    assert jobs.run_job(job_id, settings, queue) == "done"
    with db.session() as session:
        job, memo = session.get(Job, job_id), session.get(Memo, memo_id)
        assert (job.status, job.attempts, job.error) == ("done", 2, None)
        assert memo.status == "ready" and store.exists(memo.playback_sha256)
        assert "country" in memo.draft.body_markdown.lower()


def test_refuse_tus_chunk_on_full_disk_with_507_then_resume(data_dir):
    from dictation.settings import Settings
    from review_ui.app import create_app

    recording = sine_wav(20.0, 349.23)  # 640 KB
    uploads = data_dir / "uploads"  # where tus keeps unfinished uploads
    with small_disk(uploads, DISK_MB):
        app = create_app(Settings(data_dir=data_dir, workers=0))
        author = make_person(app, "author")
        tus = {"Tus-Resumable": "1.0.0", **author.auth}
        chunk = {**tus, "Content-Type": "application/offset+octet-stream"}
        with TestClient(app, base_url="http://127.0.0.1") as http:
            created = http.post("/api/v1/uploads/", headers={**tus, "Upload-Length": str(len(recording))})
            assert created.status_code == 201, created.text
            location = created.headers["location"]
            filler = fill_disk(uploads, leave_bytes=100 * 1024)
            full = http.patch(location, content=recording, headers={**chunk, "Upload-Offset": "0"})
            assert full.status_code == 507, full.text
            assert full.json()["error"] == "storage_full" and "no disk space left" in full.json()["message"]

            filler.unlink()
            offset = int(http.head(location, headers=tus).headers["upload-offset"])
            done = http.patch(location, content=recording[offset:], headers={**chunk, "Upload-Offset": str(offset)})
            assert done.status_code == 204, done.text
            memo = http.get(f"/api/v1/memos/{done.headers['memo-id']}", headers=author.auth).json()
        assert memo["sha256"] == hashlib.sha256(recording).hexdigest()
        app.state.database.dispose()
