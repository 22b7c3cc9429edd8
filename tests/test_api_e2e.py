"""End to end over real HTTP: a phone uploads each format of the test memos to uvicorn, a real
worker transcribes it (faster-whisper tiny.en; base for French), and the draft holds the
memo's words, its paragraphs and a title. Every format on SQLite with the SQLite queue; the
m4a once more on PostgreSQL with Redis (the format changes nothing there: decoding is the
same code whichever database and queue hold the memo)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import need, shared_file
from tests.support.api import make_person
from tests.support.paragraphs import assert_breaks_like_reference
from tests.support.servers import serve
from tests.support.wer import normalise, word_error_rate

pytestmark = pytest.mark.slow

API = "/api/v1"
EN_FORMATS = ["m4a", "mp3", "ogg", "webm", "3gp"]
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _stack(request, monkeypatch, model: str, language: str):
    """The app with a real worker, on the backend the stack fixture's param names (on the CPU,
    int8: what the paragraph and WER limits were measured on)."""
    from api import create_app
    from dictation import jobs
    from dictation.jobs import WorkerOptions, start_in_process_worker
    from dictation.settings import get_settings

    monkeypatch.setenv("DICTATION_MODEL", model)
    monkeypatch.setenv("DICTATION_LANGUAGE", language)
    monkeypatch.setenv("DICTATION_BEAM_SIZE", "1")  # greedy: the CI machine has 2 shared cores
    monkeypatch.setenv("DICTATION_DEVICE", "cpu")
    if request.param == "postgresql+redis":
        need(redis_answers(), f"Redis does not answer at {REDIS_URL}")
        monkeypatch.setenv("DICTATION_QUEUE_URL", REDIS_URL)
        request.getfixturevalue("pg_db")
    else:
        monkeypatch.delenv("DICTATION_QUEUE_URL", raising=False)
        request.getfixturevalue("db")
    settings = get_settings()
    app = create_app(settings, migrate=False)
    # A queue of its own: tests sharing one Redis must not take each other's jobs.
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    app.state.queue = jobs.make_queue(settings, name)
    worker = start_in_process_worker(settings, workers=1, options=WorkerOptions(queue_name=name))
    return app, worker


@pytest.fixture
def english_stack(request, data_dir, monkeypatch):
    app, worker = _stack(request, monkeypatch, "tiny.en", "en")
    yield app
    worker.stop()
    app.state.queue.flush()
    app.state.database.dispose()


@pytest.fixture(params=["sqlite"])
def french_stack(request, data_dir, monkeypatch):
    app, worker = _stack(request, monkeypatch, "base", "auto")
    yield app
    worker.stop()
    app.state.queue.flush()
    app.state.database.dispose()


@pytest.fixture
def server(request):
    """uvicorn serving whichever stack the test asked for."""
    app = request.getfixturevalue("english_stack" if "english_stack" in request.fixturenames else "french_stack")
    with serve(app) as url:
        yield app, url


def upload_and_wait(base_url: str, person, path, language: str) -> tuple[dict, dict, httpx.Client]:
    http = httpx.Client(base_url=base_url, headers=person.auth, timeout=60)
    with path.open("rb") as handle:
        answer = http.post(f"{API}/memos", files={"file": (path.name, handle)}, data={"language": language},
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    location = answer.headers["location"]
    deadline = time.monotonic() + 600
    seen = set()
    while True:
        memo = http.get(location).json()
        seen.add(memo["status"])
        assert memo["status"] != "failed", memo["error"]
        if memo["status"] == "ready":
            break
        assert time.monotonic() < deadline, f"still {memo['status']} after 10 minutes"
        time.sleep(0.5)
    assert memo["draft_id"] is not None and memo["progress"] == 1.0
    draft = http.get(f"{API}/drafts/{memo['draft_id']}")
    assert draft.status_code == 200 and draft.headers["etag"] == '"1"'
    return memo, draft.json(), http


def check_draft(draft: dict, reference: str, max_wer: float, duration_s: float) -> float:
    wer = word_error_rate(reference, draft["body_markdown"])
    assert wer <= max_wer, f"draft WER {wer:.1%}"
    # Paragraphs: in order along the recording, covering it, and the body is made of them.
    paragraphs = draft["paragraphs"]
    assert paragraphs and paragraphs[0]["start"] < 5 and paragraphs[-1]["end"] > duration_s - 10
    assert all(p["start"] < p["end"] for p in paragraphs)
    assert all(a["end"] <= b["start"] + 0.01 for a, b in zip(paragraphs, paragraphs[1:], strict=False))
    body = normalise(draft["body_markdown"])
    assert all(normalise(p["text"]) in body for p in paragraphs)
    # A title taken from what was said.
    title_words = normalise(draft["title"]).split()
    assert title_words and set(title_words) <= set(body.split())
    assert draft["slug"] and draft["machine_markdown"] == draft["body_markdown"]
    return wer


@pytest.mark.parametrize(("english_stack", "extension"),
                         [("sqlite", extension) for extension in EN_FORMATS] + [("postgresql+redis", "m4a")],
                         indirect=["english_stack"])
def test_upload_english_memo_becomes_ready_draft(english_stack, server, extension):
    app, base_url = server
    audio = shared_file(f"audio/memos/en_mb-us1.{extension}")
    reference = shared_file("audio/memos/en_mb-us1.txt").read_text()
    ada = make_person(app, "author")
    memo, draft, http = upload_and_wait(base_url, ada, audio, "en")
    assert 120 < memo["duration_s"] < 135 and memo["links"]["playback"]
    wer = check_draft(draft, reference, max_wer=0.20, duration_s=memo["duration_s"])
    print(f"en {extension}: draft WER {wer:.1%}")
    if extension == "m4a":  # the paragraphs the executive spoke (blank lines in the reference)
        assert_breaks_like_reference([p["text"] for p in draft["paragraphs"]], reference)
    # The playback copy plays in every browser and seeks (Range).
    part = http.get(memo["links"]["playback"], headers={"Range": "bytes=0-1023"})
    assert part.status_code == 206 and part.headers["content-type"] in ("audio/ogg", "audio/webm")
    original = http.get(memo["links"]["audio"])
    assert original.content == audio.read_bytes()
    # The same recording again (a phone retrying without its key) is the same memo.
    with audio.open("rb") as handle:
        again = http.post(f"{API}/memos", files={"file": (audio.name, handle)})
    assert again.status_code == 200 and again.json()["id"] == memo["id"]
    http.close()


def test_upload_french_memo_with_base_model(french_stack, server):
    app, base_url = server
    audio = shared_file("audio/memos/fr_mb-fr1.m4a")
    reference = shared_file("audio/memos/fr_mb-fr1.txt").read_text()
    ada = make_person(app, "author")
    memo, draft, http = upload_and_wait(base_url, ada, audio, "fr")
    wer = check_draft(draft, reference, max_wer=0.25, duration_s=memo["duration_s"])
    print(f"fr m4a (base): draft WER {wer:.1%}")
    assert_breaks_like_reference([p["text"] for p in draft["paragraphs"]], reference)
    assert memo["language"] == "fr"
    http.close()
