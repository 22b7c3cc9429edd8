"""The featured image as the publish job sends it (issue 11): a file of the media store, named by
its hash with no extension, and the type sniffed at upload. The real WordPress and Ghost peers
refuse or mislabel a file whose name carries no matching extension; what they hold is read back
with their own APIs. Changing the image uploads the new one (WordPress keeps uploads by name)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from dictation.memos.images import sniff_image
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.ghost import GhostAdminAuth
from dictation.settings import Settings
from dictation.storage import MediaStore
from tests.support.peers import tiny_png

pytestmark = pytest.mark.peers


def _stored_image(tmp_path, rgb) -> tuple:
    """As the desk keeps it: in the media store under its sha256, and the sniffed type."""
    data = tiny_png(tmp_path / f"{uuid.uuid4().hex}.png", rgb=rgb, size=16).read_bytes()
    stored = MediaStore(tmp_path / "media").save_stream(data)
    assert stored.path.suffix == ""  # the case this test is about
    return stored.path, sniff_image(data), data


def _post(path, mime, **changes) -> Post:
    draft = uuid.uuid4().hex[:12]
    return Post(draft_id=draft, title="Lighthouse repainted", slug=f"lighthouse-{draft}",
                body_markdown="The lighthouse is red again.", featured_image_path=path,
                featured_image_mime=mime, **changes)


def test_send_stored_featured_image_to_wordpress(wordpress_peer, tmp_path):
    destination = Destination(kind="wordpress", name="WP", url=wordpress_peer["WP_BASE_URL"],
                              user=wordpress_peer["WP_USER"], secret=wordpress_peer["WP_APP_PASSWORD"])
    auth = (wordpress_peer["WP_USER"], wordpress_peer["WP_APP_PASSWORD"])
    publisher = get_publisher(destination, Settings(data_dir=tmp_path, publish_timeout_s=60))
    try:
        path, mime, data = _stored_image(tmp_path, (200, 40, 40))
        post = _post(path, mime)
        remote = publisher.create(post)
        with httpx.Client(base_url=wordpress_peer["WP_BASE_URL"] + "/wp-json/wp/v2/", auth=auth, timeout=30) as api:
            media_id = api.get(f"posts/{remote.remote_id}", params={"context": "edit"}).json()["featured_media"]
            media = api.get(f"media/{media_id}").json()
            assert media["mime_type"] == "image/png" and media["source_url"].endswith(".png")
            assert httpx.get(media["source_url"], timeout=30).content == data

            # Another image: uploaded and set, not the first one reused.
            path2, mime2, data2 = _stored_image(tmp_path, (40, 200, 40))
            publisher.update(remote.remote_id, Post(**{**post.__dict__, "featured_image_path": path2,
                                                       "featured_image_mime": mime2}))
            second = api.get(f"posts/{remote.remote_id}", params={"context": "edit"}).json()["featured_media"]
            assert second != media_id
            assert httpx.get(api.get(f"media/{second}").json()["source_url"], timeout=30).content == data2
    finally:
        publisher.close()


def test_send_stored_featured_image_to_ghost(ghost_peer, tmp_path):
    destination = Destination(kind="ghost", url=ghost_peer["GHOST_URL"], secret=ghost_peer["GHOST_ADMIN_KEY"])
    publisher = get_publisher(destination, Settings(data_dir=tmp_path, publish_timeout_s=60))
    try:
        path, mime, data = _stored_image(tmp_path, (40, 40, 200))
        remote = publisher.create(_post(path, mime))
        auth = GhostAdminAuth(ghost_peer["GHOST_ADMIN_KEY"])
        with httpx.Client(base_url=ghost_peer["GHOST_ADMIN_API_URL"], auth=auth, timeout=60) as admin:
            stored = admin.get(f"posts/{remote.remote_id}/").json()["posts"][0]
        assert stored["feature_image"].endswith(".png")
        assert httpx.get(stored["feature_image"], timeout=30).content == data
    finally:
        publisher.close()
