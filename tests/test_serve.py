"""`dictation serve` as `make run` starts it: a subprocess on a fresh data dir prints the
first admin's login once, and its in-process worker turns an upload into a draft."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT, shared_file
from tests.support.serve import serve


def test_serve_fresh_data_dir_prints_admin_and_transcribes_upload(tmp_path):
    with serve(tmp_path) as served:
        base, email, password, env = served.base_url, served.email, served.password, served.env
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
    # Started once: a second start makes no second admin and prints no password.
    again = subprocess.run([sys.executable, "-m", "dictation", "migrate"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "password" not in again.stdout
