"""A publication worker SIGKILLed after the CMS made the post but before the desk recorded its
id, through the queued job in a real worker process, for WordPress and Ghost: after the retry
there is exactly one post, the one the killed attempt made.

The fault point is a proxy in front of the CMS (tests/support/faults.py: HoldingProxy): it
forwards the create, receives the CMS's answer, and holds it back while the test kills the
worker, so no hook in the product is needed."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from dictation import jobs
from dictation.models import Draft, Job, Publication, User
from dictation.publish import destinations
from dictation.publish import service as publishing
from tests.support.dbfixtures import make_draft, make_memo, make_user
from tests.support.faults import HoldingProxy, Workers, wait_for

pytestmark = [pytest.mark.peers, pytest.mark.slow]


@pytest.fixture
def settings_changes():
    return {"publish_backoff_s": 0.2, "publish_max_attempts": 2, "publish_timeout_s": 60}


def wordpress_posts(peer: dict, title: str) -> list[str]:
    found = httpx.get(f"{peer['WP_BASE_URL']}/wp-json/wp/v2/posts", timeout=30,
                      params={"search": title, "status": "any", "context": "edit", "per_page": 50},
                      auth=(peer["WP_USER"], peer["WP_APP_PASSWORD"])).json()
    return [str(post["id"]) for post in found if post["title"]["raw"] == title]


def ghost_posts(peer: dict, title: str) -> list[str]:
    from dictation.publish.cms.ghost import GhostAdminAuth

    with httpx.Client(base_url=peer["GHOST_ADMIN_API_URL"], auth=GhostAdminAuth(peer["GHOST_ADMIN_KEY"]),
                      timeout=60) as admin:
        found = admin.get("posts/", params={"limit": "50", "order": "created_at desc"}).json()["posts"]
    return [post["id"] for post in found if post["title"] == title]


CMS = {
    # kind: (peer fixture, URL key, user key, secret key, create's method and path, list posts)
    "wordpress": ("wordpress_peer", "WP_BASE_URL", "WP_USER", "WP_APP_PASSWORD", ("POST", "/wp/v2/posts"),
                  wordpress_posts),
    "ghost": ("ghost_peer", "GHOST_URL", None, "GHOST_ADMIN_KEY", ("POST", "/admin/posts"), ghost_posts),
}


def publication_of(db, draft_id: int) -> tuple[Publication, Job]:
    with db.session() as session:
        publication = session.scalar(select(Publication).where(Publication.draft_id == draft_id))
        job = session.scalar(select(Job).where(Job.publication_id == publication.id))
        return publication, job


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.peers(kind)) for kind in ("wordpress", "ghost")])
def test_make_one_post_when_worker_killed_between_create_and_recording_id(
        request, kind, db, settings, tmp_path):
    fixture, url_key, user_key, secret_key, (method, path_end), posts = CMS[kind]
    peer = request.getfixturevalue(fixture)
    upstream = urlsplit(peer[url_key])
    proxy = HoldingProxy((upstream.hostname, upstream.port), method, path_end)
    queue = jobs.make_queue(settings)
    title = f"Killed mid-publish {uuid.uuid4().hex[:8]}"
    with db.session() as session:
        destinations.add_destination(session, settings, "cms", kind, url=proxy.url,
                                     user=peer[user_key] if user_key else None, secret=peer[secret_key])
        assistant = make_user(session, "assistant")
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        draft_id = make_draft(session, memo, title=title, body_markdown="One post, whatever happens.").id
        publishing.request_publication(session, session.get(Draft, draft_id), "cms",
                                       session.get(User, assistant.id), queue=queue)
    log = tmp_path / "workers.log"
    workers = Workers("dictation", log, dict(os.environ), model=False)
    try:
        first = workers.start()
        wait_for(proxy.created.is_set, 120, f"{kind} to create the post", log)
        Workers.kill(first)  # between the CMS's answer and the desk writing the id down
        proxy.release.set()
        publication, job = publication_of(db, draft_id)
        assert (job.status, publication.remote_id, publication.maybe_created) == ("running", None, True)
        made = posts(peer, title)
        assert len(made) == 1  # the killed attempt did reach the CMS

        workers.start()  # finds the dead worker's job and runs it again
        wait_for(lambda: publication_of(db, draft_id)[1].status in ("done", "failed"), 120,
                 "the publication to run again", log)
    finally:
        workers.stop_all()
        proxy.close()
        jobs.dispose_databases()
    publication, job = publication_of(db, draft_id)
    assert (job.status, job.attempts, publication.status) == ("done", 2, "published"), (job.error, publication.error)
    assert posts(peer, title) == made  # still one post: the one made before the kill, updated
    assert publication.remote_id == made[0]
