"""Many workers for real: `dictation serve` without workers on PostgreSQL and a Redis of the
test's own, two `dictation worker` processes, 20 memos uploaded over HTTP. Each memo is
transcribed exactly once, both workers take jobs, progress and heartbeats of either process show
in the shared database, and SIGTERM to one worker in the middle of a job is graceful: the job
goes back to the queue, the other worker finishes it, and nothing is lost.

Deterministic by construction, not by luck: worker A runs alone until it has finished a short
memo and claimed the one long memo (128 s of speech, seconds of transcription), and it is
stopped once the database shows that job in its transcribe stage. Catching a worker between two
short jobs, as this test once tried, never happened on a quiet machine: a job under a second
finishes before its first progress write (JobOptions.progress_every_s), so the test waited out
its whole timeout; nothing in the workers hung."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from dictation import accounts
from dictation.db import make_engine
from dictation.memos.processing import PREPARE_SHARE
from dictation.models import AuditEntry, Job, Memo, Role
from tests.conftest import ROOT, need, shared_file
from tests.support.servers import free_port
from tests.support.speech import jfk_clips

MEMOS = 20  # one long memo and 19 short clips


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own: the machine's shared one carries other tests' queues."""
    binary = "/usr/bin/redis-server"
    need(os.path.exists(binary), "redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def wait_until(check, timeout: float, what: str, logs):
    """Generous timeouts: they only end a failing run, and a shared 2-core machine under load
    took four times a quiet one's time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; logs:\n" + "\n".join(p.read_text()[-2000:] for p in logs))


def pid_of(worker_name: str | None) -> str:
    return worker_name.split(":")[1] if worker_name else ""  # host:pid:token:nonce


@pytest.mark.slow
def test_share_queue_two_worker_processes_sigterm_mid_job(pg_url, private_redis, tmp_path):
    long_memo = shared_file("audio/memos/en_mb-us1.ogg").read_bytes()
    short = jfk_clips(MEMOS - 1, last_seconds=4)
    port = free_port()
    env = {**os.environ, "DICTATION_DATA_DIR": str(tmp_path / "data"), "DICTATION_DATABASE_URL": pg_url,
           "DICTATION_QUEUE_URL": private_redis, "DICTATION_WORKERS": "0", "DICTATION_MODEL": "tiny.en",
           "DICTATION_LANGUAGE": "en", "DICTATION_BEAM_SIZE": "1", "DICTATION_CPU_THREADS": "1",
           "DICTATION_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)}
    logs = [tmp_path / "serve.log", tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    processes: list[subprocess.Popen] = []

    def start(args: list[str], log) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "dictation", *args], cwd=ROOT, env=env,
                                   stdout=log.open("ab"), stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    engine = make_engine(pg_url)
    seen: dict[str, set] = {}  # worker pid -> stages seen on its running jobs
    beats: dict[int, set] = {}  # job id -> heartbeat times seen while it ran

    def jobs() -> list:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(Job.id, Job.memo_id, Job.worker, Job.status, Job.stage, Job.progress,
                                          Job.heartbeat_at, Job.attempts).where(Job.kind == "process")).all()
        for row in rows:
            if row.status == "running" and row.worker and row.heartbeat_at is not None:
                beats.setdefault(row.id, set()).add(row.heartbeat_at)
                if row.stage:
                    seen.setdefault(pid_of(row.worker), set()).add(row.stage)
        return rows

    def job_of(memo_id: int):
        return next((row for row in jobs() if row.memo_id == memo_id), None)

    def ready(memo_ids: list[int]) -> bool:
        jobs()
        with engine.connect() as conn:
            states = conn.execute(sa.select(Memo.status).where(Memo.id.in_(memo_ids))).scalars().all()
        assert "failed" not in states, "\n".join(p.read_text()[-3000:] for p in logs[1:])
        return states.count("ready") == len(memo_ids)

    try:
        start(["serve", "--port", str(port)], logs[0])
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "dictation serve", logs)
        # The account made here, not by two more CLI processes (seconds of imports each).
        with sessionmaker(engine, expire_on_commit=False).begin() as session:
            author = accounts.create_user(session, "ceo@example.test", Role.author, "a long password", "CEO")
            _, token = accounts.create_token(session, author, "phone")
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

        def upload(name: str, data: bytes, kind: str) -> int:
            answer = client.post("/api/v1/memos", files={"file": (name, data, kind)})
            assert answer.status_code == 201, answer.text
            return int(answer.json()["id"])

        worker_a = start(["worker"], logs[1])
        first = upload("memo-0.wav", short[0], "audio/wav")
        wait_until(lambda: ready([first]), 300, "worker A's first memo", logs)
        long_id = upload("long.ogg", long_memo, "audio/ogg")
        def long_running():
            job = job_of(long_id)
            return job if job is not None and job.status == "running" else None

        claimed = wait_until(long_running, 60, "worker A claiming the long memo", logs)
        assert pid_of(claimed.worker) == str(worker_a.pid)  # A is the only worker so far

        worker_b = start(["worker"], logs[2])
        memo_ids = [first, long_id] + [upload(f"memo-{i}.wav", data, "audio/wav") for i, data in
                                       enumerate(short[1:], 1)]
        client.close()
        assert len(set(memo_ids)) == MEMOS

        def a_transcribing():
            job = job_of(long_id)
            assert job is not None and job.status == "running", f"A's long job ended before it was stopped: {job}"
            return job.stage == "transcribe" and job.progress >= PREPARE_SHARE and len(beats[job.id]) >= 2

        # Progress and heartbeats written by A's process, read here: A has begun transcribing a
        # memo that takes it seconds (minutes on a busy machine).
        wait_until(a_transcribing, 300, "worker A transcribing the long memo", logs)
        worker_a.send_signal(signal.SIGTERM)
        assert worker_a.wait(60) == 0, logs[1].read_text()[-2000:]
        left = job_of(long_id)
        # Graceful: never left "running" in the name of a process that is gone.
        assert not (left.status == "running" and pid_of(left.worker) == str(worker_a.pid)), left

        wait_until(lambda: ready(memo_ids), 600, "all memos ready", logs)

        with engine.connect() as conn:
            done = conn.execute(sa.select(Job.memo_id, Job.status, Job.worker, Job.request_id, Job.attempts)
                                .where(Job.kind == "process")).all()
            ready_moves = conn.execute(sa.select(AuditEntry.memo_id, sa.func.count()).where(
                AuditEntry.to_state == "ready").group_by(AuditEntry.memo_id)).all()
            drafts = dict(conn.execute(sa.text("SELECT memo_id, body_markdown FROM drafts")).all())
        assert sorted(job.memo_id for job in done) == sorted(memo_ids)  # one job per memo
        assert {job.status for job in done} == {"done"}
        assert dict(ready_moves) == {memo_id: 1 for memo_id in memo_ids}  # transcribed exactly once
        by_memo = {job.memo_id: job for job in done}
        assert pid_of(by_memo[first].worker) == str(worker_a.pid)  # both took jobs
        # A handed the long memo back (its attempt not counted) and B ran it: not a dead
        # worker's job found by recovery, which would count two attempts.
        assert pid_of(by_memo[long_id].worker) == str(worker_b.pid) and by_memo[long_id].attempts == 1
        assert {pid_of(job.worker) for job in done} == {str(worker_a.pid), str(worker_b.pid)}
        assert "transcribe" in seen[str(worker_a.pid)] and "transcribe" in seen[str(worker_b.pid)], seen
        assert len(beats[claimed.id]) >= 3  # A's beats, then B's on the same job
        assert len(drafts) == MEMOS and "customers" in drafts.pop(long_id).lower()
        assert all("country" in body.lower() for body in drafts.values())
        assert all(job.request_id for job in done)  # each upload's request id rode along
        stopped = logs[1].read_text()
        assert "handed back to the queue" in stopped and "worker stopped" in stopped and "Traceback" not in stopped
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        engine.dispose()
