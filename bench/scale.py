"""Scale benchmark: memos per minute with 1 and 2 worker processes, and queue latency under a
burst of uploads.

    .venv/bin/python bench/scale.py [--memos 10] [--burst 50] [--model tiny.en]

Each run is real: `dictation worker` processes (1 CPU thread each, as the README advises) on a
temporary data dir with SQLite and the SQLite queue; memos are JFK's 11 s at distinct gains.
- throughput: the same memos through `dictation worker --workers 1`, then `--workers 2`; the
  clock starts once the worker has transcribed a warm-up memo (model loaded) and stops when
  every memo is ready. The ratio 2-process/1-process is the figure (goal >= 1.8 on 2 idle cores);
- queue latency: `dictation serve` without workers plus `dictation worker --workers 2`, a burst
  of uploads from 10 clients at once; latency = job start minus upload (Job.started_at -
  Job.created_at), with the first upload's as the baseline (an idle worker's pickup time).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def clips(count: int, seconds: float | None = None) -> list[bytes]:
    from tests.support.speech import jfk_clips

    return jfk_clips(count, last_seconds=seconds)


def environment(data_dir: Path, model: str) -> dict[str, str]:
    env = {**os.environ, "DICTATION_DATA_DIR": str(data_dir), "DICTATION_MODEL": model, "DICTATION_LANGUAGE": "en",
           "DICTATION_CPU_THREADS": "1", "DICTATION_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)}
    for name in ("DICTATION_DATABASE_URL", "DICTATION_QUEUE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    return env


def use(env: dict[str, str]) -> None:
    """Point this process's settings at the run's data dir."""
    from dictation import settings

    os.environ.update({k: v for k, v in env.items() if k.startswith("DICTATION_")})
    settings.get_settings.cache_clear()


def enqueue(env: dict[str, str], recordings: list[bytes]) -> list[int]:
    """Store the recordings and queue them, as an upload does (no HTTP: throughput is the workers')."""
    use(env)
    from dictation import jobs, settings
    from dictation.db import Database
    from dictation.memos import processing
    from dictation.migrations import upgrade
    from dictation.models import Memo, User
    from dictation.startup import register_job_kinds
    from dictation.storage import MediaStore

    settings.get_settings.cache_clear()
    current = settings.get_settings()
    register_job_kinds()
    database = Database(current)
    upgrade(database)
    queue = jobs.make_queue(current)
    ids = []
    with database.session() as session:
        author = User(email=f"bench{time.monotonic_ns()}@example.test", role="author", name="Bench")
        session.add(author)
        session.flush()
        for data in recordings:
            stored = MediaStore(current.media_dir).save_stream(data)
            memo = Memo(author_id=author.id, media_sha256=stored.sha256, size_bytes=stored.size, status="received")
            session.add(memo)
            session.flush()
            processing.enqueue_processing(session, memo, queue)
            ids.append(memo.id)
    database.dispose()
    return ids


def wait_ready(env: dict[str, str], ids: list[int], timeout: float = 3600) -> None:
    from sqlalchemy import func, select

    from dictation import settings
    from dictation.db import Database
    from dictation.models import Memo

    use(env)
    database = Database(settings.get_settings())
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with database.session() as session:
                done = session.scalar(select(func.count()).select_from(Memo)
                                      .where(Memo.id.in_(ids), Memo.status.in_(("ready", "failed"))))
            if done == len(ids):
                return
            time.sleep(0.2)
        raise SystemExit("memos did not finish in time")
    finally:
        database.dispose()


def throughput(workers: int, recordings: list[bytes], model: str) -> float:
    """Memos per minute through `dictation worker --workers N` (after a warm-up memo)."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        env = environment(Path(tmp), model)
        warm = enqueue(env, clips(workers, seconds=4))  # one per process: each loads its model
        worker = subprocess.Popen([sys.executable, "-m", "dictation", "worker", "--workers", str(workers)], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(env, warm)
            ids = enqueue(env, recordings)
            started = time.monotonic()
            wait_ready(env, ids)
            elapsed = time.monotonic() - started
        finally:
            worker.terminate()
            worker.wait(60)
    return len(recordings) / elapsed * 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def burst_latency(count: int, model: str) -> tuple[float, list[float]]:
    """(first upload's pickup latency, every upload's latency) in seconds."""
    from sqlalchemy import select

    from dictation import settings
    from dictation.db import Database
    from dictation.models import Job

    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        env = {**environment(Path(tmp), model), "DICTATION_WORKERS": "0"}
        port = free_port()
        processes = [subprocess.Popen([sys.executable, "-m", "dictation", "serve", "--port", str(port)], cwd=ROOT,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("dictation serve did not start")
                time.sleep(0.2)
            run = lambda *a, **k: subprocess.run([sys.executable, "-m", "dictation", *a], cwd=ROOT, env=env,  # noqa: E731
                                                 capture_output=True, text=True, **k)
            run("user", "add", "ceo@example.test", "--role", "author", "--password-stdin", input="a long password\n")
            token = run("token", "create", "ceo@example.test", "--name", "bench").stdout.strip()
            processes.append(subprocess.Popen([sys.executable, "-m", "dictation", "worker", "--workers", "2"],
                                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            recordings = clips(count + 3, seconds=4)
            headers = {"Authorization": f"Bearer {token}"}

            def upload(data: bytes) -> int:
                with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                    answer = client.post("/api/v1/memos", files={"file": ("memo.wav", data, "audio/wav")})
                    answer.raise_for_status()
                    return answer.json()["id"]

            wait_ready(env, [upload(recordings[0]), upload(recordings[1])])  # both processes load their model
            first = upload(recordings[2])  # the baseline: an idle, warm worker picks it up
            wait_ready(env, [first])
            with ThreadPoolExecutor(10) as pool:
                ids = list(pool.map(upload, recordings[3:]))
            wait_ready(env, ids)
            use(env)
            database = Database(settings.get_settings())
            with database.session() as session:
                rows = session.execute(select(Job.memo_id, Job.created_at, Job.started_at)
                                       .where(Job.kind == "process")).all()
            database.dispose()
        finally:
            for process in processes:
                process.terminate()
                process.wait(60)
    waits = {memo_id: (started - created).total_seconds() for memo_id, created, started in rows}
    return waits[first], [waits[i] for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memos", type=int, default=10)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--only", choices=["throughput", "latency"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.only in (None, "throughput"):
        recordings = clips(args.memos)
        one = throughput(1, recordings, args.model)
        two = throughput(2, recordings, args.model)
        print(f"throughput, {args.memos} memos of 11 s, {args.model}: 1 process {one:.1f} memos/min, "
              f"2 processes {two:.1f} memos/min, ratio {two / one:.2f} (goal >= 1.8 on 2 idle cores)")
    if args.only in (None, "latency"):
        baseline, waits = burst_latency(args.burst, args.model)
        waits.sort()
        p95 = waits[max(0, int(len(waits) * 0.95) - 1)]
        print(f"queue latency, burst of {args.burst} uploads of 4 s, 2 worker processes: idle pickup "
              f"{baseline:.2f} s (baseline); p50 {statistics.median(waits):.1f} s, p95 {p95:.1f} s, "
              f"max {waits[-1]:.1f} s ({statistics.median(waits) / max(baseline, 1e-3):.0f}x the idle pickup)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
