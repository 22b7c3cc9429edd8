"""Real faults for tests/test_faults_*.py: private PostgreSQL and Redis servers that a test may
stop, kill and start again (the machine's shared ones serve other tests and CI, so they are never
touched), a size-limited filesystem that really fills up, and worker processes to SIGKILL.

Each helper needs something of the machine (the PostgreSQL server binaries, redis-server, root
for a mount); without it the test skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import ROOT, need
from tests.support.servers import free_port

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"  # Debian's postgresql-NN package (installed by `make test`)


def wait_for(check: Callable[[], object], timeout: float, what: str, log: Path | None = None) -> object:
    """Poll `check` until it returns something true; fail with `what` (and a log's tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


# --- PostgreSQL --------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL server of the test's own, in a temporary directory on a free port."""

    def __init__(self) -> None:
        found = sorted(glob.glob(f"{PG_BIN_GLOB}/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        need(bool(found), f"no PostgreSQL server binaries under {PG_BIN_GLOB} (Debian's postgresql package)")
        self.bin = Path(found[-1]).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dd-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: run the server as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{tool} failed: {done.stderr[-1500:]}\n{self.log_tail()}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""

    def start(self) -> None:
        # fsync off: a test server, and the machine's two cores are shared.
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: connections are cut at once; immediate: as if the server crashed."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def close(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


# --- Redis -------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: killed, it comes
    back empty, as a Redis without a disk (or with a lost one) does."""

    def __init__(self, work: Path) -> None:
        self.binary = shutil.which("redis-server")
        need(self.binary is not None, "redis-server is not installed (Debian's redis-server package)")
        self.port = free_port()
        self.work = work
        self.log = work / "redis.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.work), "--logfile", str(self.log)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self.answers, 30, "the private redis-server to answer", self.log)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: what it held in memory is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


@contextlib.contextmanager
def private_redis(work: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(work)
    try:
        server.start()
        yield server
    finally:
        server.kill()


# --- a small disk --------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[str]:
    """A filesystem of `size_mb` mounted on `path`: a tmpfs, else an ext4 image on a loop device.
    Yields which it was. Needs root (the machines of this project and CI run tests as root)."""
    need(os.geteuid() == 0 and shutil.which("mount") is not None, "mounting a small filesystem needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                             capture_output=True, text=True)
    kind = "tmpfs"
    if mounted.returncode != 0:
        image = path.with_name(path.name + ".img")
        with image.open("wb") as out:
            out.truncate(size_mb * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True)
        looped = subprocess.run(["mount", "-o", "loop", str(image), str(path)], capture_output=True, text=True)
        need(looped.returncode == 0, f"could not mount a tmpfs ({mounted.stderr.strip()[-200:]}) "
                                     f"nor a loop device ({looped.stderr.strip()[-200:]})")
        kind = "loop"
    try:
        yield kind
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(path: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file in `path` until at most `leave_bytes` are free; returns it."""
    filler = path / "filler.bin"
    with filler.open("wb") as out:
        block = b"\0" * (64 * 1024)
        try:
            while shutil.disk_usage(path).free > leave_bytes + len(block):
                out.write(block)
                out.flush()
            out.write(b"\0" * max(0, shutil.disk_usage(path).free - leave_bytes))
            out.flush()
        except OSError:
            pass  # full already
    return filler


# --- worker processes ------------------------------------------------------------------------

# The worker `dictation worker` runs (its settings as the command reads them, the data dir's own
# secret key included), with short timings so a test never waits a minute: dead
# workers' jobs are found by their pid, lost queue messages after `lost_after_s`.
WORKER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
from dictation.jobs import JobOptions, WorkerOptions, run_worker
from dictation.settings import get_settings
from dictation.startup import register_job_kinds
register_job_kinds()
run_worker(get_settings(), 1, options=WorkerOptions(
    queue_name=sys.argv[1], recover_every_s=1, preload_model=sys.argv[2] == "model",
    jobs=JobOptions(backoff_s=0.5, heartbeat_s=1, progress_every_s=0.5, stale_after_s=20, lost_after_s=2)))
"""


class Workers:
    """Worker processes on one queue, started and killed by the test; all stopped at the end."""

    def __init__(self, queue_name: str, log: Path, env: dict[str, str], model: bool = True) -> None:
        self.queue_name, self.log, self.model = queue_name, log, model
        self.env = {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", WORKER, self.queue_name, "model" if self.model else "-"],
                                   cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)  # no clean-up of any kind
        process.wait(30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- a CMS that answers too late -------------------------------------------------------------


class HoldingProxy:
    """Forwards each request to `upstream` (one per connection). The first whose method and path
    match `method`, `path_end` is forwarded, its answer received, `created` set, and then the
    answer is held back until `release` is set, when the connection closes unanswered: the CMS
    did the work, the caller never heard of it. Every other request passes."""

    def __init__(self, upstream: tuple[str, int], method: str, path_end: str) -> None:
        self.upstream, self.method, self.path_end = upstream, method, path_end
        self.created, self.release = threading.Event(), threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = read_request(conn)
            if request is None:
                return
            method, target = request.split(b" ", 2)[:2]
            path = target.decode("latin-1").split("?", 1)[0]
            hold = method.decode() == self.method and path.rstrip("/").endswith(self.path_end) \
                and not self.created.is_set()
            answer = self._forward(request)
            if hold:
                self.created.set()
                self.release.wait(120)
                return  # closed without a word
            try:
                conn.sendall(answer)
            except OSError:
                pass

    def _forward(self, request: bytes) -> bytes:
        return forward(self.upstream, request, timeout=120)

    def close(self) -> None:
        self.release.set()
        self.server.close()


def read_request(conn: socket.socket) -> bytes | None:
    """One whole HTTP/1.1 request off `conn` (head and a Content-Length body), None if it closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def forward(upstream: tuple[str, int], request: bytes, timeout: float) -> bytes:
    """Send `request` to `upstream` on a connection of its own and return the whole answer."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n")
             if not line.lower().startswith((b"connection:", b"host:", b"keep-alive:"))]
    # The upstream's own Host (Ghost redirects others) and one request per connection.
    lines[1:1] = [b"Host: %s:%d" % (upstream[0].encode(), upstream[1]), b"Connection: close"]
    with socket.create_connection(upstream, timeout=timeout) as up:
        up.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        chunks = []
        while data := up.recv(65536):
            chunks.append(data)
    return b"".join(chunks)
