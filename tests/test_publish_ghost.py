"""Ghost destination against the real Ghost 5 peer (Admin API, JWT): publish, read back,
schedule, update (with a real 409 from a concurrent edit), unpublish, find by marker."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dictation.errors import PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.ghost import GhostAdminAuth, GhostPublisher
from dictation.publish.idempotent import publish_idempotently
from dictation.settings import Settings
from tests.conftest import shared_file
from tests.support.peers import tiny_png

pytestmark = pytest.mark.peers


@pytest.fixture
def ghost(ghost_peer, tmp_path):
    destination = Destination(kind="ghost", url=ghost_peer["GHOST_URL"], secret=ghost_peer["GHOST_ADMIN_KEY"])
    publisher = get_publisher(destination, Settings(data_dir=tmp_path, publish_timeout_s=60))
    yield publisher
    publisher.close()


@pytest.fixture
def admin(ghost_peer):
    """An independent Admin API client to see what Ghost really stored."""
    auth = GhostAdminAuth(ghost_peer["GHOST_ADMIN_KEY"])
    with httpx.Client(base_url=ghost_peer["GHOST_ADMIN_API_URL"], auth=auth, timeout=60) as client:
        yield client


def _read(admin: httpx.Client, remote_id: str) -> dict:
    response = admin.get(f"posts/{remote_id}/", params={"formats": "html", "include": "tags"})
    response.raise_for_status()
    return response.json()["posts"][0]


def _post(**changes) -> Post:
    draft = changes.pop("draft_id", uuid.uuid4().hex[:10])
    values = dict(draft_id=draft, title="Board meeting <recap>", slug=f"board-{draft}", tags=("Board", "Memo"),
                  body_markdown="Decisions:\n\n1. **Hire** two people\n2. Ship in May\n\n<script>x()</script>",
                  excerpt="What the board decided")  # fmt: skip
    values.update(changes)
    return Post(**values)


def test_publish_post_reads_back_html_tags_media(ghost, admin, tmp_path):
    audio = shared_file("audio/memos/en_mb-us1.m4a")
    post = _post(audio_path=audio, audio_mime="audio/mp4", featured_image_path=tiny_png(tmp_path / "cover.png"))

    remote = ghost.create(post)

    data = _read(admin, remote.remote_id)
    assert data["title"] == "Board meeting <recap>" and data["slug"] == post.slug
    assert data["status"] == "published" and data["custom_excerpt"] == "What the board decided"
    assert "<strong>Hire</strong>" in data["html"] and "<script>" not in data["html"]
    assert "&lt;script&gt;" in data["html"]
    names = {t["name"] for t in data["tags"]}
    assert {"Board", "Memo"} <= names and f"#dictation-desk-draft-{post.draft_id}" in names
    audio_src = data["html"].split('<audio', 1)[1].split('src="', 1)[1].split('"', 1)[0]
    assert httpx.get(audio_src).content == audio.read_bytes()
    assert data["feature_image"] and httpx.get(data["feature_image"]).status_code == 200
    assert httpx.get(remote.url).status_code == 200  # readers see it


def test_schedule_post_keeps_scheduled_status_and_date(ghost, admin):
    when = (datetime.now(UTC) + timedelta(days=4)).replace(microsecond=0)
    remote = ghost.create(_post(status="future", publish_at=when))

    data = _read(admin, remote.remote_id)
    assert data["status"] == "scheduled"
    assert datetime.fromisoformat(data["published_at"].replace("Z", "+00:00")) == when


def test_update_then_unpublish_same_post(ghost, admin):
    post = _post()
    remote = ghost.create(post)

    ghost.update(remote.remote_id, _post(draft_id=post.draft_id, title="Recap, revised", tags=("Revised",),
                                         body_markdown="Only _this_."))  # fmt: skip
    data = _read(admin, remote.remote_id)
    assert data["title"] == "Recap, revised" and "<em>this</em>" in data["html"] and "Hire" not in data["html"]
    assert "Board" not in {t["name"] for t in data["tags"]}

    ghost.unpublish(remote.remote_id)
    assert _read(admin, remote.remote_id)["status"] == "draft"
    assert httpx.get(remote.url).status_code == 404


class _EditedMeanwhile(GhostPublisher):
    """Someone saves the post in Ghost between our read of `updated_at` and our PUT."""

    edits_left = 1
    reads = 0

    def read(self, remote_id, **params):
        current = super().read(remote_id, **params)
        self.reads += 1
        if self.edits_left:
            self.edits_left -= 1
            time.sleep(1.1)  # Ghost's updated_at has one-second resolution
            self.concurrent_edit(remote_id, current["updated_at"])
        return current


def test_update_rereads_once_after_conflict(ghost_peer, admin, tmp_path):
    post = _post()
    publisher = _EditedMeanwhile(Destination(kind="ghost", url=ghost_peer["GHOST_URL"],
                                             secret=ghost_peer["GHOST_ADMIN_KEY"]),
                                 Settings(data_dir=tmp_path))
    remote = publisher.create(post)
    publisher.concurrent_edit = lambda rid, at: admin.put(
        f"posts/{rid}/", json={"posts": [{"title": "Edited in Ghost", "updated_at": at}]}
    ).raise_for_status()

    publisher.update(remote.remote_id, _post(draft_id=post.draft_id, title="Ours after the conflict"))

    assert publisher.reads == 2  # read, 409, read again, saved
    assert _read(admin, remote.remote_id)["title"] == "Ours after the conflict"


def test_update_gives_up_after_second_conflict(ghost_peer, admin, tmp_path):
    post = _post()
    publisher = _EditedMeanwhile(Destination(kind="ghost", url=ghost_peer["GHOST_URL"],
                                             secret=ghost_peer["GHOST_ADMIN_KEY"]),
                                 Settings(data_dir=tmp_path))
    publisher.edits_left = 0
    remote = publisher.create(post)
    publisher.edits_left = 2
    titles = iter(["Edited in Ghost", "Edited in Ghost again"])  # an unchanged save keeps updated_at
    publisher.concurrent_edit = lambda rid, at: admin.put(
        f"posts/{rid}/", json={"posts": [{"title": next(titles), "updated_at": at}]}
    ).raise_for_status()

    with pytest.raises(PublishError) as caught:
        publisher.update(remote.remote_id, _post(draft_id=post.draft_id, title="Ours"))

    assert "nothing was overwritten" in caught.value.message and not caught.value.transient
    assert _read(admin, remote.remote_id)["title"] == "Edited in Ghost again"


def test_find_post_by_marker_tag_after_lost_answer(ghost, admin):
    post = _post(status="draft")
    remote = ghost.create(post)

    again = publish_idempotently(ghost, post, ambiguous_before=True)

    assert again.remote_id == remote.remote_id
    tagged = admin.get("posts/", params={"filter": f"tag:hash-dictation-desk-draft-{post.draft_id}"}).json()
    assert [p["id"] for p in tagged["posts"]] == [remote.remote_id]


def test_refuse_wrong_admin_key_permanently(ghost_peer, tmp_path):
    key_id = ghost_peer["GHOST_ADMIN_KEY"].split(":")[0]
    publisher = get_publisher(Destination(kind="ghost", url=ghost_peer["GHOST_URL"], secret=f"{key_id}:{'ab' * 32}"),
                              Settings(data_dir=tmp_path))  # fmt: skip
    with pytest.raises(PublishError) as caught:
        publisher.create(_post())
    assert not caught.value.transient and "401" in caught.value.message
