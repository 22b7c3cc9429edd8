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
from tests.support.desk import PASSWORD, desk_app, wait_for
from tests.support.servers import serve

pytestmark = pytest.mark.slow

SPEECH = "audio/memos/en_mb-us1.m4a"  # 128 s: long enough to be caught transcribing


@pytest.fixture
def app(data_dir):
    app = desk_app(data_dir, worker=True, model="tiny.en", language="en", beam_size=1, cpu_threads=1)
    yield app
    app.state.database.dispose()


def process_lives(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


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
        successor = int(job.worker.split(":")[1]) if job.worker else None
    if successor is not None:  # the server stopped: its worker processes stop with it
        wait_for(lambda: not process_lives(successor), timeout=60, what="the worker process to end")
