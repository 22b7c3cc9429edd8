"""The whole desk (`review_ui.app`) on a fresh data dir, people signed in over its API, and
waiting on a condition: shared by the tests that drive memos through both doors."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
ERIN = ("erin@example.com", "author", "Erin")
FRED = ("fred@example.com", "author", "Fred")
ALICE = ("alice@example.com", "assistant", "Alice")


def desk_app(data_dir, people=(ERIN,), *, worker: bool = False, **settings):
    """The app with these (email, role, name) people, all with PASSWORD; `settings` override
    Settings (no worker threads or processes unless `worker`)."""
    from dictation import accounts
    from dictation.settings import Settings
    from review_ui.app import create_app

    settings.setdefault("workers", 1 if worker else 0)
    app = create_app(Settings(data_dir=data_dir, **settings), worker=worker)
    with app.state.database.session() as session:
        for email, role, name in people:
            accounts.create_user(session, email, role, password=PASSWORD, name=name)
    return app


def signed_in(app, email: str) -> tuple[TestClient, str]:
    """A client with `email`'s session cookie, and its CSRF token."""
    client = TestClient(app)
    answer = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def wait_for(check, timeout: float = 180.0, what: str = "condition"):
    """`check()`'s first true value, polled; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")
