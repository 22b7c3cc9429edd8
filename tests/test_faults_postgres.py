"""PostgreSQL restarted under `dictation serve` while its worker transcribes: requests meanwhile
get a 503 with a sentence (never a 500), the pools reconnect, and the memo is finished. A
private PostgreSQL of the test's own; the machine's shared one is never restarted."""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import shared_file
from tests.support.faults import private_postgres, wait_for
from tests.support.serve import serve
from tests.support.wer import word_error_rate


@pytest.mark.slow
def test_answer_503_while_postgres_restarts_then_finish_memo(tmp_path):
    with private_postgres() as pg, serve(tmp_path, DICTATION_DATABASE_URL=pg.url, DICTATION_WORKERS="1") as served:
        with httpx.Client(base_url=served.base_url, timeout=30) as http:
            login = http.post("/api/v1/session", json={"email": served.email, "password": served.password})
            assert login.status_code == 200, login.text
            token = http.post("/api/v1/tokens", json={"name": "faults"},
                              headers={"X-CSRF-Token": login.json()["csrf_token"]}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        api = httpx.Client(base_url=served.base_url, headers=auth, timeout=30)
        reference = shared_file("audio/real/pv_diarization_test.txt").read_text()
        with shared_file("audio/real/pv_diarization_test.wav").open("rb") as handle:  # 20 s of speech
            memo_id = api.post("/api/v1/memos", files={"file": ("memo.wav", handle)}).json()["id"]

        def memo() -> dict:
            return api.get(f"/api/v1/memos/{memo_id}").json()

        wait_for(lambda: memo()["status"] == "transcribing", 180, "the worker to start on the memo", served.log)

        answers: list[httpx.Response] = []
        stop = threading.Event()

        def keep_asking() -> None:  # requests in flight while the database goes away and back
            with httpx.Client(base_url=served.base_url, headers=auth, timeout=30) as reader:
                while not stop.is_set():
                    answers.append(reader.get("/api/v1/worklist"))
                    time.sleep(0.05)

        reader = threading.Thread(target=keep_asking)
        reader.start()
        try:
            time.sleep(0.3)
            went_down = dt.datetime.now(dt.UTC)
            pg.stop("fast")  # cuts every connection at once, as a restart does
            down = api.get(f"/api/v1/memos/{memo_id}")
            down_fr = api.get(f"/api/v1/memos/{memo_id}", headers={"Accept-Language": "fr"})
            time.sleep(1.0)
            pg.start()
            came_back = dt.datetime.now(dt.UTC)
            time.sleep(0.5)
        finally:
            stop.set()
            reader.join(30)

        assert down.status_code == 503, down.text
        assert down.json()["error"] == "database_unavailable" and "try again" in down.json()["message"]
        assert down.headers["retry-after"] == "5"
        assert down_fr.status_code == 503 and "ne répond pas" in down_fr.json()["message"]
        statuses = {answer.status_code for answer in answers}
        assert statuses <= {200, 503}, [(a.status_code, a.text[:200]) for a in answers if a.status_code >= 500]
        assert 503 in statuses and all(a.json()["message"] for a in answers if a.status_code == 503)
        # The pool reconnects: the next request works without a restart of the app.
        assert api.get(f"/api/v1/memos/{memo_id}").status_code == 200

        wait_for(lambda: memo()["status"] == "ready", 240, "the memo to be ready", served.log)
        draft = api.get(f"/api/v1/drafts/{memo()['draft_id']}").json()
        assert word_error_rate(reference, draft["body_markdown"]) < 0.3  # the whole memo, not a stub
        api.close()
        engine = sa.create_engine(pg.url)
        with engine.connect() as conn:
            started, finished, attempts = conn.execute(sa.text(
                "SELECT started_at, finished_at, attempts FROM jobs WHERE memo_id = :m AND kind = 'process'"),
                {"m": memo_id}).one()
        engine.dispose()
        # The fault really hit the job: it was running before the database went and ended after.
        first_start = started if attempts == 1 else None
        assert finished > came_back and (first_start is None or first_start < went_down), (started, finished)
        assert attempts <= 2  # at most one retry, when its last write fell in the outage


def test_record_job_outcome_once_database_is_back(data_dir, monkeypatch):
    """The outcome of a job that ends while the database restarts is written when it is back,
    not lost (which left the job `running` until recovery ran it all again a minute later)."""
    from dictation import jobs
    from dictation.db import Database
    from dictation.jobs import JobKind, register_kind
    from dictation.models import Job
    from dictation.schema import metadata
    from dictation.settings import get_settings

    with private_postgres() as pg:
        monkeypatch.setenv("DICTATION_DATABASE_URL", pg.url)
        get_settings.cache_clear()
        settings = get_settings()
        database = Database(settings)
        metadata.create_all(database.engine)
        restarted: list[threading.Thread] = []

        def run(ctx):  # the work is done; the database goes away before its outcome is written
            pg.stop("fast")
            restarted.append(threading.Timer(2.0, pg.start))
            restarted[0].start()
            return None

        register_kind("fault-probe", JobKind(run=run, started=lambda session, job: None,
                                             failed=lambda session, job, reason: None,
                                             cancelled=lambda session, job: None))
        queue = jobs.make_queue(settings, options=jobs.JobOptions(heartbeat_s=0.5, progress_every_s=0.2,
                                                                   stale_after_s=30))
        with database.session() as session:
            job = Job(kind="fault-probe", status="queued")
            session.add(job)
            session.flush()
            job_id = job.id
        try:
            assert jobs.run_job(job_id, settings, queue) == "done"
        finally:
            for timer in restarted:
                timer.join(60)
        with database.session() as session:
            job = session.get(Job, job_id)
            assert (job.status, job.attempts, job.error) == ("done", 1, None)
        jobs.dispose_databases()
        database.dispose()
