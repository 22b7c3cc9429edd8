"""`dictation serve` as `make run` starts it, in a subprocess on a fresh data dir and a free
port: started, waited for (its /healthz), its first admin's login read from what it printed,
and stopped."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Served:
    base_url: str  # http://127.0.0.1:<port>
    email: str  # the first admin, printed once
    password: str
    env: dict[str, str]  # what it ran with, for later commands on the same data dir
    log: Path  # everything it printed
    process: subprocess.Popen | None = None  # for tests that kill it


@contextlib.contextmanager
def serve(data_dir: Path, port: int | None = None, **settings: str) -> Iterator[Served]:
    """`dictation serve` on `data_dir` with tiny.en and the given DICTATION_* settings (a
    database or queue URL among them, else the data dir's own SQLite). Started again on a data
    dir that has its admin, it prints no login: `email` and `password` are empty then."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DICTATION_DATA_DIR": str(data_dir),
           "DICTATION_MODEL": "tiny.en", "DICTATION_LANGUAGE": "en", "PYTHONUNBUFFERED": "1", **settings}
    for name in ("DICTATION_DATABASE_URL", "DICTATION_QUEUE_URL"):  # the data dir's own SQLite
        if name not in settings:
            env.pop(name, None)
    log = data_dir / "serve.log"
    with log.open("a") as out:
        server = subprocess.Popen([sys.executable, "-m", "dictation", "serve", "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        login = re.search(r"as (\S+) with password (\S+)", log.read_text())
        email, password = login.groups() if login else ("", "")
        yield Served(base_url=base, email=email, password=password, env=env, log=log, process=server)
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(30)
