"""Prometheus metrics: what each process counts (jobs, transcription speed, publications, HTTP
requests) and what the database says at scrape time (memos by state, queue depth and age).

Processes that fork workers (`dictation worker --workers N`) count in prometheus-client's
multiprocess mode: each process writes its own file in PROMETHEUS_MULTIPROC_DIR and a scrape
adds them up. `enable_multiprocess` switches this process over before any value is counted.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, or_, select

from dictation.db import Database, utcnow
from dictation.models import Job, JobStatus, Memo, State

__all__ = ["CONTENT_TYPE_LATEST", "enable_multiprocess", "http_request", "job_finished", "publish_tried",
           "render", "serve_on_port", "transcribed"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

JOB_SECONDS = Histogram(
    "dictation_job_duration_seconds", "Wall time of one job run, by kind and outcome.", ["kind", "outcome"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
JOB_FAILURES = Counter("dictation_job_failures_total", "Job runs that failed for good, by kind.", ["kind"])
# Processing time over audio time: 0.1 means a minute of memo took six seconds.
TRANSCRIPTION_RTF = Histogram(
    "dictation_transcription_real_time_factor", "Transcription wall time divided by the memo's duration, by model.",
    ["model", "device"], buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
PUBLISH_ATTEMPTS = Counter("dictation_publish_attempts_total", "Requests to publish a post, by destination.",
                           ["destination"])
PUBLISH_FAILURES = Counter("dictation_publish_failures_total", "Publish attempts that failed, by destination.",
                           ["destination"])
HTTP_SECONDS = Histogram(
    "dictation_http_request_duration_seconds", "HTTP request latency by route template, method and status.",
    ["method", "route", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def job_finished(kind: str, outcome: str, seconds: float) -> None:
    JOB_SECONDS.labels(kind, outcome).observe(seconds)
    if outcome == JobStatus.failed.value:
        JOB_FAILURES.labels(kind).inc()


def transcribed(model: str, device: str, audio_s: float, wall_s: float) -> None:
    if audio_s > 0:
        TRANSCRIPTION_RTF.labels(model, device).observe(wall_s / audio_s)


def publish_tried(destination: str, attempts: int, failures: int) -> None:
    PUBLISH_ATTEMPTS.labels(destination).inc(attempts)
    if failures:
        PUBLISH_FAILURES.labels(destination).inc(failures)


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)


class DatabaseCollector:
    """Gauges read from the tables at scrape time: the database is the truth for every worker."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self):
        now = utcnow()
        memos = GaugeMetricFamily("dictation_memos", "Memos by workflow state.", labels=["state"])
        depth = GaugeMetricFamily("dictation_queue_depth", "Jobs waiting for a worker, by kind.", labels=["kind"])
        age = GaugeMetricFamily("dictation_queue_oldest_age_seconds",
                                "How long the oldest job waiting for a worker has waited, by kind.", labels=["kind"])
        with self.database.session() as session:
            counts = dict(session.execute(select(Memo.status, func.count()).group_by(Memo.status)).all())
            due = func.coalesce(Job.run_at, Job.created_at)
            waiting = session.execute(
                select(Job.kind, func.count(), func.min(due))
                .where(Job.status == JobStatus.queued.value, or_(Job.run_at.is_(None), Job.run_at <= now))
                .group_by(Job.kind)
            ).all()
        for state in State:  # every state, zeros included: a dashboard's lines do not vanish
            memos.add_metric([state.value], counts.get(state.value, 0))
        for kind, count, oldest in waiting:
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)  # SQLite's MIN() skips the column type
            depth.add_metric([kind], count)
            age.add_metric([kind], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield from (memos, depth, age)


class _ProcessCollector:
    """This process's counters, or every process's when they count in multiprocess mode."""

    def __init__(self) -> None:
        self.registry: object = REGISTRY
        if os.environ.get(MULTIPROC_ENV):
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry)

    def collect(self):
        return self.registry.collect()


def registry_for(database: Database | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessCollector())
    if database is not None:
        registry.register(DatabaseCollector(database))
    return registry


def render(database: Database | None) -> bytes:
    """The exposition text of a scrape."""
    return generate_latest(registry_for(database))


def enable_multiprocess(directory: Path | None = None) -> Path:
    """Count in files under `directory` (a fresh private one by default), shared with the worker
    processes this one forks. Call before anything is counted."""
    if os.environ.get(MULTIPROC_ENV):
        return Path(os.environ[MULTIPROC_ENV])
    directory = Path(directory or tempfile.mkdtemp(prefix="dictation-metrics-"))
    if directory.exists():
        shutil.rmtree(directory)  # counts of an earlier run would be added to this one's
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # prometheus-client reads the variable at import
    return directory


def serve_on_port(port: int, database: Database | None = None, host: str = "0.0.0.0"):
    """Metrics on a port of their own (`DICTATION_METRICS_PORT`); returns the server."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=registry_for(database))
    return server
