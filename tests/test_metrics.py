"""Prometheus metrics: a real memo through the real app (tiny.en transcription, the built-in
blog), then each family scraped from /metrics has moved; a `dictation worker` with two forked
processes exports its counts on a port of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from dictation import accounts, jobs
from dictation.models import Job, JobStatus, Memo
from dictation.publish import destinations
from dictation.settings import Settings
from dictation.storage import MediaStore
from tests.conftest import ROOT, shared_file
from tests.support.servers import free_port

TOKEN = "metrics-token-for-the-scraper"


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def app_and_people(db, data_dir):
    from review_ui.app import create_app

    settings = Settings(data_dir=data_dir, model="tiny.en", language="en", beam_size=1, cpu_threads=1, workers=0,
                        metrics_token=TOKEN, publish_max_attempts=2, publish_backoff_s=0.01, publish_timeout_s=2)
    app = create_app(settings)
    with app.state.database.session() as session:
        people = {}
        for role in ("author", "assistant", "admin"):
            user = accounts.create_user(session, f"{role}@example.test", role, "a long password", role.title())
            people[role] = {"Authorization": f"Bearer {accounts.create_token(session, user, 'tests')[1]}"}
    yield app, settings, people
    app.state.database.dispose()
    jobs.dispose_databases()


def _run_queued(app, settings, kind: str) -> str:
    with app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == kind, Job.status == JobStatus.queued.value)
                                .order_by(Job.id))
    return jobs.run_job(job_id, settings, jobs.make_queue(settings))


def _draft_in_review(app, title: str) -> int:
    from tests.support.dbfixtures import make_draft, make_memo, make_user

    with app.state.database.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        return make_draft(session, memo, title=title, slug="").id


def test_scrape_metrics_every_family_moves_when_memo_processed(app_and_people):
    app, settings, people = app_and_people
    client = TestClient(app)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    before = scrape(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)

    jfk = shared_file("audio/real/jfk.flac")
    with jfk.open("rb") as handle:
        answer = client.post("/api/v1/memos", files={"file": ("jfk.flac", handle)}, headers=people["author"])
    assert answer.status_code in (200, 201), answer.text
    memo_id = answer.json()["id"]
    waiting = scrape(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    assert value(waiting, "dictation_queue_depth", kind="process") == 1
    assert value(waiting, "dictation_queue_oldest_age_seconds", kind="process") >= 0
    assert value(waiting, "dictation_memos", state="received") == value(before, "dictation_memos", state="received") + 1

    assert _run_queued(app, settings, "process") == "done"
    assert client.get(f"/api/v1/memos/{memo_id}", headers=people["author"]).json()["status"] == "ready"

    # A second memo whose recording vanished from the store: a job that fails for good.
    with shared_file("audio/real/pv_test.wav").open("rb") as handle:
        second = client.post("/api/v1/memos", files={"file": ("pv.wav", handle)}, headers=people["author"]).json()
    with app.state.database.session() as session:
        MediaStore(settings.media_dir).delete(session.get(Memo, second["id"]).media_sha256)
    assert _run_queued(app, settings, "process") == "failed"

    # Publish one draft to the built-in blog (works) and one to a webhook on a closed port (both
    # attempts refused).
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with app.state.database.session() as session:
        destinations.add_destination(session, settings, "hook", "webhook", url=closed, secret="webhook-secret-1")
    for target in ("blog", "hook"):
        draft_id = _draft_in_review(app, f"Post for {target}")
        started = client.post(f"/api/v1/drafts/{draft_id}/publish", json={"destination": target},
                              headers=people["assistant"])
        assert started.status_code == 202, started.text
        assert _run_queued(app, settings, "publish") == ("done" if target == "blog" else "failed")
    after = scrape(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)

    assert value(after, "dictation_queue_depth", kind="process") == 0
    assert value(after, "dictation_memos", state="ready") >= value(before, "dictation_memos", state="ready") + 1
    assert value(after, "dictation_memos", state="failed") >= value(before, "dictation_memos", state="failed") + 1
    moved = {
        "job duration (process, done)": ("dictation_job_duration_seconds_count",
                                         {"kind": "process", "outcome": "done"}),
        "job failures (process)": ("dictation_job_failures_total", {"kind": "process"}),
        "job duration (publish)": ("dictation_job_duration_seconds_count", {"kind": "publish", "outcome": "done"}),
        "real-time factor (tiny.en)": ("dictation_transcription_real_time_factor_count",
                                       {"model": "tiny.en", "device": "cpu"}),
        "publish attempts (blog)": ("dictation_publish_attempts_total", {"destination": "blog"}),
        "publish attempts (hook)": ("dictation_publish_attempts_total", {"destination": "hook"}),
        "publish failures (hook)": ("dictation_publish_failures_total", {"destination": "hook"}),
        "upload latency by route": ("dictation_http_request_duration_seconds_count",
                                    {"method": "POST", "route": "/api/v1/memos", "status": "201"}),
        "memo latency by route template": ("dictation_http_request_duration_seconds_count",
                                           {"method": "GET", "route": "/api/v1/memos/{memo_id}", "status": "200"}),
    }
    still = [what for what, (name, labels) in moved.items()
             if value(after, name, **labels) <= value(before, name, **labels)]
    assert not still, f"these did not move: {still}"
    assert value(after, "dictation_publish_failures_total", destination="hook") - value(
        before, "dictation_publish_failures_total", destination="hook") == 2  # both attempts refused
    rtf = value(after, "dictation_transcription_real_time_factor_sum", model="tiny.en", device="cpu")
    assert 0 < rtf < 5
    # Raw paths never become series: one template per route, whatever the ids.
    assert not [key for key in after if f"/api/v1/memos/{memo_id}" in str(key)]


def test_refuse_metrics_without_token_setting(db, data_dir):
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0))
    answer = TestClient(app).get("/metrics", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 404 and "DICTATION_METRICS_TOKEN" in answer.json()["message"]
    app.state.database.dispose()


def test_export_worker_process_metrics_on_own_port(db, data_dir):
    """`dictation worker --workers 2` forks two processes: their counts add up on one port."""
    from dictation.memos import processing
    from dictation.migrations import upgrade
    from tests.support.dbfixtures import make_memo, make_user

    upgrade(db)
    settings = Settings(data_dir=data_dir)
    stored = MediaStore(settings.media_dir).save_stream(shared_file("audio/real/jfk.flac").read_bytes())
    with db.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="received", media_sha256=stored.sha256)
        processing.enqueue_processing(session, memo, jobs.make_queue(settings))
        memo_id = memo.id
    port = free_port()
    env = {**os.environ, "DICTATION_DATA_DIR": str(data_dir), "DICTATION_MODEL": "tiny.en",
           "DICTATION_LANGUAGE": "en", "DICTATION_CPU_THREADS": "1", "DICTATION_METRICS_PORT": str(port),
           "DICTATION_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen([sys.executable, "-m", "dictation", "worker", "--workers", "2"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            with db.session() as session:
                status = session.get(Memo, memo_id).status
            if status == "ready":
                break
            assert status != "failed" and worker.poll() is None and time.monotonic() < deadline, status
            time.sleep(0.5)
        samples = scrape(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=60)[0]
    assert value(samples, "dictation_job_duration_seconds_count", kind="process", outcome="done") == 1, output[-2000:]
    assert value(samples, "dictation_transcription_real_time_factor_count", model="tiny.en", device="cpu") == 1
