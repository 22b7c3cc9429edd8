"""Load benchmark: concurrent uploads plus a steady rate of worklist and draft reads, for a
bounded time, against a database of 10,000 drafts, on SQLite and on PostgreSQL.

    .venv/bin/python bench/load.py [--seconds 60] [--quick] [--no-postgres]

The server is the real API (`api.app:create_app` under uvicorn) in another process on a free
loopback port, with its worker off (DICTATION_WORKERS=0: uploads are stored, become memos and
queue their jobs, nobody transcribes them), so the figures are the web tier's own. This
process is the load: `--uploaders` phones (50) each upload generated WAVs one after the other
(15 s, 480 KB: a 2-minute memo's size in AAC), sent at a phone's uplink (`--uplink-kbps`, 2000),
so about 50 uploads are on their way at any moment; reads are sent open-loop at `--rate` per
second (200; half GET /api/v1/worklist, half GET /api/v1/drafts/{random id}), whether or not
earlier ones have answered. Latency is from the moment a read was due, so a server that falls
behind shows it (no coordinated omission). Peak RSS is the server's (all its processes with
`--processes`), sampled every 5 ms.

PostgreSQL: a fresh database made on the local server (127.0.0.1:5432, or the server in
DICTATION_TEST_PG_URL) and dropped afterwards. Baseline in the same run: GET /healthz at the
same rate on the same server, before the load (framework and HTTP, no database). `--floor` sends
the same load to bench/server.py's `floor_app` instead (the same routes, no database, no checks):
what HTTP and the load generator cost on this machine by themselves.
Goals (issue 10): no error; worklist p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_server", HERE / "server.py")
assert _spec is not None and _spec.loader is not None
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)  # its helpers: servers, RSS sampling, users, bulk seeding

MIB = base.MIB
# Each upload: a 15 s WAV (480 KB), the size of a 2-minute phone memo in AAC at 32 kbit/s, sent
# at a phone's uplink (2 Mbit/s, a fair 4G upload): 50 phones keep ~50 uploads on the way at once.
UPLOAD_SECONDS = 15.0
UPLINK_KBPS = 2000.0
GRACE_S = 20.0  # after the load, requests still unanswered this long are counted as errors


def wav_bytes(seconds: float, seed: int) -> bytes:
    path = Path(tempfile.mkstemp(suffix=".wav")[1])
    try:
        base.make_wav(path, 44 + int(seconds * base.RATE) * 2, seed)
        return path.read_bytes()
    finally:
        path.unlink()


def percentiles(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"{p50:>8.1f} {p95:>8.1f} {p99:>8.1f}"


class Tally:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def ok(self, kind: str, ms: float) -> None:
        self.times.setdefault(kind, []).append(ms)

    def error(self, kind: str, what: str) -> None:
        self.errors.setdefault(kind, []).append(what)


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def text(self) -> str:
        return self.body[:120].decode(errors="replace")


class Loopback:
    """A small HTTP/1.1 client on asyncio streams with kept-alive connections. httpx's async
    client spent ~10x the CPU per request, so on 2 shared cores the load generator, not the
    server, was what fell behind (the server sat at 4 % CPU)."""

    def __init__(self, url: str, connections: int) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.slots = asyncio.Semaphore(connections)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                      uplink_bps: float = 0.0) -> Answer:
        async with self.slots:
            if self.idle.empty():
                reader, writer = await asyncio.open_connection(self.host, self.port)
            else:
                reader, writer = self.idle.get_nowait()
            try:
                head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
                writer.write((head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
                await send_body(writer, body, uplink_bps)
                status = int((await reader.readline()).split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                answer = Answer(status, await reader.readexactly(length))
            except BaseException:
                writer.close()
                raise
            if close:
                writer.close()
            else:
                self.idle.put_nowait((reader, writer))
            return answer


async def send_body(writer: asyncio.StreamWriter, body: bytes, uplink_bps: float) -> None:
    """All at once, or at a phone's uplink rate: 16 KB, then the time those took on the air."""
    if uplink_bps <= 0:
        writer.write(body)
        await writer.drain()
        return
    started, step = time.perf_counter(), 16 * 1024
    for at in range(0, len(body), step):
        writer.write(body[at:at + step])
        await writer.drain()
        await asyncio.sleep(max(0.0, started + (at + step) * 8 / uplink_bps - time.perf_counter()))


def multipart(data: bytes, name: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: audio/wav\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def uploader(client: Loopback, token: str, recording: bytes, index: int, until: float, tally: Tally,
                   uplink_bps: float) -> None:
    """One phone after another: upload, wait for the answer, upload the next (unique bytes)."""
    count = 0
    while time.perf_counter() < until:
        count += 1
        # The same WAV with its last 8 bytes made unique: a new recording, not a duplicate.
        body, kind = multipart(recording[:-8] + (index * 1_000_000 + count).to_bytes(8, "little"),
                               f"load-{index}-{count}.wav")
        started = time.perf_counter()
        try:
            answer = await client.request("POST", "/api/v1/memos", {"Authorization": f"Bearer {token}",
                                                                    "Content-Type": kind}, body, uplink_bps)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            tally.error("upload", type(exc).__name__)
            continue
        if answer.status == 201:
            tally.ok("upload", (time.perf_counter() - started) * 1000)
        else:
            tally.error("upload", f"{answer.status} {answer.text()}")


async def reader(client: Loopback, token: str, kind: str, path: str, due: float, tally: Tally) -> None:
    try:
        answer = await client.request("GET", path, {"Authorization": f"Bearer {token}"})
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        tally.error(kind, type(exc).__name__)
        return
    if answer.status == 200:
        tally.ok(kind, (time.perf_counter() - due) * 1000)
    else:
        tally.error(kind, f"{answer.status} {answer.text()}")


async def reads(client: Loopback, tokens: list[str], rate: float, until: float, drafts: int, tally: Tally,
                only: str | None = None) -> tuple[int, set[asyncio.Task]]:
    """Open loop: a read every 1/rate s, on time whatever the earlier ones are doing, each pair
    (a worklist, a draft) from the next of the desks' `tokens` in turn. Returns how many were
    sent and those still running."""
    rng, tasks, sent = random.Random(3), set(), 0
    start = time.perf_counter()
    while True:
        due = start + sent / rate
        if due >= until:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if only is not None:
            kind, path = only, "/healthz"
        elif sent % 2:
            kind, path = "draft", f"/api/v1/drafts/{rng.randint(1, drafts)}"
        else:
            kind, path = "worklist", "/api/v1/worklist"
        task = asyncio.create_task(reader(client, tokens[sent // 2 % len(tokens)], kind, path, due, tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    return sent, set(tasks)


async def finish(tasks: set[asyncio.Task], tally: Tally, kind: str) -> None:
    """Bounded in time: what has not answered GRACE_S after the load is an error, and cancelled."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=GRACE_S)
    for task in late:
        task.cancel()
        tally.error(kind, f"no answer {GRACE_S:g} s after the load ended")
    if late:
        await asyncio.wait(late)


async def own_delay(until: float, own: Tally) -> None:
    """How late this process's own event loop runs (a 10 ms sleep, overslept by): a read sent
    late counts against the server, so this says how much of a latency is the client's."""
    while time.perf_counter() < until:
        asked = time.perf_counter()
        await asyncio.sleep(0.01)
        own.ok("lag", (time.perf_counter() - asked) * 1000 - 10)


async def load(url: str, tokens: dict[str, str], args: argparse.Namespace, tally: Tally,
               own: Tally) -> tuple[int, float]:
    seconds, uploaders, rate, drafts = args.seconds, args.uploaders, args.rate, args.drafts
    recording = wav_bytes(args.upload_seconds, 11)
    uploads, readers = Loopback(url, uploaders), Loopback(url, 256)
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    ups = {asyncio.create_task(uploader(uploads, tokens["author"], recording, i, until, tally,
                                        args.uplink_kbps * 1000))
           for i in range(uploaders)}
    lag = asyncio.create_task(own_delay(until, own))
    desks = [token for name, token in tokens.items() if name.startswith("assistant")]
    sent, running = await reads(readers, desks, rate, until, drafts, tally)
    took = time.perf_counter() - started
    await finish(running, tally, "reads")
    await finish(ups, tally, "upload")
    await lag
    return sent, took


async def baseline(url: str, token: str, rate: float, seconds: float, tally: Tally) -> None:
    _, running = await reads(Loopback(url, 256), [token], rate, time.perf_counter() + seconds, 1, tally, only="healthz")
    await finish(running, tally, "healthz")


@contextlib.contextmanager
def pg_database() -> Iterator[str | None]:
    """A fresh database on the local PostgreSQL server, dropped afterwards; None when none answers."""
    import psycopg
    import sqlalchemy as sa

    server_url = base.PG_URL
    try:
        psycopg.connect(server_url.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.Error:
        yield None
        return
    name = f"dictation_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_cpu_seconds() -> float:
    """CPU spent so far by the local PostgreSQL server's processes (backends that exit in
    between are not counted: with the pool they live as long as the server's processes)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["name"] in ("postgres", "postmaster") and times is not None:
            total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every process, this one and any other)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def seed(settings: base.Settings, drafts: int, url: str | None) -> str:
    """`base.seed`, and on PostgreSQL its sequences moved past the ids it wrote itself."""
    size = base.seed(settings, drafts)
    if url is not None:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in ("memos", "drafts"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
        engine.dispose()
    return size


def run_backend(name: str, url: str | None, args: argparse.Namespace, work: Path) -> bool:
    data_dir = work / f"load-{name}"
    settings = base.Settings(data_dir=data_dir, database_url=url)
    tokens = base.prepare_users(settings, args.desks)
    started = time.perf_counter()
    size = seed(settings, args.drafts, url)
    print(f"\n## {name}: {args.drafts:,} drafts seeded in {time.perf_counter() - started:.1f} s ({size}); "
          f"load average {os.getloadavg()[0]:.1f}")
    env = {"dictation_database_url": url} if url else {}
    factory = "bench.server:floor_app" if args.floor else "api.app:create_app"
    with base.app_server(factory, data_dir, work / f"load-{name}.log", args.processes,
                         **env) as (server_url, rss):
        hz = Tally()
        asyncio.run(baseline(server_url, tokens["assistant"], args.rate, min(10.0, args.seconds), hz))
        idle = rss.reset()
        tally, own = Tally(), Tally()
        # This process's own full collections (numpy, httpx, the seed's objects) paused it for up
        # to ~90 ms, late reads counted against the server: its setup is frozen out of them, as
        # the server does with its own at startup.
        gc.collect()
        gc.freeze()
        cpu_before, own_before = rss.cpu_seconds(), psutil.Process().cpu_times()
        db_before, busy_before, window = database_cpu_seconds(), machine_busy_seconds(), time.perf_counter()
        sent, took = asyncio.run(load(server_url, tokens, args, tally, own))
        cpu_after, own_after = rss.cpu_seconds(), psutil.Process().cpu_times()
        db_after, busy_after = database_cpu_seconds(), machine_busy_seconds()
        window = time.perf_counter() - window  # the load and the wait for its last answers
        peak = rss.peak
        gc.unfreeze()
    # CPU seconds, not wall time: what each request cost the server, however busy the machine was.
    server_cpu = cpu_after - cpu_before
    client_cpu = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    answered = sum(len(t) for t in tally.times.values()) + sum(len(e) for e in tally.errors.values())
    print(f"{args.uploaders} uploaders ({args.upload_seconds:g} s WAVs at {args.uplink_kbps:g} kbit/s, worker off) + "
          f"{sent / took:.0f} reads/s from {args.desks} desk{'s' if args.desks > 1 else ''} "
          f"for {took:.1f} s; load average after: {os.getloadavg()[0]:.1f}")
    print(f"{'request':<22} {'count':>7} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'per s':>7}")
    for kind, label in (("healthz", "healthz (baseline)"), ("worklist", "GET worklist"),
                        ("draft", "GET draft"), ("upload", "POST memo (upload)"),
                        ("lag", "generator's own delay")):
        source = {"healthz": hz, "lag": own}.get(kind, tally)
        times, errors = source.times.get(kind, []), source.errors.get(kind, [])
        span = min(10.0, args.seconds) if kind == "healthz" else took
        print(f"{label:<22} {len(times):>7} {len(errors):>7} {percentiles(times)} {len(times) / span:>7.1f}")
    unanswered = len(tally.errors.get("reads", []))
    if unanswered:
        print(f"{'reads unanswered':<22} {'':>7} {unanswered:>7}   (of {sent} sent: no answer {GRACE_S:g} s "
              "after the load)")
    for kind, errors in tally.errors.items():
        print(f"  {kind} errors, first: {errors[0]}")
    refusals = [line for line in (work / f"load-{name}.log").read_text(errors="replace").splitlines() if "-> 5" in line]
    if refusals:
        print(f"  server: {len(refusals)} 5xx answers logged, first: {refusals[0][:300]}")
    print(f"server RSS: {idle / MIB:.0f} MB before the load, peak {peak / MIB:.0f} MB; server CPU "
          f"{server_cpu:.1f} s ({server_cpu / took:.2f} cores, {server_cpu * 1000 / max(1, answered):.1f} ms a "
          f"request), this load generator {client_cpu:.1f} s")
    # Where the cores went: a tail that the server's own CPU does not explain is waiting for a
    # core that the database server, the load generator or anything else had.
    database = f"PostgreSQL {db_after - db_before:.1f} s ({(db_after - db_before) / window:.2f} cores), " \
        if url else ""
    print(f"{database}the whole machine busy {(busy_after - busy_before) / window:.2f} of {os.cpu_count()} cores "
          f"over {window:.1f} s")
    worklist = tally.times.get("worklist", [])
    met = not tally.errors and bool(worklist) and float(np.percentile(worklist, 95)) < 50
    if name == "floor":
        print("(the floor: no database and no checks, so no goals)")
    else:
        print(f"goals (no error, worklist p95 < 50 ms): {'met' if met else 'NOT met'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="how long the load lasts (default 60)")
    parser.add_argument("--quick", action="store_true", help="10 s, 1,000 drafts")
    parser.add_argument("--drafts", type=int, default=None, help="drafts to seed (default 10,000)")
    parser.add_argument("--uploaders", type=int, default=50, help="concurrent upload clients")
    parser.add_argument("--upload-seconds", type=float, default=UPLOAD_SECONDS, help="length of each uploaded WAV")
    parser.add_argument("--uplink-kbps", type=float, default=UPLINK_KBPS,
                        help="each phone's upload rate (0: as fast as loopback goes)")
    parser.add_argument("--rate", type=float, default=200.0, help="reads per second (worklist and draft, half each)")
    parser.add_argument("--processes", type=int, default=1, help="server processes (uvicorn --workers)")
    parser.add_argument("--desks", type=int, default=1,
                        help="assistants reading, each with a token of its own, in turn (default 1: every read "
                             "from one desk, whose worklist answers are kept a second; many desks polling "
                             "every few seconds get few kept answers)")
    parser.add_argument("--floor", action="store_true",
                        help="the same load against a bare app with the same routes (no database): the floor")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    # A plain kill still stops the server subprocess and removes the data (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.seconds = args.seconds or (10.0 if args.quick else 60.0)
    args.drafts = args.drafts or (1000 if args.quick else 10_000)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"# Load benchmark: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"python {sys.version.split()[0]}, {args.processes} server process(es)")
    met = True
    with tempfile.TemporaryDirectory(prefix="dictation-load-") as tmp:
        work = Path(tmp)
        if args.floor:
            return 0 if run_backend("floor", None, args, work) else 1
        if not args.no_sqlite:
            met &= run_backend("sqlite", None, args, work)
        if args.no_postgres:
            print("\npostgresql: skipped (--no-postgres)")
        else:
            with pg_database() as url:
                if url is None:
                    print(f"\npostgresql: skipped, nothing answers at {base.PG_URL}")
                else:
                    met &= run_backend("postgresql", url, args, work)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
