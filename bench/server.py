"""Server benchmark: uploads, worklist and draft latency, and upload-to-draft time.

    .venv/bin/python bench/server.py [--quick] [--no-postgres] [--only upload,latency,e2e]

Every server is the real app under uvicorn in a subprocess on a free loopback port with a
temporary data dir, so its peak RSS (psutil, sampled in a thread) is its own.
Baselines, each measured in the same run:
- uploads: a bare Starlette app under the same uvicorn that reads the same multipart body
  and drops it (the HTTP floor), and a plain copy of the file on local disk;
- latency: GET /healthz on the same server (framework + HTTP, no database);
- end to end: `dictation.transcribe.transcribe` of the same memo with the same settings.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
MEMO = ROOT.parent / "shared" / "audio" / "memos" / "en_mb-us1.m4a"
PG_URL = os.environ.get("DICTATION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
sys.path.insert(0, str(ROOT))
from dictation.settings import Settings  # noqa: E402  (needs the repository on the path)

MIB = 1024 * 1024
RATE = 16_000  # generated uploads: 16 kHz mono 16-bit PCM, as a phone recorder would make
SEED_MEMO_SECONDS = 60  # seeded memos carry a transcript and waveform of this length
STATES = ["ready"] * 30 + ["in_review"] * 25 + ["awaiting_approval"] * 5 + ["changes_requested"] * 5 + \
    ["scheduled"] * 5 + ["failed"] * 2 + ["published"] * 20 + ["archived"] * 8


# --- servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeakRss:
    """Samples the RSS of a process and its children (uvicorn --workers) in a thread; `reset()`
    starts a new window, `peak` is its max.

    The children are looked up again every `refresh` seconds, not at each sample: finding them
    walks every process in /proc, and at 200 samples a second that walk was most of the load
    generator's CPU (bench/load.py measured 0.35 cores, ~0.3 of them this thread), taken from the
    two cores the server shares, and its GIL held the generator's own event loop back."""

    def __init__(self, pid: int, interval: float = 0.005, refresh: float = 0.5) -> None:
        self.process, self.interval, self.peak, self._stop = psutil.Process(pid), interval, 0, threading.Event()
        self.refresh, self._known, self._found_at = refresh, [self.process], float("-inf")  # found at first use
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _find(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.process, *self.process.children(recursive=True)]
        return [self.process]

    def processes(self, fresh: bool = False) -> list[psutil.Process]:
        if fresh or time.monotonic() - self._found_at > self.refresh:
            self._known, self._found_at = self._find(), time.monotonic()
        return self._known

    def rss(self) -> int:
        total = 0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes(fresh=True):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def reset(self) -> int:
        self.peak = self.rss()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.rss())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], port: int, log: Path):
    """Start a server, wait until /healthz answers, yield (base URL, PeakRss), stop it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        sampler = PeakRss(proc.pid)
        try:
            yield base, sampler
        finally:
            sampler.stop()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def app_server(factory: str, data_dir: Path, log: Path, processes: int = 1, **env: str):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", *(["--workers", str(processes)] if processes > 1 else [])]
    # DICTATION_WEB_PROCESSES as `dictation serve` sets it: the processes share callers' write marks.
    base_env = {"DICTATION_DATA_DIR": str(data_dir), "DICTATION_WORKERS": "0", "DICTATION_MAX_UPLOAD_MB": "1024",
                "DICTATION_WEB_PROCESSES": str(processes)}
    return server(command, {**base_env, **{k.upper(): v for k, v in env.items()}}, port, log)


def bare_app():
    """The HTTP floor: a Starlette endpoint that reads the request body and only counts it.
    A version that also wrote the body to a file measured slower than the app on 50-200 MB
    (the previous upload's page-cache writeback, most likely), so it was no floor; the disk
    copy column says what the disk does on its own."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def upload(request):
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return JSONResponse({"size": size}, status_code=201)

    alive = Route("/healthz", lambda request: JSONResponse({"status": "alive"}))
    return Starlette(routes=[Route("/upload", upload, methods=["POST"]), alive])


def floor_app():
    """The floor for bench/load.py (`--floor`): its routes, answered with no database and no
    checks. Uploads are streamed and hashed; reads get a fixed JSON the size of a draft."""
    import hashlib
    import json

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    fixed = json.dumps({"id": 1, "title": "A memo", "body_markdown": "word " * 400}).encode()

    async def upload(request):
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            size += len(chunk)
            digest.update(chunk)
        return JSONResponse({"size": size, "sha256": digest.hexdigest()}, status_code=201)

    async def read(request):
        return Response(fixed, media_type="application/json")

    return Starlette(routes=[Route("/api/v1/memos", upload, methods=["POST"]), Route("/api/v1/worklist", read),
                             Route("/api/v1/drafts/{draft_id}", read), Route("/healthz", read)])


# --- data -----------------------------------------------------------------------------


def make_wav(path: Path, size: int, seed: int) -> None:
    """A WAV of `size` bytes: noise shaped into ~4 syllables a second with pauses, like speech."""
    rng = np.random.default_rng(seed)
    samples = (size - 44) // 2
    header = b"RIFF" + struct.pack("<I", 36 + samples * 2) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16) + b"data" + struct.pack("<I", samples * 2)
    with path.open("wb") as out:
        out.write(header)
        done = 0
        while done < samples:
            n = min(MIB // 2, samples - done)
            t = (np.arange(n) + done) / RATE
            envelope = np.abs(np.sin(2 * np.pi * 2.0 * t)) * (np.sin(2 * np.pi * 0.15 * t) > -0.6)
            out.write((rng.standard_normal(n) * envelope * 4000).astype("<i2").tobytes())
            done += n


def post_file(url: str, path: Path, token: str | None = None, **fields: str) -> tuple[float, httpx.Response]:
    """POST a multipart form with `fields` and the file, read from disk 1 MiB at a time: (seconds, answer)."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
         f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as f:
            while chunk := f.read(MIB):
                yield chunk
        yield tail

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "Content-Length": str(len(head) + path.stat().st_size + len(tail))}
    headers.update({"Authorization": f"Bearer {token}"} if token else {})
    started = time.perf_counter()
    answer = httpx.post(url, content=body(), headers=headers, timeout=600)
    return time.perf_counter() - started, answer


def prepare_users(settings, desks: int = 1) -> dict[str, str]:
    """Migrate the database; make an author and `desks` assistants; return their API tokens (the
    assistants' as "assistant", "assistant-2", ...)."""
    from api.app import prepare_database
    from dictation import accounts
    from dictation.db import Database

    database = Database(settings)
    prepare_database(database)
    tokens = {}
    with database.session() as session:
        for name in ("author", "assistant", *(f"assistant-{n}" for n in range(2, desks + 1))):
            role = name.split("-")[0]
            user = accounts.create_user(session, f"{name}@bench.test", role, name=f"Bench {name}")
            tokens[name] = accounts.create_token(session, user, "bench")[1]
    database.dispose()
    return tokens


def seed(settings, count: int) -> str:
    """`count` transcribed memos by one author, each with its draft, in every state past `ready`,
    inserted in bulk; returns the database's size."""
    import datetime as dt

    from sqlalchemy import insert, select, text

    from dictation.db import Database
    from dictation.models import Draft, Memo, User

    rng = np.random.default_rng(7)
    words = [{"word": f" word{i}", "start": i * 0.4, "end": i * 0.4 + 0.3, "probability": 0.93}
             for i in range(int(SEED_MEMO_SECONDS * 2.5))]
    transcript = {"language": "en", "duration": SEED_MEMO_SECONDS, "language_probability": 0.99,
                  "no_speech": False, "sparse_spans": [], "engine": "faster-whisper", "model": "base",
                  "segments": [{"id": i, "start": s[0]["start"], "end": s[-1]["end"],
                                "text": "".join(w["word"] for w in s),
                                "avg_logprob": -0.2, "no_speech_prob": 0.01, "words": s}
                               for i, s in enumerate(words[j:j + 15] for j in range(0, len(words), 15))]}
    peaks = [round(float(x), 3) for x in rng.random(SEED_MEMO_SECONDS * 50)]
    body = "\n\n".join(" ".join(w["word"].strip() for w in words[j:j + 25]) + "." for j in range(0, len(words), 25))
    paragraphs = [{"text": p, "start": i * 10.0, "end": i * 10.0 + 9.5} for i, p in enumerate(body.split("\n\n"))]
    database = Database(settings)
    now = dt.datetime.now(dt.UTC)
    with database.session() as session:
        author, assistant = (session.scalar(select(User.id).where(User.role == r)) for r in ("author", "assistant"))
        for start in range(0, count, 1000):
            memos, drafts = [], []
            for i in range(start + 1, min(count, start + 1000) + 1):
                status = STATES[i % len(STATES)]
                memos.append(dict(
                    id=i, author_id=author, title=f"Memo {i}", status=status,
                    priority=("normal", "high", "urgent")[i % 7 % 3],
                    due_at=now + dt.timedelta(hours=int(rng.integers(-48, 240))) if i % 4 == 0 else None,
                    language="en", progress=1.0, media_sha256=uuid.uuid4().hex * 2, size_bytes=1_000_000,
                    duration_s=float(SEED_MEMO_SECONDS), peaks=peaks, transcript=transcript,
                    created_at=now - dt.timedelta(minutes=count - i), updated_at=now))
                drafts.append(dict(id=i, memo_id=i, title=f"Memo {i}", body_markdown=body, machine_markdown=body,
                                   paragraphs=paragraphs, tags=["bench"], excerpt=body[:150], slug=f"memo-{i}",
                                   version=1 + i % 3, assignee_id=assistant if i % 3 == 0 else None))
            session.execute(insert(Memo), memos)
            session.execute(insert(Draft), drafts)
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_size_pretty(sum(pg_total_relation_size(oid))) FROM pg_class "
                                     "WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace")).scalar()
    else:
        size = f"{(settings.data_dir / 'dictation.sqlite3').stat().st_size / MIB:.0f} MB"
    database.dispose()
    return size


# --- measurements ---------------------------------------------------------------------


def bench_uploads(sizes: list[int], work: Path) -> None:
    print("\n## Uploads (POST /api/v1/memos, multipart streamed from disk; WAV 16 kHz mono)\n")
    print(f"{'size':>8} {'app MB/s':>9} {'HTTP MB/s':>10} {'app/HTTP':>8} {'disk copy':>10} "
        f"{'app RSS peak':>13} {'(idle)':>7} {'HTTP RSS peak':>14}")
    files = {}
    for mb in sizes:
        files[mb] = work / f"upload-{mb}mb.wav"
        make_wav(files[mb], mb * MIB, seed=mb)
    data_dir = work / "upload-data"
    tokens = prepare_users(Settings(data_dir=data_dir))
    bare_port = free_port()
    bare_cmd = [sys.executable, __file__, "--bare", str(bare_port)]
    with app_server("api.app:create_app", data_dir, work / "upload-app.log") as (base, app_rss), \
            server(bare_cmd, {}, bare_port, work / "upload-bare.log") as (bare, bare_rss):
        warm = work / "warm.wav"
        make_wav(warm, 64 * 1024, seed=0)
        post_file(f"{base}/api/v1/memos", warm, tokens["author"]), post_file(f"{bare}/upload", warm)
        for mb, path in files.items():
            idle = app_rss.reset()
            seconds, answer = post_file(f"{base}/api/v1/memos", path, tokens["author"], title=f"{mb} MB")
            if answer.status_code != 201 or answer.json()["size_bytes"] != path.stat().st_size:
                raise RuntimeError(f"upload of {mb} MB answered {answer.status_code}: {answer.text[:300]}")
            app_peak = app_rss.peak
            bare_rss.reset()
            bare_s, answer = post_file(f"{bare}/upload", path)
            if answer.status_code != 201:
                raise RuntimeError(f"bare upload answered {answer.status_code}")
            started = time.perf_counter()
            shutil.copyfile(path, work / "copy.wav")
            copy_s = time.perf_counter() - started
            (work / "copy.wav").unlink()
            print(f"{mb:>5} MB {mb / seconds:>9.1f} {mb / bare_s:>10.1f} {bare_s / seconds:>8.2f} {mb / copy_s:>10.0f} "
                f"{app_peak / MIB:>10.0f} MB {idle / MIB:>4.0f} MB {bare_rss.peak / MIB:>11.0f} MB")
    for path in files.values():
        path.unlink()
    shutil.rmtree(data_dir, ignore_errors=True)


def timed_gets(base: str, token: str, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Latencies (ms) of GETting each path, spread over `clients` threads, and requests/s."""
    headers = {"Authorization": f"Bearer {token}"}
    shares = [paths[i::clients] for i in range(clients)]

    def run(share: list[str]) -> list[float]:
        times = []
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for path in share:
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for share in pool.map(run, shares) for t in share]
    return times, len(paths) / (time.perf_counter() - started)


def bench_latency(backend: str, url: str | None, count: int, requests: int, clients: int, work: Path) -> None:
    data_dir = work / f"latency-{backend}"
    settings = Settings(data_dir=data_dir, database_url=url)
    tokens = prepare_users(settings)
    started = time.perf_counter()
    size = seed(settings, count)
    print(f"\n{backend}: {count:,} memos seeded in {time.perf_counter() - started:.1f} s ({size}; "
        f"each with a {SEED_MEMO_SECONDS} s transcript and waveform)")
    print(f"{'backend':<10} {'request':<22} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'p50/hz':>8}")
    env = {"dictation_database_url": url} if url else {}
    with app_server("api.app:create_app", data_dir, work / f"latency-{backend}.log", **env) as (base, rss):
        shown = httpx.get(f"{base}/api/v1/worklist", headers={"Authorization": f"Bearer {tokens['assistant']}"}).json()
        # Drafts from all over the table, not only the worklist's first page.
        draft_ids = np.random.default_rng(1).integers(1, count + 1, requests)
        cases = [("healthz (baseline)", ["/healthz"] * requests),
                 ("worklist (100 items)", ["/api/v1/worklist"] * requests),
                 ("draft fetch", [f"/api/v1/drafts/{i}" for i in draft_ids])]
        floor = {}
        rss.reset()
        for label, paths in cases:
            timed_gets(base, tokens["assistant"], paths[:5], 1)  # warm connections and caches
            for n in (1, clients):
                times, rps = timed_gets(base, tokens["assistant"], paths, n)
                p50, p95 = statistics.median(times), float(np.percentile(times, 95))
                floor.setdefault(n, p50)
                print(f"{backend:<10} {label:<22} {n:>7} {p50:>8.1f} {p95:>8.1f} {rps:>8.1f} {p50 / floor[n]:>8.1f}")
        print(f"{backend:<10} server peak RSS {rss.peak / MIB:.0f} MB; worklist answer: {len(shown['items'])} items, "
              f"{len(json.dumps(shown)) / 1024:.0f} KiB of JSON")


@contextlib.contextmanager
def pg_schema():
    """A PostgreSQL URL on a schema of our own, dropped afterwards (as tests/dbfixtures.py does);
    None when PostgreSQL does not answer."""
    import psycopg
    import sqlalchemy as sa

    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.Error:
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def bench_e2e(model: str, models_dir: Path, work: Path) -> None:
    from dictation.transcribe import TranscribeOptions, load_engine, transcribe
    from dictation.transcribe.weights import resolve_faster_whisper

    print(f"\n## Upload to draft ready: {MEMO.name}, model {model}, in-process worker (review_ui.app:serve_app)\n")
    data_dir = work / "e2e-data"
    settings = Settings(data_dir=data_dir, model=model, models_dir=models_dir, workers=1)
    options = TranscribeOptions.from_settings(settings)
    if options.engine == "faster-whisper":  # assembles `base` from its PyPI parts, once per cache
        resolve_faster_whisper(options.model, options.model_cache_dir)
    tokens = prepare_users(settings)
    env = {"dictation_model": model, "dictation_models_dir": str(models_dir), "dictation_workers": "1"}
    with app_server("review_ui.app:serve_app", data_dir, work / "e2e.log", **env) as (base, rss):
        rss.reset()
        started = time.perf_counter()
        upload_s, answer = post_file(f"{base}/api/v1/memos", MEMO, tokens["author"])
        memo, seen = answer.json(), {}
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['author']}"}) as client:
            while memo["status"] not in ("ready", "failed"):
                if time.perf_counter() - started > 900:
                    raise RuntimeError(f"the memo was not ready in 900 s: {memo}")
                time.sleep(0.05)
                memo = client.get(f"/api/v1/memos/{memo['id']}").json()
                seen.setdefault(memo["status"], time.perf_counter() - started)
            end_to_end = time.perf_counter() - started
            if memo["status"] != "ready":
                raise RuntimeError(f"the memo failed: {memo['error']}")
            draft = client.get(f"/api/v1/drafts/{memo['draft_id']}").json()
        peak = rss.peak
    started = time.perf_counter()
    engine = load_engine(options)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    transcript = transcribe(MEMO, options, engine=engine)
    bare_s = time.perf_counter() - started
    audio_s = memo["duration_s"] or transcript.duration
    print(f"memo {audio_s:.0f} s of audio; draft of {len(draft['body_markdown'].split())} words "
        f"(bare transcript {len(transcript.text.split())} words)")
    print(f"upload {upload_s:.2f} s; status seen: " + ", ".join(f"{k} at {v:.1f} s" for k, v in seen.items()))
    print(f"upload to draft ready {end_to_end:.1f} s ({audio_s / end_to_end:.1f}x real time); "
        f"server peak RSS {peak / MIB:.0f} MB")
    print(f"bare transcribe() {bare_s:.1f} s + first model load {load_s:.2f} s ({audio_s / bare_s:.1f}x real time)")
    print(f"ratio end-to-end / bare transcription: {end_to_end / bare_s:.2f} "
        f"(/ load + transcription: {end_to_end / (bare_s + load_s):.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 10 MB uploads, 1,000 drafts, fewer requests")
    parser.add_argument("--no-postgres", action="store_true", help="latency on SQLite only")
    parser.add_argument("--only", default="upload,latency,e2e", help="comma-separated parts to run")
    parser.add_argument("--sizes", default=None, help="upload sizes in MB, e.g. 1,10,50 (default 1,10,50,100,200)")
    parser.add_argument("--memos", type=int, default=None, help="memos, each with its draft, to seed (default 10,000)")
    parser.add_argument("--requests", type=int, default=None, help="requests per case (default 100)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the second run")
    parser.add_argument("--model", default=os.environ.get("DICTATION_MODEL", "base"),
                        help="model for the end-to-end run")
    parser.add_argument("--bare", metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=int(args.bare), log_level="warning")
        return 0
    sizes = [int(s) for s in (args.sizes or ("1,10" if args.quick else "1,10,50,100,200")).split(",")]
    count = args.memos or (1000 if args.quick else 10_000)
    requests = args.requests or (20 if args.quick else 100)
    parts = set(args.only.split(","))
    models_dir = Settings().model_cache_dir  # the user's own cache: `base` is assembled once

    sys.stdout.reconfigure(line_buffering=True)
    fast = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m)]
    print(f"# Server benchmark: {psutil.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"python {sys.version.split()[0]}, "
          f"uvicorn {__import__('uvicorn').__version__} with {', '.join(fast) or 'h11 and the asyncio loop'}")
    with tempfile.TemporaryDirectory(prefix="dictation-bench-") as tmp:
        work = Path(tmp)
        if "upload" in parts:
            bench_uploads(sizes, work)
        if "latency" in parts:
            print(f"\n## Latency with {count:,} memos: {requests} requests per case, 1 client then {args.clients}")
            bench_latency("sqlite", None, count, requests, args.clients, work)
            if args.no_postgres:
                print("\npostgresql: skipped (--no-postgres)")
            else:
                with pg_schema() as url:
                    if url is None:
                        print(f"\npostgresql: skipped, nothing answers at {PG_URL}")
                    else:
                        bench_latency("postgresql", url, count, requests, args.clients, work)
        if "e2e" in parts:
            bench_e2e(args.model, models_dir, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
