"""Real CMS servers for the publishing tests: ../shared/peers/<name>/start-<name>.sh.

Each start script is idempotent and prints KEY=VALUE lines (URL, credentials) on stdout.
The fixtures run it once per test session; where it cannot start (no ../shared, no
packages, no network for the first install) the tests skip with the tail of its stderr,
and fail under CI=true, which starts them.

The fixtures are a plugin (tests/conftest.py), so each peer starts once per run however
many modules ask for it; a test asks for `wordpress_peer` by name, or marks itself
`pytest.mark.peers("ghost")` when it asks with `request.getfixturevalue`.

Once the tests are collected and about to run, every peer they will ask for starts in the background: Ghost
boots for minutes, and the tests before the first one that needs it run meanwhile (on the
machine's spare core) instead of waiting for it. The fixture then waits for that start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHARED, need

# Cold starts measured here: WordPress ~66 s, Ghost ~5.5 min, Micropub ~14 s.
START_TIMEOUT_S = {"wordpress": 300, "ghost": 900, "micropub": 180}


@dataclass
class _Start:
    process: subprocess.Popen
    began: float  # time.monotonic() at launch
    stdout: Path
    stderr: Path


_starting: dict[str, _Start] = {}


def _script(name: str) -> Path:
    return SHARED / "peers" / name / f"start-{name}.sh"


def _launch(name: str) -> None:
    # Files, not pipes: nobody reads a background start's output until it ends, and a chatty
    # npm would fill a pipe and stall.
    folder = Path(tempfile.mkdtemp(prefix=f"peer-{name}-"))
    out, err = folder / "stdout", folder / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(["bash", str(_script(name))], stdout=stdout, stderr=stderr,
                                   env={**os.environ, "PYTHONPATH": ""}, start_new_session=True)
    _starting[name] = _Start(process, time.monotonic(), out, err)


def peers_asked_for(items) -> set[str]:
    """The peers these tests ask for: by fixture name, or by `pytest.mark.peers(name)`."""
    wanted: set[str] = set()
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture.endswith("_peer") and fixture.removesuffix("_peer") in START_TIMEOUT_S:
                wanted.add(fixture.removesuffix("_peer"))
        for mark in item.iter_markers("peers"):
            wanted.update(name for name in mark.args if name in START_TIMEOUT_S)
    return wanted


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session) -> None:
    # Here, not at the end of collection: only a run that will run its tests starts them (not
    # --collect-only, --fixtures, --setup-plan, nor a run that stops at a collection error).
    option = session.config.option
    if option.collectonly or option.setupplan or (session.testsfailed and not option.continue_on_collection_errors):
        return
    for name in sorted(peers_asked_for(session.items)):
        if _script(name).exists():  # else the fixture skips (fails under CI) with the reason
            _launch(name)


def pytest_sessionfinish(session) -> None:
    # A start still running when the tests end (they were interrupted, or none asked) is not
    # left behind, nor the npm or yarn it runs.
    for start in _starting.values():
        _stop(start)
        # Its output holds the peer's credentials: not left lying in /tmp.
        shutil.rmtree(start.stdout.parent, ignore_errors=True)


def _stop(start: _Start) -> None:
    if start.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(start.process.pid, signal.SIGKILL)
        start.process.wait()


def start_peer(name: str) -> dict[str, str]:
    """The peer's KEY=VALUE lines from its start script (begun in the background once the
    tests were collected, else run now); skip if it fails."""
    script = _script(name)
    need(script.exists(), f"{script} is absent (../shared is laid beside the checkout on CI)")
    if name not in _starting:
        _launch(name)
    start = _starting[name]
    left = START_TIMEOUT_S[name] - (time.monotonic() - start.began)
    try:
        start.process.wait(timeout=max(1.0, left))
    except subprocess.TimeoutExpired:
        _stop(start)
        tail = start.stderr.read_bytes()[-600:]
        need(False, f"{name} peer did not start within {START_TIMEOUT_S[name]} s: {tail!r}")
        raise  # unreachable: need() skipped or failed
    stdout = start.stdout.read_text(errors="replace")
    values = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line and not line.startswith("#"))
    need(
        start.process.returncode == 0 and bool(values),
        f"{name} peer could not start (exit {start.process.returncode}): "
        f"{start.stderr.read_text(errors='replace').strip()[-600:]}",
    )
    return values


@pytest.fixture(scope="session")
def wordpress_peer() -> dict[str, str]:
    return start_peer("wordpress")


@pytest.fixture(scope="session")
def ghost_peer() -> dict[str, str]:
    return start_peer("ghost")


@pytest.fixture(scope="session")
def micropub_peer() -> dict[str, str]:
    return start_peer("micropub")


def tiny_png(path, rgb=(31, 95, 191), size=8):
    """A real PNG image (solid colour) for featured-image uploads, without Pillow."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return path
