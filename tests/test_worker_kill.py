"""A worker process killed with SIGKILL mid-transcription loses nothing: a new worker finishes
the memo. On SQLite with the SQLite queue, on SQLite with Redis, on PostgreSQL with Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import wave

import numpy as np
import pytest

from dictation import audio, jobs
from dictation.memos import processing
from dictation.models import Job, Memo
from dictation.settings import Settings
from dictation.storage import MediaStore
from tests.conftest import ROOT, need, shared_file
from tests.support.dbfixtures import make_memo, make_user
from tests.support.wer import word_error_rate

REDIS_URL = "redis://127.0.0.1:6379/0"
# Short heartbeats so a test does not wait; the dead worker is found by its pid anyway.
WORKER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
from dictation.jobs import JobOptions, WorkerOptions, run_worker
from dictation.settings import Settings
from dictation.startup import register_job_kinds
register_job_kinds()
run_worker(Settings(), 1, options=WorkerOptions(
    queue_name=sys.argv[1], recover_every_s=1,
    jobs=JobOptions(heartbeat_s=1, progress_every_s=0.5, stale_after_s=20)))
"""


def redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def long_memo(path) -> bytes:
    """The English memo (128 s) as 16-bit wav: the first worker is killed at its first progress
    past preparing (progress moves one 30 s window at a time, ~22 %, and is written every 0.5 s),
    so on the CPU it dies mid-job even in a quick hour (at 24 % here). It was twice over: ~9 s
    more a backend (27 -> 18 s in a quick hour)."""
    once = audio.decode(shared_file("audio/memos/en_mb-us1.m4a"))
    pcm = (np.clip(once, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path.read_bytes()


def start_worker(env: dict, queue_name: str, log_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, queue_name], cwd=ROOT, env=env,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def job_row(database, job_id: int) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)


def wait_for(check, timeout: float, what: str, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log_path.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("database_kind,queue_kind", [("sqlite", "sqlite"), ("sqlite", "redis"),
                                                      ("postgresql", "redis")])
def test_finish_memo_after_worker_killed_mid_transcription(request, tmp_path, monkeypatch, database_kind, queue_kind):
    if queue_kind == "redis":
        need(redis_up(), f"Redis does not answer at {REDIS_URL}")
        monkeypatch.setenv("DICTATION_QUEUE_URL", REDIS_URL)
    database = request.getfixturevalue("db" if database_kind == "sqlite" else "pg_db")
    monkeypatch.setenv("DICTATION_MODEL", "tiny.en")
    monkeypatch.setenv("DICTATION_LANGUAGE", "en")
    monkeypatch.setenv("DICTATION_DEVICE", "cpu")  # a GPU could finish before the kill
    settings = Settings()
    queue_name = f"kill-{uuid.uuid4().hex[:8]}"
    queue = jobs.make_queue(settings, name=queue_name)
    log_path = tmp_path / "workers.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    workers: list[subprocess.Popen] = []
    try:
        stored = MediaStore(settings.media_dir).save_stream(long_memo(tmp_path / "long.wav"))
        with database.session() as session:
            memo = make_memo(session, make_user(session, "author"), status="received", title=None,
                             media_sha256=stored.sha256, size_bytes=stored.size)
            job_id = processing.enqueue_processing(session, memo, queue).id
            memo_id = memo.id

        workers.append(start_worker(env, queue_name, log_path))
        mid = wait_for(lambda: (j := job_row(database, job_id)).stage == "transcribe"
                       and j.progress > processing.PREPARE_SHARE + 0.05 and j, 180, "transcription to start", log_path)
        workers[0].kill()  # SIGKILL: no clean-up of any kind
        workers[0].wait()
        killed = job_row(database, job_id)
        assert killed.status == "running" and killed.progress < 0.9, (
            f"the first worker must die mid-job, not at {killed.progress:.0%}")
        assert mid.worker.split(":")[1] == str(workers[0].pid)

        workers.append(start_worker(env, queue_name, log_path))
        wait_for(lambda: job_row(database, job_id).status == "done", 300, "the new worker to finish", log_path)
        with database.session() as session:
            memo = session.get(Memo, memo_id)
            body, status = memo.draft.body_markdown, memo.status
        job = job_row(database, job_id)
        assert (status, job.attempts, job.error) == ("ready", 2, None)
        assert job.worker.split(":")[1] == str(workers[1].pid)
        reference = shared_file("audio/memos/en_mb-us1.txt").read_text()
        wer = word_error_rate(reference, body)
        assert wer <= 0.20, f"draft WER {wer:.1%}"
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(40)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        if queue_kind == "redis":
            queue.flush()
        jobs.dispose_databases()


@pytest.mark.slow
def test_run_worker_processes_memos_in_worker_processes_and_stops_on_sigint(db, tmp_path, monkeypatch):
    import signal

    monkeypatch.setenv("DICTATION_MODEL", "tiny.en")
    monkeypatch.setenv("DICTATION_LANGUAGE", "en")
    monkeypatch.setenv("DICTATION_CPU_THREADS", "1")
    settings = Settings()
    queue_name = f"procs-{uuid.uuid4().hex[:8]}"
    queue = jobs.make_queue(settings, name=queue_name)
    log_path = tmp_path / "workers.log"
    script = WORKER.replace("run_worker(Settings(), 1,", "run_worker(Settings(), 2,")
    worker = subprocess.Popen([sys.executable, "-c", script, queue_name], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log_path.open("ab"),
                              stderr=subprocess.STDOUT)
    try:
        stored = MediaStore(settings.media_dir).save_stream(shared_file("audio/real/jfk.flac").open("rb"))
        job_ids = []
        with db.session() as session:
            for _ in range(2):  # two authors: one author's same recording is one memo
                memo = make_memo(session, make_user(session, "author"), status="received",
                                 media_sha256=stored.sha256)
                job_ids.append(processing.enqueue_processing(session, memo, queue).id)
        def both_done():
            rows = [job_row(db, job_id) for job_id in job_ids]
            return rows if all(row.status == "done" for row in rows) else None

        done = wait_for(both_done, 180, "both memos", log_path)
        pids = {int(job.worker.split(":")[1]) for job in done}
        assert worker.pid not in pids  # run by forked worker processes, not the supervisor
        worker.send_signal(signal.SIGINT)
        assert worker.wait(60) == 0
        assert "Huey consumer started with 2 process" in log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        jobs.dispose_databases()
