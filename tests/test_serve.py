"""`dictation serve` as `make run` starts it: a subprocess on a fresh data dir prints the
first admin's login once, and its in-process worker turns an upload into a draft."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT, shared_file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_fresh_data_dir_prints_admin_and_transcribes_upload(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DICTATION_DATA_DIR": str(tmp_path),
           "DICTATION_MODEL": "tiny.en", "DICTATION_LANGUAGE": "en", "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "dictation", "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        printed = (tmp_path / "serve.log").read_text()
        email, password = re.search(r"as (\S+) with password (\S+)", printed).groups()

        with httpx.Client(base_url=base, timeout=30) as http:
            login = http.post("/api/v1/session", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
            token = http.post("/api/v1/tokens", json={"name": "phone"}, headers=csrf).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        with shared_file("audio/real/jfk.flac").open("rb") as handle:
            memo = httpx.post(f"{base}/api/v1/memos", files={"file": ("jfk.flac", handle)}, headers=auth,
                              timeout=60).json()
        deadline = time.monotonic() + 180
        while memo["status"] != "ready":
            assert memo["status"] in ("received", "transcribing") and time.monotonic() < deadline, memo
            time.sleep(0.5)
            memo = httpx.get(f"{base}/api/v1/memos/{memo['id']}", headers=auth, timeout=10).json()
        draft = httpx.get(f"{base}/api/v1/drafts/{memo['draft_id']}", headers=auth, timeout=10).json()
        assert "ask not what your country can do for you" in draft["body_markdown"].lower()
        assert httpx.get(f"{base}/login", timeout=10).status_code == 200  # the review desk is there too
    finally:
        server.terminate()
        server.wait(30)
    # Started once: a second start makes no second admin and prints no password.
    again = subprocess.run([sys.executable, "-m", "dictation", "migrate"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "password" not in again.stdout
