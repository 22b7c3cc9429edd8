"""Structured logs: JSON lines carrying the request id of an HTTP request (X-Request-ID in and
out), the same id on the job that request queued and on every line the worker writes for it,
with the memo and job ids; plain text on a terminal; secrets never written."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dictation import accounts, jobs
from dictation.models import Job
from dictation.settings import Settings
from dictation.telemetry.logs import Redactor, configure_logging
from tests.conftest import shared_file

SECRET_KEY = "s3cret-key-of-this-installation-0123456789"
SMTP_PASSWORD = "smtp-password-never-logged"


@pytest.fixture
def captured():
    """configure_logging into a buffer; removed afterwards so other tests log as before."""
    stream = io.StringIO()
    handlers: list[logging.Handler] = []

    def start(settings: Settings) -> io.StringIO:
        handlers.append(configure_logging(settings, stream=stream))
        return stream

    yield start
    root = logging.getLogger()
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_log_request_id_on_request_lines_and_worker_lines_of_its_job(db, data_dir, captured):
    from review_ui.app import create_app

    settings = Settings(data_dir=data_dir, model="tiny.en", language="en", beam_size=1, cpu_threads=1, workers=0,
                        log_format="json", secret_key=SECRET_KEY)
    app = create_app(settings)

    @app.get("/test-logs")  # a route that logs, so the request's own lines can be checked
    def noisy() -> dict:
        logging.getLogger("dictation.test").info("inside the request")
        logging.getLogger("dictation.test").warning("still inside")
        return {}

    with app.state.database.session() as session:
        user = accounts.create_user(session, "ceo@example.test", "author", "a long password", "CEO")
        token = accounts.create_token(session, user, "phone")[1]
    stream = captured(settings)
    client = TestClient(app)

    answer = client.get("/test-logs", headers={"X-Request-ID": "req-noisy-1"})
    assert answer.headers["X-Request-ID"] == "req-noisy-1"
    inside = [line for line in lines(stream) if line["logger"] == "dictation.test"]
    assert len(inside) == 2 and all(line["request_id"] == "req-noisy-1" for line in inside)
    fresh = client.get("/test-logs", headers={"X-Request-ID": "not a plain id; " * 10}).headers["X-Request-ID"]
    assert len(fresh) == 32 and " " not in fresh  # a made-up id is replaced, never echoed
    assert client.get("/healthz").headers["X-Request-ID"]  # every answer has one

    with shared_file("audio/real/jfk.flac").open("rb") as handle:
        upload = client.post("/api/v1/memos", files={"file": ("jfk.flac", handle)},
                             headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-upload-7"})
    assert upload.status_code in (200, 201), upload.text
    memo_id = upload.json()["id"]
    with app.state.database.session() as session:
        job = session.scalar(select(Job).where(Job.memo_id == memo_id))
    assert job.request_id == "req-upload-7"

    stream.seek(0)
    stream.truncate()
    assert jobs.run_job(job.id, settings, jobs.make_queue(settings)) == "done"
    worker_lines = lines(stream)
    assert worker_lines, "the worker wrote nothing while transcribing"
    assert all(line.get("job_id") == job.id and line.get("memo_id") == memo_id
               and line.get("request_id") == "req-upload-7" for line in worker_lines), worker_lines
    assert token not in stream.getvalue() and SECRET_KEY not in stream.getvalue()
    app.state.database.dispose()
    jobs.dispose_databases()


def test_log_never_writes_secrets(captured, data_dir):
    settings = Settings(data_dir=data_dir, log_format="json", secret_key=SECRET_KEY, smtp_password=SMTP_PASSWORD)
    stream = captured(settings)
    log = logging.getLogger("dictation.test")
    api_token = "dd_Zq8v1Yt5pLw2Xk9RmA3sN7"
    log.warning("signing in with %s and %s", SECRET_KEY, SMTP_PASSWORD)
    log.warning("Authorization: Bearer %s", api_token)
    log.warning("connecting to postgresql+psycopg://dictation:pg-pass-123@db/dictation")
    log.warning("form body password=hunter2hunter2&email=a@b.c")
    try:
        raise RuntimeError(f"the CMS refused the secret {SMTP_PASSWORD} for token {api_token}")
    except RuntimeError:
        log.exception("publishing failed")
    text = stream.getvalue()
    for secret in (SECRET_KEY, SMTP_PASSWORD, api_token, "pg-pass-123", "hunter2hunter2"):
        assert secret not in text, secret
    assert "publishing failed" in text and "RuntimeError" in text  # the rest of the line stays
    assert "postgresql+psycopg://dictation:***@db/dictation" in text


def test_log_plain_text_on_terminal_json_elsewhere(data_dir):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    settings = Settings(data_dir=data_dir)  # log_format auto
    root = logging.getLogger()
    for stream, is_json in ((Terminal(), False), (io.StringIO(), True)):
        handler = configure_logging(settings, stream=stream)
        try:
            logging.getLogger("dictation.test").warning("a line")
        finally:
            root.removeHandler(handler)
        first = stream.getvalue().splitlines()[0]
        assert first.startswith("{") is is_json, first
        if not is_json:
            assert "WARNING" in first and "dictation.test: a line" in first


def test_redact_keeps_ordinary_words():
    redact = Redactor(["short", None, "a-long-secret-value"])
    assert redact("short words stay; a-long-secret-value goes") == "short words stay; *** goes"


def test_log_job_id_on_queue_lines_around_the_job(captured, data_dir):
    """Huey's own "Executing …" line comes before the job's context: the id is read off its task."""
    from dictation import jobs

    settings = Settings(data_dir=data_dir, log_format="json")
    stream = captured(settings)
    queue = jobs.make_queue(settings)
    logging.getLogger("huey").info("Executing %s", queue.run_job_task.s(42))
    logging.getLogger("huey").info("Scheduler runs every %s second(s).", 1)
    first, second = lines(stream)
    assert first["job_id"] == 42 and "job_id" not in second
