"""Fixtures for the API tests: the app on SQLite and on PostgreSQL, people with passwords
and tokens, the API behind a real uvicorn (`api_server`), and small real recordings.

The fixtures are a plugin (tests/conftest.py); import the helpers by name.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
import wave
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.servers import serve

PASSWORD = "correct horse battery"
MACHINE = "we ship on friday\n\nthanks everyone"  # the words of make_ready_draft's drafts
_people = itertools.count(1)


@dataclass
class Person:
    id: int
    email: str
    role: str
    token: str  # a personal API token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_person(app, role: str, name: str = "") -> Person:
    """A user with the password PASSWORD and one API token, made through dictation.accounts."""
    from dictation import accounts

    n = next(_people)
    with app.state.database.session() as session:
        user = accounts.create_user(session, f"{role}{n}@example.test", role, PASSWORD, name or f"{role.title()} {n}")
        _, token = accounts.create_token(session, user, "tests")
        return Person(user.id, user.email, user.role, token)


@pytest.fixture
def api_app(any_db):
    """The API on a fresh database, once on SQLite and once on PostgreSQL."""
    from api import create_app
    from dictation.settings import get_settings

    # dbfixtures made the tables already; test_api_session checks create_app's own migration.
    app = create_app(get_settings(), migrate=False)
    yield app
    app.state.database.dispose()


@pytest.fixture
def client(api_app):
    with TestClient(api_app, base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def api_server(api_app):
    """The app behind a real uvicorn on a free loopback port; yields its base URL."""
    with serve(api_app) as url:
        yield url


def make_ready_draft(app, author, **memo_fields) -> int:
    """A memo by `author` (a Person) with a draft of MACHINE, ready for review; its draft id."""
    from dictation.models import User
    from tests.support.dbfixtures import make_draft, make_memo

    with app.state.database.session() as session:
        memo = make_memo(
            session, session.get(User, author.id), status=memo_fields.pop("status", "ready"), **memo_fields
        )
        draft = make_draft(session, memo, body_markdown=MACHINE, machine_markdown=MACHINE,
                           paragraphs=[{"text": "we ship on friday", "start": 0.0, "end": 2.1}])
        return draft.id


def sine_wav(seconds: float = 1.0, freq: float = 440.0, rate: int = 16_000) -> bytes:
    """A real 16-bit mono WAV recording of a tone (different `freq`, different bytes)."""
    frames = b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def upload(http: TestClient | httpx.Client, data: bytes, headers: dict | None = None,
           filename: str = "memo.wav", **fields) -> httpx.Response:
    return http.post(
        "/api/v1/memos", files={"file": (filename, data, "audio/wav")},
        data={k: str(v) for k, v in fields.items()}, headers=headers or {},
    )
