"""Publishers let go of their HTTP clients: every adapter has close(), and the publish job calls
it whether the CMS took the post or refused it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation import jobs
from dictation.models import Draft, Job, Publication, PublicationStatus, State
from dictation.publish import destinations, job
from dictation.publish import service as publishing
from dictation.publish.cms import PUBLISHERS, Destination, Publisher, get_publisher
from tests.support.dbfixtures import make_draft, make_memo, make_user
from tests.support.webhook import SECRET, Receiver

GHOST_KEY = "6489b5c0d0a1a2b3c4d5e6f7:" + "ab" * 32  # an Admin API key's shape: id:hex secret


@pytest.fixture
def settings_changes():
    return {"publish_backoff_s": 0.05, "publish_max_attempts": 1}


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.mark.parametrize("kind", sorted(PUBLISHERS))
def test_close_releases_client_of_each_publisher(kind, settings):
    destination = Destination(kind=kind, name=kind, url="http://127.0.0.1:9/", user="ed", secret=GHOST_KEY)
    publisher = get_publisher(destination, settings)
    assert isinstance(publisher, Publisher)
    client = getattr(publisher, "client", None)  # WordPress makes its client on first use

    publisher.close()

    assert client is None or client.is_closed


def publish_through_spy(db, settings, queue, monkeypatch, secret: str, url: str) -> tuple[str, list]:
    """Publish a ready draft to a webhook, keeping every publisher the job made."""
    made = []

    def spy(config, settings):
        made.append(get_publisher(config, settings))
        return made[-1]

    monkeypatch.setattr(job, "get_publisher", spy)
    with db.session() as session:
        destinations.add_destination(session, settings, "hook", "webhook", url=url, secret=secret)
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        draft = make_draft(session, memo, slug="")
        publication = publishing.request_publication(
            session, draft, "hook", make_user(session, "assistant"), None, queue=queue
        )
        job_id = session.scalar(select(Job.id).where(Job.publication_id == publication.id))
    return jobs.run_job(job_id, settings, queue), made


def test_publish_job_closes_publisher_after_success(db, settings, queue, monkeypatch, receiver):
    outcome, made = publish_through_spy(db, settings, queue, monkeypatch, SECRET, receiver.url)

    assert outcome == "done" and len(receiver.accepted) == 1
    assert len(made) == 1 and made[0].client.is_closed


def test_publish_job_closes_publisher_after_refusal(db, settings, queue, monkeypatch, receiver):
    # The receiver refuses a wrong signature with 401: a permanent failure.
    outcome, made = publish_through_spy(db, settings, queue, monkeypatch, "not-the-secret", receiver.url)

    assert outcome == "failed" and receiver.rejected == 1
    assert len(made) == 1 and made[0].client.is_closed
    with db.session() as session:
        publication = session.scalar(select(Publication))
        assert publication.status == PublicationStatus.failed
        assert session.get(Draft, publication.draft_id).memo.status == State.failed
