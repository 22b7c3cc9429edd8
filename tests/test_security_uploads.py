"""Issue 9, holes 1 and 2: the resumable upload endpoint decides on the method that runs,
answers OPTIONS itself, keeps each upload to its creator, reserves no disk, holds each person
to a quota of open uploads, and the worker's housekeeping expires what was abandoned."""

from __future__ import annotations

import base64
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from dictation import housekeeping
from dictation.settings import Settings
from dictation.storage import MediaStore
from tests.support.api import PASSWORD, make_person, sine_wav

TUS = "/api/v1/uploads/"
V = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def desk(data_dir):
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0, upload_quota_mb=3, max_upload_mb=2))
    yield app
    app.state.database.dispose()


@pytest.fixture
def api_only(data_dir):
    from api.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0, upload_quota_mb=3, max_upload_mb=2))
    yield app
    app.state.database.dispose()


def _meta(**fields) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


def _create(http, person, length: int, **meta) -> str:
    answer = http.post(TUS, headers={**V, **person.auth, "Upload-Length": str(length),
                                     "Upload-Metadata": _meta(filename="memo.wav", **meta)})
    assert answer.status_code == 201, answer.text
    return answer.headers["location"].rsplit("/", 1)[-1]


def test_refuse_method_override_on_uploads(desk):
    ada, bob = make_person(desk, "author"), make_person(desk, "author")
    http = TestClient(desk)
    upload_id = _create(http, ada, 1000, title="Ada's secret board memo")
    for override in ("HEAD", "PATCH", "GET"):
        for headers in ({}, bob.auth):
            answer = http.options(TUS + upload_id, headers={**V, **headers, "X-HTTP-Method-Override": override})
            assert answer.status_code == 400 and answer.json()["error"] == "method_override"
            assert "Upload-Metadata" not in answer.headers
        answer = http.post(TUS + upload_id, headers={**V, **bob.auth, "X-HTTP-Method-Override": override})
        assert answer.status_code == 400


def test_answer_options_without_reading_any_upload(desk):
    ada = make_person(desk, "author")
    http = TestClient(desk)
    upload_id = _create(http, ada, 1000, title="Quarterly numbers")
    answer = http.options(TUS + upload_id)
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0" and answer.headers["tus-extension"] == "creation"
    assert "upload-metadata" not in answer.headers and "upload-offset" not in answer.headers


def test_serve_uploads_from_api_app_alone(api_only, desk):
    from api.paths import API_PREFIX, UPLOADS_PATH

    assert UPLOADS_PATH == f"{API_PREFIX}/uploads" and TUS == UPLOADS_PATH + "/"
    ada = make_person(api_only, "author")
    http = TestClient(api_only)
    answer = http.options(TUS)
    assert answer.status_code == 204 and answer.headers["tus-version"] == "1.0.0"
    assert answer.headers["tus-max-size"] == str(2 * 1024 * 1024)
    wav = sine_wav(0.5)
    upload_id = _create(http, ada, len(wav), title="Sent to the API alone")
    done = http.patch(TUS + upload_id, content=wav, headers={
        **V, **ada.auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 204 and done.headers["memo-id"]
    memo = http.get(f"{API_PREFIX}/memos/{done.headers['memo-id']}", headers=ada.auth).json()
    assert memo["title"] == "Sent to the API alone"
    # The desk wraps the API app and adds no second tus route of its own; neither documents it.
    for app in (api_only, desk):
        tus_routes = [r for r in app.routes if getattr(r, "path", "") == UPLOADS_PATH + "/{rest:path}"]
        assert len(tus_routes) == 1
        assert not any(path.startswith(UPLOADS_PATH) for path in app.openapi()["paths"])


def test_hide_upload_from_everyone_but_its_creator(desk):
    ada, bob, eve = make_person(desk, "author"), make_person(desk, "author"), make_person(desk, "admin")
    http = TestClient(desk)
    wav = sine_wav(0.5)
    upload_id = _create(http, ada, len(wav), title="Ada's memo")
    for other in (bob, eve):
        assert http.head(TUS + upload_id, headers={**V, **other.auth}).status_code == 404
        patch = http.patch(TUS + upload_id, content=wav, headers={
            **V, **other.auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert patch.status_code == 404
    assert http.head(TUS + upload_id, headers=V).status_code == 401
    assert http.head(TUS + upload_id, headers={**V, **ada.auth}).headers["upload-offset"] == "0"
    done = http.patch(TUS + upload_id, content=wav, headers={
        **V, **ada.auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 204 and done.headers["memo-id"]
    # Finished: still only Ada's.
    assert http.head(TUS + upload_id, headers={**V, **bob.auth}).status_code == 404
    assert http.head(TUS + upload_id, headers={**V, **ada.auth}).headers["memo-id"] == done.headers["memo-id"]


def test_refuse_upload_patch_from_session_without_csrf(desk):
    ada = make_person(desk, "author")
    http = TestClient(desk, base_url="http://127.0.0.1")
    csrf = http.post("/api/v1/session", json={"email": ada.email, "password": PASSWORD}).json()["csrf_token"]
    created = http.post(TUS, headers={**V, "Upload-Length": "100", "X-CSRF-Token": csrf,
                                      "Upload-Metadata": _meta(filename="a.wav")})
    assert created.status_code == 201
    upload_id = created.headers["location"].rsplit("/", 1)[-1]
    answer = http.patch(TUS + upload_id, content=b"x" * 10, headers={
        **V, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert answer.status_code == 403 and answer.json()["error"] == "csrf_failed"
    assert http.post(TUS, headers={**V, "Upload-Length": "100"}).status_code == 403


@pytest.mark.parametrize("fields", [
    {"title": "x" * 301},
    {"title": "\x1b[31m" + "y" * 301 + "\x07"},  # cleaned of its control characters, still too long
    {"priority": "whenever"},
    {"due_at": "next tuesday"},
    {"language": "english please"},
])
def test_refuse_bad_memo_details_at_creation_before_any_byte(desk, fields):
    """The same rules and sentence as when the file has arrived, but before a byte is sent."""
    from dictation.errors import InvalidInput
    from dictation.memos.intake import parse_details

    ada = make_person(desk, "author")
    http = TestClient(desk)
    answer = http.post(TUS, headers={**V, **ada.auth, "Upload-Length": "1000",
                                     "Upload-Metadata": _meta(filename="memo.wav", **fields)})
    with pytest.raises(InvalidInput) as refusal:
        parse_details(fields)
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"error": "invalid", "message": refusal.value.message}
    assert housekeeping.open_uploads(housekeeping.upload_dirs(desk.state.settings).staging) == []
    # Good details are taken as before, and reach the memo.
    upload_id = _create(http, ada, 1000, title="Board memo", priority="high", due_at="2030-06-30T17:00:00Z",
                        language="fr")
    assert http.head(TUS + upload_id, headers={**V, **ada.auth}).status_code == 204


def test_create_upload_reserves_no_disk(desk):
    ada = make_person(desk, "author")
    http = TestClient(desk)
    upload_id = _create(http, ada, 2 * 1024 * 1024)
    staging = housekeeping.upload_dirs(desk.state.settings).staging
    assert (staging / upload_id).stat().st_blocks == 0 and (staging / upload_id).stat().st_size == 0


def test_refuse_upload_beyond_quota_of_open_bytes(desk):
    ada, bob = make_person(desk, "author"), make_person(desk, "author")
    http = TestClient(desk)
    _create(http, ada, 2 * 1024 * 1024)
    answer = http.post(TUS, headers={**V, **ada.auth, "Upload-Length": str(2 * 1024 * 1024)})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    assert "unfinished uploads" in answer.json()["message"]
    _create(http, bob, 2 * 1024 * 1024)  # a quota per person


def test_expire_stale_uploads_and_partials_in_housekeeping(desk):
    ada = make_person(desk, "author")
    http = TestClient(desk)
    settings = desk.state.settings
    stale, fresh = _create(http, ada, 1000), _create(http, ada, 1000)
    dirs = housekeeping.upload_dirs(settings)
    meta = dirs.staging / f"{stale}.meta"
    old = time.time() - 25 * 3600
    meta.write_text(meta.read_text().replace('"last_write":', '"last_write":' + str(old) + ',"_was":', 1))
    store = MediaStore(settings.media_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    partial = store.root / ".upload-crashed.part"
    partial.write_bytes(b"half a memo")
    os.utime(partial, (old, old))
    done = housekeeping.sweep(settings, desk.state.database)
    assert done["uploads"] == 1 and done["partials"] == 1
    assert not (dirs.staging / stale).exists() and not meta.exists() and not partial.exists()
    assert (dirs.staging / fresh).exists()
    assert http.head(TUS + stale, headers={**V, **ada.auth}).status_code == 404
    # The quota counts only what is still open.
    assert housekeeping.open_upload_bytes(dirs.staging, ada.id) == 1000


def test_run_housekeeping_from_worker_supervision(desk, monkeypatch):
    from dictation.jobs import consumer

    rounds = []
    monkeypatch.setattr(housekeeping, "sweep", lambda settings, database: rounds.append(settings))
    consumer.housekeep(desk.state.settings)
    assert rounds == [desk.state.settings]



MB = 1024 * 1024


def _create_at_once(base_urls: list[str], auth: dict, lengths: list[int]) -> list[httpx.Response]:
    """Every creation sent at the same moment, each on its own connection, to the servers in turn."""
    start = threading.Barrier(len(lengths))

    def create(n: int) -> httpx.Response:
        with httpx.Client(base_url=base_urls[n % len(base_urls)], timeout=60) as http:
            start.wait()
            return http.post(TUS, headers={**V, **auth, "Upload-Length": str(lengths[n]),
                                           "Upload-Metadata": _meta(filename="memo.wav")})

    with ThreadPoolExecutor(len(lengths)) as pool:
        return list(pool.map(create, range(len(lengths))))


def _held_within(quota: int, answers: list[httpx.Response], lengths: list[int]) -> int:
    """What the accepted creations announced, after checking it is within `quota`."""
    accepted = [length for answer, length in zip(answers, lengths, strict=True) if answer.status_code == 201]
    for answer in answers:
        assert answer.status_code in (201, 413), answer.text
        if answer.status_code == 413:
            assert answer.json()["error"] == "too_large" and "unfinished uploads" in answer.json()["message"]
    assert sum(accepted) <= quota, f"{len(accepted)} creations accepted: {sum(accepted) / MB:g} MB"
    assert accepted, "every creation was refused"
    return sum(accepted)


def _empty(staging) -> None:
    for upload in housekeeping.open_uploads(staging):
        (staging / upload.upload_id).unlink()
        (staging / f"{upload.upload_id}.meta").unlink()


def test_hold_quota_under_parallel_creations_on_two_apps_sharing_a_data_dir(data_dir):
    """Two apps on one data dir behind two uvicorns, as two servers: 12 creations of 1 MB at once
    against a 3 MB quota, a few rounds. Checking, then creating, let up to 12 through."""
    from api.app import create_app
    from tests.support.servers import serve

    settings = Settings(data_dir=data_dir, workers=0, upload_quota_mb=3, max_upload_mb=2)
    one, other = create_app(settings), create_app(settings, migrate=False)
    ada = make_person(one, "author")
    staging = housekeeping.upload_dirs(settings).staging
    lengths = [MB] * 12
    try:
        with serve(one) as first, serve(other) as second:
            for _ in range(4):  # a race is a matter of timing: several rounds
                held = _held_within(3 * MB, _create_at_once([first, second], ada.auth, lengths), lengths)
                assert housekeeping.open_upload_bytes(staging, ada.id) == held  # the refused left nothing
                _empty(staging)
    finally:
        one.state.database.dispose()
        other.state.database.dispose()


def test_hold_quota_under_parallel_creations_on_dictation_serve_with_two_processes(tmp_path):
    from tests.support.serve import serve

    with serve(tmp_path, DICTATION_WEB_PROCESSES="2", DICTATION_WORKERS="0", DICTATION_UPLOAD_QUOTA_MB="3",
               DICTATION_MAX_UPLOAD_MB="2") as served:
        with httpx.Client(base_url=served.base_url, timeout=30) as http:
            login = http.post("/api/v1/session", json={"email": served.email, "password": served.password})
            token = http.post("/api/v1/tokens", json={"name": "phone"},
                              headers={"X-CSRF-Token": login.json()["csrf_token"]}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        staging = tmp_path / "uploads" / "partial"
        lengths = [MB // 2] * 4 + [MB] * 8  # some fit twice where others fit once
        for _ in range(3):
            held = _held_within(3 * MB, _create_at_once([served.base_url], auth, lengths), lengths)
            assert sum(u.length for u in housekeeping.open_uploads(staging)) == held
            _empty(staging)
