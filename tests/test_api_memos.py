"""Memo uploads and reads over HTTP: streamed, size-limited, sniffed, deduplicated, private."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx
from sqlalchemy import func, select

from dictation.models import Job, Memo, State
from tests.support.api import make_person, sine_wav, upload

API = "/api/v1"


def stored_files(app) -> list:
    return [p for p in app.state.store.root.rglob("*") if p.is_file()] if app.state.store.root.exists() else []


def memo_count(app) -> int:
    with app.state.database.session() as session:
        return session.scalar(select(func.count()).select_from(Memo))


def set_status(app, memo_id: int, status: State) -> None:
    with app.state.database.session() as session:
        session.get(Memo, memo_id).status = status.value


def test_upload_memo_answers_201_with_location_and_queues_it(client, api_app):
    ada = make_person(api_app, "author", "Ada")
    audio = sine_wav(1.0)
    answer = upload(client, audio, ada.auth, title=" Quarterly plan ", priority="high",
                    due_at="2030-01-31T17:00:00+01:00", language="en", note="for the blog")
    assert answer.status_code == 201, answer.text
    memo = answer.json()
    assert answer.headers["location"] == f"{API}/memos/{memo['id']}"
    assert (memo["title"], memo["priority"], memo["language"], memo["note"]) == (
        "Quarterly plan",
        "high",
        "en",
        "for the blog",
    )
    assert memo["due_at"].startswith("2030-01-31T16:00:00")
    assert memo["status"] == "received" and memo["author"]["name"] == "Ada"
    assert memo["content_type"] == "audio/wav" and memo["size_bytes"] == len(audio)
    assert api_app.state.store.path(memo["sha256"]).read_bytes() == audio
    with api_app.state.database.session() as session:
        assert session.scalar(select(Job.status).where(Job.memo_id == memo["id"])) == "queued"
    assert client.get(answer.headers["location"], headers=ada.auth).json()["id"] == memo["id"]


def test_upload_same_idempotency_key_returns_first_memo(client, api_app):
    ada = make_person(api_app, "author")
    key = {"Idempotency-Key": str(uuid.uuid4()), **ada.auth}
    first = upload(client, sine_wav(1.0, 440), key)
    again = upload(client, sine_wav(1.0, 660), key)  # a retry need not even resend the same bytes
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert memo_count(api_app) == 1


def test_upload_same_bytes_from_same_author_returns_first_memo(client, api_app):
    ada, bob = make_person(api_app, "author"), make_person(api_app, "author")
    audio = sine_wav(1.0)
    first = upload(client, audio, ada.auth).json()
    again = upload(client, audio, ada.auth, filename="again.wav")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    theirs = upload(client, audio, bob.auth)  # someone else's memo is their own, even with the same bytes
    assert theirs.status_code == 201 and theirs.json()["id"] != first["id"]
    assert memo_count(api_app) == 2 and len(stored_files(api_app)) == 1


def test_concurrent_duplicate_uploads_make_one_memo(api_server, api_app):
    ada = make_person(api_app, "author")
    headers = {"Idempotency-Key": "phone-retry-1", **ada.auth}
    audio = sine_wav(3.0)

    def send(_):
        with httpx.Client(base_url=api_server, timeout=60) as http:
            return upload(http, audio, headers)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert sorted(a.status_code for a in answers).count(201) == 1
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert memo_count(api_app) == 1


def test_upload_not_audio_gets_415_with_sentence(client, api_app):
    ada = make_person(api_app, "author")
    text = upload(client, b"Dear team,\nplease find the minutes below.\n" * 50, ada.auth, filename="memo.m4a")
    assert text.status_code == 415
    assert text.json()["error"] == "not_audio"
    assert text.json()["message"] == "This file is not audio: it looks like a text file."
    png = upload(client, b"\x89PNG\r\n\x1a\n" + bytes(5000), ada.auth)
    assert png.status_code == 415 and "PNG image" in png.json()["message"]
    empty = upload(client, b"", ada.auth)
    assert empty.status_code == 415 and "empty" in empty.json()["message"]
    assert memo_count(api_app) == 0 and stored_files(api_app) == []


def test_upload_over_limit_gets_413_before_reading(client, api_app, monkeypatch):
    monkeypatch.setattr(api_app.state.settings, "max_upload_mb", 1)
    ada = make_person(api_app, "author")
    answer = upload(client, sine_wav(40.0), ada.auth)  # 1.28 MB
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "too_large",
        "message": "The upload is larger than the limit of 1 MB.",
        "max_bytes": 1048576,
    }
    assert memo_count(api_app) == 0 and stored_files(api_app) == []


def test_upload_over_limit_without_length_stops_streaming_and_deletes_partial(client, api_app, monkeypatch):
    monkeypatch.setattr(api_app.state.settings, "max_upload_mb", 1)
    ada = make_person(api_app, "author")
    audio = sine_wav(60.0)
    boundary = "memo-boundary"

    def body():  # chunked: no Content-Length to refuse it by
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"long.wav\"\r\n"
               "Content-Type: audio/wav\r\n\r\n").encode()
        for start in range(0, len(audio), 64 * 1024):
            yield audio[start:start + 64 * 1024]
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = client.post(f"{API}/memos", content=body(),
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **ada.auth})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    assert memo_count(api_app) == 0 and stored_files(api_app) == []  # no partial file left


def test_upload_without_credentials_gets_401_and_stores_nothing(client, api_app):
    answer = upload(client, sine_wav(0.5))
    assert answer.status_code == 401 and answer.json()["error"] == "not_authenticated"
    assert stored_files(api_app) == []


def test_upload_with_bad_field_gets_422_and_keeps_nothing(client, api_app):
    ada = make_person(api_app, "author")
    answer = upload(client, sine_wav(0.5), ada.auth, priority="whenever")
    assert answer.status_code == 422
    assert answer.json()["message"] == "The priority must be one of normal, high, urgent, not 'whenever'."
    bad_date = upload(client, sine_wav(0.5), ada.auth, due_at="next tuesday")
    assert bad_date.status_code == 422 and "not a date" in bad_date.json()["message"]
    no_file = client.post(f"{API}/memos", data={"title": "x"}, files={"other": ("a.txt", b"x")}, headers=ada.auth)
    assert no_file.status_code == 422
    assert memo_count(api_app) == 0 and stored_files(api_app) == []


def test_author_reading_another_authors_memo_gets_404(client, api_app):
    ada, bob, eve = (make_person(api_app, r) for r in ("author", "author", "assistant"))
    memo = upload(client, sine_wav(0.5), ada.auth).json()
    for path in ("", "/audio", "/playback"):
        answer = client.get(f"{API}/memos/{memo['id']}{path}", headers=bob.auth)
        assert answer.status_code == 404 and answer.json() == {
            "error": "not_found",
            "message": f"There is no memo {memo['id']}.",
        }
    assert client.get(f"{API}/memos", headers=bob.auth).json()["total"] == 0
    assert client.get(f"{API}/memos/{memo['id']}", headers=eve.auth).status_code == 200


def test_list_memos_filters_and_pages(client, api_app):
    ada, bob, eve = (make_person(api_app, r) for r in ("author", "author", "assistant"))
    ids = [upload(client, sine_wav(0.3, 300 + 10 * i), ada.auth, priority=p).json()["id"]
           for i, p in enumerate(["normal", "urgent", "urgent"])]
    upload(client, sine_wav(0.3, 900), bob.auth)
    set_status(api_app, ids[0], State.ready)
    everything = client.get(f"{API}/memos", headers=eve.auth).json()
    assert everything["total"] == 4
    assert [m["id"] for m in client.get(f"{API}/memos?priority=urgent", headers=eve.auth).json()["items"]] == ids[:0:-1]
    assert [m["id"] for m in client.get(f"{API}/memos?status=ready", headers=eve.auth).json()["items"]] == [ids[0]]
    assert client.get(f"{API}/memos?author={ada.id}", headers=eve.auth).json()["total"] == 3
    page = client.get(f"{API}/memos?limit=2&offset=2", headers=eve.auth).json()
    assert (page["total"], len(page["items"]), page["offset"]) == (4, 2, 2)
    assert client.get(f"{API}/memos?status=bogus", headers=eve.auth).status_code == 422


def test_audio_answers_range_requests(client, api_app):
    ada = make_person(api_app, "author")
    audio = sine_wav(1.0)
    memo = upload(client, audio, ada.auth, filename="memo.wav").json()
    whole = client.get(f"{API}/memos/{memo['id']}/audio", headers=ada.auth)
    assert whole.status_code == 200 and whole.content == audio and whole.headers["content-type"] == "audio/wav"
    part = client.get(f"{API}/memos/{memo['id']}/audio", headers={"Range": "bytes=100-199", **ada.auth})
    assert part.status_code == 206 and part.content == audio[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(audio)}"
    missing = client.get(f"{API}/memos/{memo['id']}/playback", headers=ada.auth)
    assert missing.status_code == 404 and "playback copy" in missing.json()["message"]


def test_retry_and_cancel_follow_the_job(client, api_app):
    ada = make_person(api_app, "author")
    memo = upload(client, sine_wav(0.5), ada.auth).json()
    busy = client.post(f"{API}/memos/{memo['id']}/retry", headers=ada.auth)
    assert busy.status_code == 409 and "already queued" in busy.json()["message"]
    cancelled = client.post(f"{API}/memos/{memo['id']}/cancel", headers=ada.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "received"
    nothing = client.post(f"{API}/memos/{memo['id']}/cancel", headers=ada.auth)
    assert nothing.status_code == 409 and "no transcription" in nothing.json()["message"]
    assert client.post(f"{API}/memos/{memo['id']}/retry", headers=ada.auth).status_code == 200
    set_status(api_app, memo["id"], State.ready)
    with api_app.state.database.session() as session:
        session.query(Job).update({"status": "done"})
    refused = client.post(f"{API}/memos/{memo['id']}/retry", headers=ada.auth)
    assert refused.status_code == 409 and refused.json()["error"] == "transition_refused"


def test_delete_memo_own_or_admin_before_publication(client, api_app):
    ada, eve, admin = (make_person(api_app, r) for r in ("author", "assistant", "admin"))
    mine = upload(client, sine_wav(0.5, 500), ada.auth).json()
    other = upload(client, sine_wav(0.5, 700), ada.auth).json()
    refused = client.delete(f"{API}/memos/{mine['id']}", headers=eve.auth)
    assert refused.status_code == 403 and "author or an admin" in refused.json()["message"]
    assert client.delete(f"{API}/memos/{mine['id']}", headers=ada.auth).status_code == 204
    assert client.get(f"{API}/memos/{mine['id']}", headers=ada.auth).status_code == 404
    assert not api_app.state.store.exists(mine["sha256"])
    set_status(api_app, other["id"], State.published)
    published = client.delete(f"{API}/memos/{other['id']}", headers=admin.auth)
    assert published.status_code == 409 and "archive it" in published.json()["message"]
    assert api_app.state.store.exists(other["sha256"])


def test_concurrent_same_bytes_without_key_make_one_memo(api_server, api_app):
    ada = make_person(api_app, "author")
    audio = sine_wav(2.5, 550)

    def send(_):
        with httpx.Client(base_url=api_server, timeout=60) as http:
            return upload(http, audio, ada.auth)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert memo_count(api_app) == 1
