"""`dictation serve` runs its workers as supervised child processes: killing one (as the kernel's
OOM killer would) leaves the API answering, and a restarted worker finishes the job."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from sqlalchemy import select

from dictation.models import Job, Memo
from tests.conftest import shared_file
from tests.support.servers import serve

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
SPEECH = "audio/memos/en_mb-us1.m4a"  # 128 s: long enough to be caught transcribing


def wait_for(check, timeout: float = 180.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def app(data_dir):
    from dictation import accounts
    from dictation.settings import Settings
    from review_ui.app import create_app

    settings = Settings(data_dir=data_dir, workers=1, model="tiny.en", language="en", beam_size=1, cpu_threads=1)
    app = create_app(settings, worker=True)
    with app.state.database.session() as session:
        accounts.create_user(session, "erin@example.com", "author", password=PASSWORD, name="Erin")
    yield app
    app.state.database.dispose()


def job_row(app, memo_id: int) -> Job | None:
    with app.state.database.session() as session:
        job = session.scalar(select(Job).where(Job.memo_id == memo_id).order_by(Job.id.desc()))
        if job is not None:
            session.expunge(job)
        return job


def test_kill_worker_child_api_answers_and_job_finishes(app):
    with serve(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=30) as client:
        signed = client.post("/api/v1/session", json={"email": "erin@example.com", "password": PASSWORD})
        csrf = signed.json()["csrf_token"]
        sent = client.post("/api/v1/memos", headers={"X-CSRF-Token": csrf},
                           files={"file": ("memo.m4a", shared_file(SPEECH).read_bytes(), "audio/mp4")})
        assert sent.status_code == 201, sent.text
        memo_id = sent.json()["id"]
        running = wait_for(lambda: (j := job_row(app, memo_id)) and j.status == "running" and j.stage == "transcribe"
                           and j, what="the worker transcribing")
        victim = int(running.worker.split(":")[1])
        assert victim != os.getpid()  # a child process, not a thread of the API

        os.kill(victim, signal.SIGKILL)
        # The API keeps answering while the worker is dead and while a new one starts.
        for _ in range(10):
            assert client.get(f"/api/v1/memos/{memo_id}").status_code == 200
            time.sleep(0.2)

        wait_for(lambda: client.get(f"/api/v1/memos/{memo_id}").json()["status"] == "ready", timeout=400,
                 what="the job finished by a restarted worker")
        job = job_row(app, memo_id)
        assert job.status == "done" and job.attempts == 2
        with app.state.database.session() as session:
            assert session.get(Memo, memo_id).draft is not None
