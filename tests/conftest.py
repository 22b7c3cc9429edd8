"""Shared fixtures. `../shared` sits beside the repository root; tests that need it, or a
service, skip with the reason when it is absent, and fail instead under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
IN_CI = os.environ.get("CI", "").lower() == "true"
# The CMS peers and test receivers listen on loopback, which production refuses as a
# destination; tests of that refusal pass allow_private_destinations=False themselves.
os.environ.setdefault("DICTATION_ALLOW_PRIVATE_DESTINATIONS", "true")

# Fixtures every test module may ask for by name, defined once: test modules import helpers,
# never fixtures. Session-scoped ones (the CMS peers) start once per run, not once per module.
pytest_plugins = [
    "tests.support.dbfixtures",
    "tests.support.gaps",
    "tests.support.api",
    "tests.support.doors",
    "tests.support.mail",
    "tests.support.mailin",
    "tests.support.peers",
    "tests.support.browser",
]


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false; under CI=true fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must exercise this, but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def job_kinds() -> None:
    """Tests run jobs without an app or a worker command: plug the kinds in as they do."""
    from dictation.startup import register_job_kinds

    register_job_kinds()


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    need(path.exists(), f"{path} is absent (../shared is laid beside the checkout on CI)")
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data directory, with settings pointed at it."""
    from dictation import settings

    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("DICTATION_DATA_DIR", str(path))
    settings.get_settings.cache_clear()
    yield path
    settings.get_settings.cache_clear()


@pytest.fixture
def settings_changes() -> dict[str, object]:
    """Settings a module changes for its tests, by field name: override this in the module."""
    return {}


@pytest.fixture
def settings(data_dir, monkeypatch, request, settings_changes):
    """The settings of one test: its own data dir, the database of the db fixture it uses,
    tiny.en in English (tests about accuracy load their own model) and the module's
    `settings_changes`. Set in the environment, so code that calls get_settings() agrees."""
    from dictation.settings import get_settings

    for database in ("any_db", "pg_db", "db"):
        if database in request.fixturenames:
            request.getfixturevalue(database)  # it sets DICTATION_DATABASE_URL, read below
            break
    for name, value in {"model": "tiny.en", "language": "en", **settings_changes}.items():
        monkeypatch.setenv(f"DICTATION_{name.upper()}", str(value))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def queue(settings):
    """The test's own job queue (SQLite in its data dir, or DICTATION_QUEUE_URL), with job
    timings short enough for tests that run jobs in the test process."""
    from dictation import jobs

    fast = jobs.JobOptions(backoff_s=0.1, heartbeat_s=0.5, progress_every_s=0.2, stale_after_s=5, lost_after_s=0)
    queue = jobs.make_queue(settings, options=fast)
    yield queue
    jobs.dispose_databases()
