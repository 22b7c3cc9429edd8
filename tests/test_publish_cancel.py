"""A cancel that comes after the post is on the CMS: too late, whichever way it arrives (the
desk's button, a cancel that slipped in just before, a worker stopping or dying meanwhile).
The post is out, so the memo ends published, never 'failed' and never stuck in 'publishing'.
The window is real: the corrections are looked for after the post is out, seconds on a long
memo, so the probes act from inside that step. A cancel left on a job that went back to the
queue (by a stopping worker, a recovery or a retry) is settled when the job is next claimed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from dictation import jobs
from dictation.learning import service as learning
from dictation.learning.tables import Correction
from dictation.models import Draft, Job, Memo, Publication, User
from dictation.publish import job as job_module
from dictation.publish import service as publishing
from dictation.publish.cms.blog import Blog
from dictation.storage import MediaStore
from tests.support.api import make_person, sine_wav
from tests.support.dbfixtures import make_draft, make_memo
from tests.test_learning import spoken

API = "/api/v1"


def _queued_publication(client, api_app, assistant, author) -> tuple[int, int]:
    """(memo id, publish job id) of a memo whose edited draft is queued for the built-in blog."""
    stored = MediaStore(api_app.state.settings.media_dir).save_stream(sine_wav(0.3, freq=311))
    with api_app.state.database.session() as session:
        memo = make_memo(session, session.get_one(User, author.id), status="in_review", language="en",
                         transcript=spoken("the blood is live and the plan is good").to_dict(),
                         playback_sha256=stored.sha256, media_sha256=stored.sha256)
        draft = make_draft(session, memo, title="Post", body_markdown="The blog is live and the plan is good.")
        draft_id, memo_id = draft.id, memo.id
    assert client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers=assistant.auth).status_code == 202
    with api_app.state.database.session() as session:
        return memo_id, session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH, Job.memo_id == memo_id))


def _published_once(api_app, memo_id: int) -> None:
    with api_app.state.database.session() as session:
        assert session.get_one(Memo, memo_id).status == "published"
        publication = session.scalars(select(Publication).join(Draft, Draft.id == Publication.draft_id)
                                      .where(Draft.memo_id == memo_id)).one()
        assert publication.status == "published" and publication.remote_id
        assert session.scalars(select(Correction.written).where(Correction.memo_id == memo_id)).all() == ["blog"]
    # One entry on the built-in blog, however many runs the job took.
    assert [entry.title for entry in Blog(api_app.state.settings).entries()] == ["Post"]


def _ask_cancel_directly(api_app, job_id: int) -> None:
    """What a cancel that read the job just before the remote id was stored leaves behind."""
    with api_app.state.database.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))


@pytest.fixture
def people(api_app):
    return make_person(api_app, "assistant"), make_person(api_app, "author")


def test_cancel_after_post_is_out_refused(client, api_app, people, monkeypatch):
    assistant, author = people
    answers = []
    real = learning.substitutions

    def cancel_meanwhile(heard, published):
        answer = client.post(f"{API}/memos/{memo_id}/cancel", headers=assistant.auth)
        answers.append((answer.status_code, answer.json()["message"]))
        return real(heard, published)

    monkeypatch.setattr(learning, "substitutions", cancel_meanwhile)
    memo_id, job_id = _queued_publication(client, api_app, assistant, author)
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "done"
    (status, message), = answers
    assert status == 409 and message.startswith("The post is already on blog: it is too late to cancel")
    _published_once(api_app, memo_id)


def test_cancel_slipped_in_then_worker_stops_finishes_on_next_run(client, api_app, people, monkeypatch):
    assistant, author = people
    queue = jobs.make_queue(api_app.state.settings)
    queue.stopping = threading.Event()
    real = learning.substitutions

    def cancel_and_stop(heard, published):
        _ask_cancel_directly(api_app, job_id)
        queue.stopping.set()  # a deploy stops the worker in the same seconds
        return real(heard, published)

    monkeypatch.setattr(learning, "substitutions", cancel_and_stop)
    memo_id, job_id = _queued_publication(client, api_app, assistant, author)
    assert jobs.run_job(job_id, api_app.state.settings, queue) == "queued"
    monkeypatch.setattr(learning, "substitutions", real)
    queue.stopping.clear()
    # The next run starts over (a new claim, the stage reset): a cancel before it posts again is
    # still too late, since the post went out on the first run.
    answers = []
    real_publish = job_module.publish_with_retries

    def cancel_first(*args, **kwargs):
        answers.append(client.post(f"{API}/memos/{memo_id}/cancel", headers=assistant.auth).status_code)
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(job_module, "publish_with_retries", cancel_first)
    assert jobs.run_job(job_id, api_app.state.settings, queue) == "done"
    assert answers == [409]
    _published_once(api_app, memo_id)


def test_cancel_left_on_queued_job_settles_at_claim(client, api_app, people):
    """A worker stopping before it saw a cancel hands the job back with the cancel asked: the
    next claim cancels it (the publication is withdrawn), rather than no worker ever taking it."""
    assistant, author = people
    memo_id, job_id = _queued_publication(client, api_app, assistant, author)
    _ask_cancel_directly(api_app, job_id)
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "cancelled"
    with api_app.state.database.session() as session:
        assert session.get_one(Memo, memo_id).status == "ready"
        assert session.scalars(select(Publication.status).join(Draft, Draft.id == Publication.draft_id)
                               .where(Draft.memo_id == memo_id)).one() == "cancelled"
    assert Blog(api_app.state.settings).entries() == []


def test_cancel_slipped_in_then_worker_dies_recovery_finishes(client, api_app, people, monkeypatch):
    assistant, author = people
    queue = jobs.make_queue(api_app.state.settings)
    real = learning.substitutions

    def cancel_and_die(heard, published):
        _ask_cancel_directly(api_app, job_id)
        raise SystemExit("the worker process is killed")  # nothing of the runner's handling runs

    monkeypatch.setattr(learning, "substitutions", cancel_and_die)
    memo_id, job_id = _queued_publication(client, api_app, assistant, author)
    with pytest.raises(SystemExit):
        jobs.run_job(job_id, api_app.state.settings, queue)
    with api_app.state.database.session() as session:
        assert jobs.recover_stale_jobs(session, stale_after_s=0, queue=queue) == [job_id]  # not cancelled
    with api_app.state.database.session() as session:
        assert session.get_one(Job, job_id).status == "queued"
    monkeypatch.setattr(learning, "substitutions", real)
    assert jobs.run_job(job_id, api_app.state.settings, queue) == "done"
    _published_once(api_app, memo_id)
