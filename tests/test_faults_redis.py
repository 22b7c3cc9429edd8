"""Redis killed and started again, empty, while a worker runs one memo and others wait in the
queue (and one more is queued while Redis is down): every job runs, and runs once. A private
redis-server of the test's own; the machine's shared one is never touched."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from dictation.memos import processing
from dictation.models import AuditEntry, Job, Memo
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.api import sine_wav
from tests.support.dbfixtures import make_memo, make_user
from tests.support.faults import Workers, private_redis, wait_for


@pytest.fixture
def redis_server(tmp_path):
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def settings_changes(redis_server):
    return {"queue_url": redis_server.url, "cpu_threads": 1}


def jobs_by_status(db, job_ids) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Job.status, func.count()).where(Job.id.in_(job_ids)).group_by(Job.status))
        return dict(rows.all())


@pytest.mark.slow
def test_run_every_queued_job_once_after_redis_restarts_empty(db, settings, queue, redis_server, tmp_path):
    store = MediaStore(settings.media_dir)
    speech = store.save_stream(shared_file("audio/real/pv_test.wav").read_bytes())  # 6 s: time to kill
    tone = store.save_stream(sine_wav(2.0, 392.0))  # the others: quick, the model hears nothing in it

    def new_memo(stored=tone) -> int:
        with db.session() as session:
            # One author each: the same recording twice from one author is a duplicate.
            memo = make_memo(session, make_user(session, "author"), status="received", title=None,
                             media_sha256=stored.sha256, size_bytes=stored.size)
            return processing.enqueue_processing(session, memo, queue).id

    job_ids = [new_memo(speech), new_memo(), new_memo()]
    log = tmp_path / "worker.log"
    workers = Workers("dictation", log, dict(os.environ))
    try:
        workers.start()
        wait_for(lambda: jobs_by_status(db, job_ids).get("running"), 120, "the first job to start", log)
        redis_server.kill()  # the two waiting messages were only in Redis's memory
        assert jobs_by_status(db, job_ids).get("queued", 0) >= 1
        job_ids.append(new_memo())  # queued while Redis is down: the row is kept, the send fails
        redis_server.start()

        wait_for(lambda: jobs_by_status(db, job_ids).get("done") == len(job_ids), 240,
                 "every job to be done", log)
    finally:
        workers.stop_all()
    with db.session() as session:
        for job in session.scalars(select(Job).where(Job.id.in_(job_ids))):
            assert (job.status, job.attempts, job.error) == ("done", 1, None), job.id
            assert session.get(Memo, job.memo_id).status == "ready"
            runs = session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.memo_id == job.memo_id, AuditEntry.to_state == "transcribing"))
            assert runs == 1, f"memo {job.memo_id} was transcribed {runs} times"
    assert "was in no queue; sending it again" in log.read_text()  # recovery did the resending
