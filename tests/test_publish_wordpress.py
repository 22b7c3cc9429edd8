"""WordPress destination against the real WordPress peer: publish, read back through the
REST API (not through the publisher), update, unpublish, schedule, find again."""

from __future__ import annotations

import html
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dictation.errors import PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.idempotent import publish_idempotently
from dictation.settings import Settings
from tests.conftest import shared_file
from tests.support.peers import tiny_png

pytestmark = pytest.mark.peers


@pytest.fixture
def wp(wordpress_peer, tmp_path):
    destination = Destination(
        kind="wordpress", name="WP", url=wordpress_peer["WP_BASE_URL"],
        user=wordpress_peer["WP_USER"], secret=wordpress_peer["WP_APP_PASSWORD"],
    )  # fmt: skip
    publisher = get_publisher(destination, Settings(data_dir=tmp_path, publish_timeout_s=30))
    yield publisher
    publisher.close()


@pytest.fixture
def api(wordpress_peer):
    """An independent REST client: what WordPress really holds, not what we think we sent."""
    auth = (wordpress_peer["WP_USER"], wordpress_peer["WP_APP_PASSWORD"])
    with httpx.Client(base_url=wordpress_peer["WP_BASE_URL"] + "/wp-json/wp/v2/", auth=auth, timeout=30) as client:
        yield client


def _post(**changes) -> Post:
    draft = changes.pop("draft_id", uuid.uuid4().hex[:12])
    values = dict(
        draft_id=draft, title="Quarterly results & next steps", slug=f"quarterly-{draft}",
        body_markdown="We grew **12 %** this quarter.\n\n<script>alert('x')</script>\n\n- hire\n- ship",
        excerpt="Growth and plans", tags=("Results", f"memo-{draft}"), status="publish",
    )  # fmt: skip
    values.update(changes)
    return Post(**values)


def _read(api: httpx.Client, remote_id: str) -> dict:
    response = api.get(f"posts/{remote_id}", params={"context": "edit"})
    response.raise_for_status()
    return response.json()


def _tag_names(api: httpx.Client, ids: list[int]) -> set[str]:
    return {html.unescape(api.get(f"tags/{i}").json()["name"]) for i in ids}


def test_publish_post_reads_back_title_html_tags_media(wp, api, tmp_path):
    audio = shared_file("audio/memos/en_mb-us1.mp3")
    post = _post(audio_path=audio, audio_mime="audio/mpeg", featured_image_path=tiny_png(tmp_path / "cover.png"))

    remote = wp.create(post)

    data = _read(api, remote.remote_id)
    assert html.unescape(data["title"]["rendered"]) == "Quarterly results & next steps"
    content = data["content"]["raw"]
    assert "<strong>12 %</strong>" in content
    assert "&lt;script&gt;" in content and "<script>" not in content
    assert post.marker in content
    assert data["status"] == "publish" and data["slug"] == post.slug
    assert _tag_names(api, data["tags"]) == set(post.tags)
    image = api.get(f"media/{data['featured_media']}").json()
    assert image["mime_type"] == "image/png"
    voice = api.get("media", params={"slug": f"dictation-{post.draft_id}-voice"}).json()
    assert voice and voice[0]["mime_type"] == "audio/mpeg"
    assert voice[0]["source_url"] in content  # the player points at the uploaded audio
    assert httpx.get(voice[0]["source_url"]).content == audio.read_bytes()
    assert remote.status == "publish" and remote.url


def test_schedule_post_keeps_future_status_and_date(wp, api):
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    post = _post(status="future", publish_at=when)

    remote = wp.create(post)

    data = _read(api, remote.remote_id)
    assert data["status"] == "future"
    assert datetime.fromisoformat(data["date_gmt"]).replace(tzinfo=UTC) == when


@pytest.mark.parametrize("status", ["draft", "pending"])
def test_publish_post_with_status_draft_or_pending(wp, api, status):
    remote = wp.create(_post(status=status))
    assert _read(api, remote.remote_id)["status"] == status


def test_update_then_unpublish_same_post(wp, api):
    post = _post()
    remote = wp.create(post)
    edited = _post(draft_id=post.draft_id, title="Revised title", body_markdown="Only *this* now.", tags=("Revised",))

    updated = wp.update(remote.remote_id, edited)
    data = _read(api, remote.remote_id)
    assert updated.remote_id == remote.remote_id
    assert data["title"]["raw"] == "Revised title"
    assert "<em>this</em>" in data["content"]["raw"] and "12 %" not in data["content"]["raw"]
    assert _tag_names(api, data["tags"]) == {"Revised"}

    wp.unpublish(remote.remote_id)
    assert _read(api, remote.remote_id)["status"] == "draft"
    anonymous = httpx.get(f"{api.base_url}posts/{remote.remote_id}")
    assert anonymous.status_code in (401, 403, 404)  # readers no longer see it


def test_find_post_by_marker_after_lost_answer(wp, api):
    post = _post()
    remote = wp.create(post)  # as if the answer had been lost: the caller knows no id

    again = publish_idempotently(wp, post, known_remote_id=None, ambiguous_before=True)

    assert again.remote_id == remote.remote_id
    marked = api.get("posts", params={"search": post.marker, "status": "any", "context": "edit"}).json()
    assert [p["id"] for p in marked] == [int(remote.remote_id)]


def test_find_ignores_other_post_with_same_slug(wp, api):
    mine = _post()
    api.post("posts", json={"title": "Not ours", "slug": mine.slug, "status": "draft", "content": "hand made"})

    assert wp.find(mine) is None


def test_publish_through_rest_route_address(wordpress_peer, api, tmp_path):
    # sites without pretty permalinks only answer on /?rest_route=
    destination = Destination(kind="wordpress", url=wordpress_peer["WP_REST_FALLBACK_URL"],
                              user=wordpress_peer["WP_USER"], secret=wordpress_peer["WP_APP_PASSWORD"])  # fmt: skip
    publisher = get_publisher(destination, Settings(data_dir=tmp_path))
    post = _post()

    remote = publisher.create(post)

    assert publisher.find(post).remote_id == remote.remote_id
    assert _read(api, remote.remote_id)["slug"] == post.slug


def test_refuse_wrong_password_permanently(wordpress_peer, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    destination = Destination(kind="wordpress", url=wordpress_peer["WP_BASE_URL"], user="admin", secret="wrong pass")
    publisher = get_publisher(destination, Settings(data_dir=tmp_path))

    with pytest.raises(PublishError) as caught:
        publisher.create(_post())

    assert caught.value.transient is False
    assert "401" in caught.value.message
    assert "wrong pass" not in caught.value.message and "wrong pass" not in repr(destination)
    assert "wrong pass" not in caplog.text
