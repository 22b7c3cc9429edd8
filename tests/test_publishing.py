"""Publication jobs: a draft goes out through the queue to the built-in blog, a real
WordPress, or a webhook receiver; the remote id is kept; retries never make a second post."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select, update

from dictation import jobs
from dictation.db import utcnow
from dictation.errors import Forbidden, TransitionRefused
from dictation.models import AuditEntry, Destination, Draft, Job, Memo, Publication, State
from dictation.publish import destinations
from dictation.publish import service as publishing
from dictation.publish.cms.blog import render_blog_path
from tests.support.dbfixtures import make_draft, make_memo, make_user
from tests.support.webhook import SECRET, Receiver

FAST = jobs.JobOptions(backoff_s=0.1, heartbeat_s=0.5, progress_every_s=0.2, stale_after_s=5, lost_after_s=0)


@pytest.fixture
def settings_changes():
    return {"publish_backoff_s": 0.05, "publish_max_attempts": 2}


@pytest.fixture
def queue(db, settings):
    queue = jobs.make_queue(settings, options=FAST)
    yield queue
    jobs.dispose_databases()


def ready_draft(db, title="Why we write to customers", body="We now write **every month**.") -> tuple[int, int]:
    with db.session() as session:
        assistant = make_user(session, "assistant")
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        draft = make_draft(session, memo, title=title, body_markdown=body, slug="", tags=["news"])
        return draft.id, assistant.id


def publish(db, settings, queue, draft_id, user_id, destination=None, publish_at=None) -> int:
    """Ask for the publication, run its job here, return the job id."""
    from dictation.models import User

    with db.session() as session:
        publication = publishing.request_publication(
            session, session.get(Draft, draft_id), destination, session.get(User, user_id), publish_at, queue=queue)
        job_id = session.scalar(select(Job.id).where(Job.publication_id == publication.id)
                                .order_by(Job.id.desc()).limit(1))
    if publish_at is None:
        jobs.run_job(job_id, settings, queue)
    return job_id


def state_of(db, draft_id) -> tuple[str, Publication]:
    with db.session() as session:
        draft = session.get(Draft, draft_id)
        publication = session.scalar(select(Publication).where(Publication.draft_id == draft_id))
        publication.destination  # noqa: B018 (loaded inside the session)
        return draft.memo.status, publication


def test_publish_draft_to_builtin_blog_marks_memo_published(db, settings, queue):
    draft_id, user_id = ready_draft(db)
    job_id = publish(db, settings, queue, draft_id, user_id)

    status, publication = state_of(db, draft_id)
    assert status == State.published
    assert publication.status == "published" and publication.remote_id and publication.remote_url
    assert publication.destination.name == destinations.BUILTIN_BLOG
    code, _, page = render_blog_path("", settings)
    assert code == 200 and b"Why we write to customers" in page
    with db.session() as session:
        actions = session.scalars(select(AuditEntry.to_state).order_by(AuditEntry.id)).all()
        assert actions[-3:] == ["scheduled", "publishing", "published"]
        assert session.get(Job, job_id).status == "done"


def test_publish_again_after_edit_updates_same_post(db, settings, queue):
    draft_id, user_id = ready_draft(db)
    publish(db, settings, queue, draft_id, user_id)
    _, first = state_of(db, draft_id)
    with db.session() as session:
        session.execute(update(Draft).where(Draft.id == draft_id).values(body_markdown="A corrected line.", version=2))
    publish(db, settings, queue, draft_id, user_id)

    status, again = state_of(db, draft_id)
    assert status == State.published and again.id == first.id and again.remote_id == first.remote_id
    assert again.published_version == 2
    _, _, post_page = render_blog_path(f"{first.remote_id}/", settings)
    assert b"A corrected line." in post_page and b"every month" not in post_page


def test_schedule_publication_waits_for_its_time_across_restart(db, settings, queue):
    draft_id, user_id = ready_draft(db)
    when = utcnow() + dt.timedelta(hours=2)
    job_id = publish(db, settings, queue, draft_id, user_id, publish_at=when)

    status, publication = state_of(db, draft_id)
    assert status == State.scheduled and publication.status == "scheduled"
    assert abs((publication.publish_at - when).total_seconds()) < 1
    # A restart: a new queue object on the same SQLite file still holds the scheduled job.
    restarted = jobs.make_queue(settings, options=FAST)
    assert job_id in jobs.queued_job_ids(restarted)
    assert render_blog_path("", settings)[2].count(b"Why we write") == 0

    # The queue lost it (a Redis restart): once its time has passed, recovery sends it again.
    restarted.flush()
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow() - dt.timedelta(seconds=1),
                                                                    created_at=utcnow() - dt.timedelta(minutes=5)))
        assert job_id in jobs.recover_stale_jobs(session, queue=restarted)
    assert jobs.run_job(job_id, settings, restarted) == "done"
    assert state_of(db, draft_id)[0] == State.published


def test_publish_refused_before_draft_ready_or_by_author(db, settings, queue):
    with db.session() as session:
        author = make_user(session, "author")
        memo = make_memo(session, author, status="transcribing")
        draft = make_draft(session, memo)
        with pytest.raises(TransitionRefused, match="ready"):
            publishing.request_publication(session, draft, None, make_user(session, "assistant"), queue=queue)
        memo.status = "in_review"
        with pytest.raises(Forbidden):
            publishing.request_publication(session, draft, None, author, queue=queue)


def test_publishable_refusal_names_the_state(db):
    with db.session() as session:
        author = make_user(session, "author")
        for state in State:
            refusal = publishing.publishable_refusal(make_memo(session, author, status=state))
            if state in publishing.PUBLISHABLE:
                assert refusal is None, state
            else:
                assert isinstance(refusal, TransitionRefused), state
                assert refusal.detail == {"reason": "not_publishable", "state": state.value}


def test_published_url_is_the_first_live_post(db):
    with db.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="published")
        assert publishing.published_url(memo) is None  # no draft yet
        draft = make_draft(session, memo)
        blog = destinations.ensure_builtin_blog(session)
        hooks = [Destination(name=f"hook{n}", kind="webhook", url="https://hooks.example.test/",
                            options={}) for n in range(3)]
        session.add_all(hooks)
        session.flush()
        rows = [
            Publication(draft_id=draft.id, destination_id=blog.id, status="unpublished", remote_url="https://a/"),
            Publication(draft_id=draft.id, destination_id=hooks[0].id, status="published", remote_url=None),
            Publication(draft_id=draft.id, destination_id=hooks[1].id, status="published", remote_url="https://b/"),
            Publication(draft_id=draft.id, destination_id=hooks[2].id, status="published", remote_url="https://c/"),
        ]
        session.add_all(rows)
        session.flush()
        session.refresh(draft, ["publications"])
        assert publishing.published_url(memo) == "https://b/"
        assert publishing.live_url(rows[:2]) is None


def test_publish_failure_keeps_reason_and_retry_succeeds(db, settings, queue):
    receiver = Receiver(fail_first=2)  # answers 503 twice: both attempts of the first run fail
    try:
        with db.session() as session:
            destinations.add_destination(session, settings, "hook", "webhook", url=receiver.url, secret=SECRET)
        draft_id, user_id = ready_draft(db)
        job_id = publish(db, settings, queue, draft_id, user_id, destination="hook")
        status, publication = state_of(db, draft_id)
        assert status == State.failed and publication.status == "failed"
        with db.session() as session:
            assert "503" in session.get(Memo, session.get(Draft, draft_id).memo_id).error
            assert session.get(Job, job_id).status == "failed"

        from dictation.models import User

        with db.session() as session:
            memo = session.get(Draft, draft_id).memo
            publishing.retry_publication(session, memo, session.get(User, user_id), queue=queue)
            retry_job = session.scalar(select(Job.id).where(Job.memo_id == memo.id).order_by(Job.id.desc()))
        assert jobs.run_job(retry_job, settings, queue) == "done"
        assert state_of(db, draft_id)[0] == State.published
        assert len(receiver.accepted) == 1
    finally:
        receiver.close()


@pytest.mark.peers
def test_publish_job_after_unanswered_attempt_makes_one_wordpress_post(db, settings, queue, wordpress_peer):
    with db.session() as session:
        destinations.add_destination(session, settings, "wp", "wordpress", url=wordpress_peer["WP_BASE_URL"],
                                     user=wordpress_peer["WP_USER"], secret=wordpress_peer["WP_APP_PASSWORD"])
    draft_id, user_id = ready_draft(db, title="One post only, whatever happens")
    publish(db, settings, queue, draft_id, user_id, destination="wp")
    _, first = state_of(db, draft_id)
    assert first.status == "published" and first.remote_id

    # A run that reached WordPress but died before storing the id: the next one must find it.
    with db.session() as session:
        session.execute(update(Publication).where(Publication.id == first.id)
                        .values(remote_id=None, remote_url=None, maybe_created=True))
    publish(db, settings, queue, draft_id, user_id, destination="wp")
    _, again = state_of(db, draft_id)
    assert again.remote_id == first.remote_id

    auth = (wordpress_peer["WP_USER"], wordpress_peer["WP_APP_PASSWORD"])
    found = httpx.get(f"{wordpress_peer['WP_BASE_URL']}/wp-json/wp/v2/posts",
                      params={"search": "One post only, whatever happens", "status": "publish,draft"},
                      auth=auth, timeout=30).json()
    ours = [p["id"] for p in found if f"dictation-desk:draft={first.marker};" in p["content"]["rendered"]]
    assert ours == [int(first.remote_id)]
