"""`dictation serve` with DICTATION_WEB_PROCESSES=2: two processes answer HTTP, one supervisor
runs the transcription workers, and a caller's write is seen by the next worklist read whichever
process answers it (the write marks they share, dictation/writemarks.py)."""

from __future__ import annotations

import time

import httpx
import psutil

from api.recent import VERDICT_S
from dictation.writemarks import SLOTS, SharedMarks, marks_path
from tests.conftest import shared_file
from tests.support.serve import serve

API = "/api/v1"


def test_share_write_marks_between_mappings(tmp_path):
    path = SharedMarks.reset(marks_path(tmp_path))
    one, other = SharedMarks(path), SharedMarks(path)  # as two processes map it
    caller, someone = "ab" * 32, "cd" * 32
    assert one.get(caller) == float("-inf")
    one.set(caller, 12.5)
    assert other.get(caller) == 12.5 and other.get(someone) == float("-inf")
    other.set(caller, 3.0)  # a mark is only ever raised
    assert one.get(caller) == 12.5
    assert one.credentials_changed() == float("-inf")
    other.change_credentials(7.0)  # a token revoked in the other process
    assert one.credentials_changed() == 7.0 and one.get(caller) == 12.5
    one.change_credentials(2.0)
    assert other.credentials_changed() == 7.0
    SharedMarks.reset(path)  # a new start of the server
    assert one.get(caller) == float("-inf") and one.credentials_changed() == float("-inf")
    assert path.stat().st_size == (SLOTS + 1) * 8


def _answering_processes(server: psutil.Process, port: int) -> set[int]:
    tree = {p.pid for p in server.children(recursive=True)} | {server.pid}
    return {c.pid for c in psutil.net_connections("tcp")
            if c.pid in tree and c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port}


def test_serve_two_processes_see_callers_write_and_transcribe_upload(tmp_path):
    with serve(tmp_path, DICTATION_WEB_PROCESSES="2") as served:
        base = served.base_url
        with httpx.Client(base_url=base, timeout=30) as http:
            login = http.post(f"{API}/session", json={"email": served.email, "password": served.password})
            assert login.status_code == 200, login.text
            csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
            created = http.post(f"{API}/tokens", json={"name": "desk"}, headers=csrf).json()
        token, token_id = created["token"], created["id"]
        auth = {"Authorization": f"Bearer {token}"}
        with shared_file("audio/real/jfk.flac").open("rb") as handle:
            memo = httpx.post(f"{base}{API}/memos", files={"file": ("jfk.flac", handle)}, headers=auth,
                              timeout=60).json()
        deadline = time.monotonic() + 180
        while memo["status"] != "ready":  # the parent's supervised worker transcribes it
            assert memo["status"] in ("received", "transcribing") and time.monotonic() < deadline, memo
            time.sleep(0.5)
            memo = httpx.get(f"{base}{API}/memos/{memo['id']}", headers=auth, timeout=10).json()

        # Kept-alive connections until both processes hold some: each keeps its own answers.
        port = int(base.rsplit(":", 1)[1])
        server = psutil.Process(served.process.pid)
        clients: list[httpx.Client] = []
        try:
            while len(_answering_processes(server, port)) < 2:
                assert len(clients) < 200, "one process took every connection"
                client = httpx.Client(base_url=base, headers=auth, timeout=30)
                clients.append(client)
                assert client.get(f"{API}/worklist").status_code == 200
            processes = _answering_processes(server, port)
            assert server.pid not in processes  # the parent only supervises
            for client in clients:  # kept now in both processes: nobody has claimed it
                item = next(i for i in client.get(f"{API}/worklist").json()["items"]
                            if i["memo"]["id"] == memo["id"])
                assert item["assignee"] is None
            claimed = clients[0].post(f"{API}/drafts/{memo['draft_id']}/transitions", json={"action": "claim"})
            assert claimed.status_code == 200, claimed.text
            for client in clients:  # the same second: every process drops its kept answer
                item = next(i for i in client.get(f"{API}/worklist").json()["items"]
                            if i["memo"]["id"] == memo["id"])
                assert item["assignee"] is not None and item["memo"]["status"] == "in_review"
            with httpx.Client(base_url=base, timeout=30) as desk:
                # Another credential, signed in first (a sign-in is itself a credential change):
                # the token's own write would drop its answers, and a sign-in after the reads below
                # would end their verdicts whatever the revocation does.
                login = desk.post(f"{API}/session", json={"email": served.email, "password": served.password})
                assert login.status_code == 200, login.text
                began = time.monotonic()
                for client in clients:  # kept again, and the token vouched for at each process's door
                    assert client.get(f"{API}/worklist").status_code == 200
                revoked = desk.delete(f"{API}/tokens/{token_id}", headers={"X-CSRF-Token": login.json()["csrf_token"]})
                assert revoked.status_code == 204, revoked.text
                refused = [client.get(f"{API}/worklist").status_code for client in clients]
            assert refused == [401] * len(clients)  # no process answers the revoked token
            # Within the second the answers and verdicts last, or the 401s above prove less
            assert time.monotonic() - began < VERDICT_S, "too slow to tell the marks from the expiry"
        finally:
            for client in clients:
                client.close()
        with httpx.Client(base_url=base, timeout=30) as http:  # the desk, signed in
            assert http.post(f"{API}/session", json={"email": served.email, "password": served.password}
                             ).status_code == 200
            assert http.get(f"{API}/memos/{memo['id']}").json()["status"] == "in_review"
