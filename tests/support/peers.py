"""Real CMS servers for the publishing tests: ../shared/peers/<name>/start-<name>.sh.

Each start script is idempotent and prints KEY=VALUE lines (URL, credentials) on stdout.
The fixtures run it once per test session; where it cannot start (no ../shared, no
packages, no network for the first install) the tests skip with the tail of its stderr,
and fail under CI=true, which starts them.

The fixtures are a plugin (tests/conftest.py), so each peer starts once per run however
many modules ask for it; a test asks for `wordpress_peer` by name.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import SHARED, need

# Cold starts measured here: WordPress ~66 s, Ghost ~5.5 min, Micropub ~14 s.
START_TIMEOUT_S = {"wordpress": 300, "ghost": 900, "micropub": 180}


def start_peer(name: str) -> dict[str, str]:
    """Run the start script of a peer and return its KEY=VALUE lines; skip if it fails."""
    script = SHARED / "peers" / name / f"start-{name}.sh"
    need(script.exists(), f"{script} is absent (../shared is laid beside the checkout on CI)")
    try:
        done = subprocess.run(
            ["bash", str(script)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S[name],
            env={**os.environ, "PYTHONPATH": ""},
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-600:]
        need(False, f"{name} peer did not start within {START_TIMEOUT_S[name]} s: {tail!r}")
        raise  # unreachable: need() skipped or failed
    values = dict(
        line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and not line.startswith("#")
    )
    need(
        done.returncode == 0 and bool(values),
        f"{name} peer could not start (exit {done.returncode}): {done.stderr.strip()[-600:]}",
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
