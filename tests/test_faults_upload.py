"""`dictation serve` SIGKILLed while a tus chunk is on its way: after a restart on the same data
dir the client asks how much arrived (HEAD), sends the rest, and the memo holds exactly the
bytes it sent (same sha256)."""

from __future__ import annotations

import base64
import hashlib
import threading

import httpx

from tests.support.api import sine_wav
from tests.support.serve import serve

CHUNK = 512 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def test_resume_tus_upload_after_server_killed_mid_chunk(tmp_path):
    recording = sine_wav(45.0, 277.18)  # 1.4 MB: three chunks (bytes no other test sends)
    with serve(tmp_path, DICTATION_WORKERS="0") as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with httpx.Client(base_url=first.base_url, timeout=30) as http:
            login = http.post("/api/v1/session", json={"email": first.email, "password": first.password})
            token = http.post("/api/v1/tokens", json={"name": "phone"},
                              headers={"X-CSRF-Token": login.json()["csrf_token"]}).json()["token"]
        auth = {**TUS, "Authorization": f"Bearer {token}"}
        http = httpx.Client(base_url=first.base_url, headers=auth, timeout=30)
        created = http.post("/api/v1/uploads/", headers={
            "Upload-Length": str(len(recording)),
            "Upload-Metadata": f"filename {base64.b64encode(b'memo.wav').decode()}"})
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        patch = {"Content-Type": "application/offset+octet-stream"}
        sent = http.patch(location, content=recording[:CHUNK], headers={**patch, "Upload-Offset": "0"})
        assert sent.status_code == 204 and int(sent.headers["upload-offset"]) == CHUNK

        halfway, killed = threading.Event(), threading.Event()

        def second_chunk():  # half of it, then the server dies under the request
            yield recording[CHUNK:CHUNK + CHUNK // 2]
            halfway.set()
            killed.wait(30)
            yield recording[CHUNK + CHUNK // 2:2 * CHUNK]

        failures: list[BaseException] = []

        def send_second() -> None:
            try:
                http.patch(location, content=second_chunk(), headers={
                    **patch, "Upload-Offset": str(CHUNK), "Content-Length": str(CHUNK)})
            except httpx.HTTPError as exc:
                failures.append(exc)

        sender = threading.Thread(target=send_second)
        sender.start()
        assert halfway.wait(30)
        first.process.kill()  # SIGKILL: no clean-up of any kind
        first.process.wait(30)
        killed.set()
        sender.join(30)
        assert failures, "the request in flight must fail with the server"
        http.close()

    with serve(tmp_path, port=port, DICTATION_WORKERS="0") as second, \
            httpx.Client(base_url=second.base_url, headers=auth, timeout=30) as http:
        asked = http.head(location)
        assert asked.status_code in (200, 204) and "memo-id" not in asked.headers, asked.headers
        offset = int(asked.headers["upload-offset"])
        assert CHUNK <= offset < 2 * CHUNK  # the first chunk survived; the cut one is resent
        while offset < len(recording):
            answer = http.patch(location, content=recording[offset:offset + CHUNK],
                                headers={**patch, "Upload-Offset": str(offset)})
            assert answer.status_code == 204, answer.text
            offset = int(answer.headers["upload-offset"])
        memo = http.get(f"/api/v1/memos/{answer.headers['memo-id']}").json()
    assert memo["sha256"] == hashlib.sha256(recording).hexdigest()
    assert memo["size_bytes"] == len(recording)
