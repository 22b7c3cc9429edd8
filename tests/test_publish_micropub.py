"""Micropub destination against the real django-indieweb peer: create (201 + Location),
read back with q=source and on the public page, update, delete, media endpoint."""

from __future__ import annotations

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
def mp(micropub_peer, tmp_path):
    destination = Destination(kind="micropub", url=micropub_peer["MICROPUB_ENDPOINT"],
                              secret=micropub_peer["MICROPUB_TOKEN"])  # fmt: skip
    publisher = get_publisher(destination, Settings(data_dir=tmp_path))
    yield publisher
    publisher.close()


def _source(peer, url: str) -> httpx.Response:
    return httpx.get(peer["MICROPUB_ENDPOINT"], params={"q": "source", "url": url},
                     headers={"Authorization": f"Bearer {peer['MICROPUB_TOKEN']}"})  # fmt: skip


def _post(**changes) -> Post:
    draft = changes.pop("draft_id", uuid.uuid4().hex[:10])
    values = dict(draft_id=draft, title="Field notes", slug=f"notes-{draft}", tags=("travel", "memo"),
                  body_markdown="Visited **three** plants.\n\n<img src=x onerror=alert(1)>")  # fmt: skip
    values.update(changes)
    return Post(**values)


def test_publish_entry_reads_back_with_media(mp, micropub_peer, tmp_path):
    audio = shared_file("audio/memos/en_mb-us1.m4a")
    post = _post(audio_path=audio, audio_mime="audio/mp4", featured_image_path=tiny_png(tmp_path / "c.png"))

    remote = mp.create(post)

    assert remote.remote_id.startswith("http://127.0.0.1")
    props = _source(micropub_peer, remote.remote_id).json()["properties"]
    assert props["name"] == ["Field notes"]
    assert props["category"] == ["travel", "memo"]
    assert props["post-status"] == ["published"]
    html = props["content"][0]["html"]
    assert "<strong>three</strong>" in html and post.marker in html
    assert "<img" not in html and "&lt;img src=x onerror" in html  # shown as text, never run
    assert httpx.get(props["audio"][0]).content == audio.read_bytes()  # the media endpoint kept it
    assert props["audio"][0] in html and props["photo"][0].startswith("http")
    page = httpx.get(remote.url)
    assert page.status_code == 200 and "<strong>three</strong>" in page.text


def test_schedule_and_draft_statuses(mp, micropub_peer):
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    scheduled = mp.create(_post(status="future", publish_at=when))
    pending = mp.create(_post(status="pending"))

    props = _source(micropub_peer, scheduled.remote_id).json()["properties"]
    assert datetime.fromisoformat(props["published"][0]) == when
    assert _source(micropub_peer, pending.remote_id).json()["properties"]["post-status"] == ["draft"]


def test_update_then_delete_entry(mp, micropub_peer):
    post = _post()
    remote = mp.create(post)

    mp.update(remote.remote_id, _post(draft_id=post.draft_id, title="Revised", body_markdown="New *text*.", tags=()))
    props = _source(micropub_peer, remote.remote_id).json()["properties"]
    assert props["name"] == ["Revised"] and "<em>text</em>" in props["content"][0]["html"]
    assert "category" not in props  # the dropped tags are gone, not left over

    mp.unpublish(remote.remote_id)
    assert _source(micropub_peer, remote.remote_id).status_code == 400
    assert httpx.get(remote.url).status_code == 404
    assert mp.find(post, remote_id=remote.remote_id) is None


def test_find_by_stored_location_updates_instead_of_creating(mp, micropub_peer):
    post = _post()
    remote = mp.create(post)

    assert mp.find(post, remote_id=remote.remote_id) == remote.__class__(remote.remote_id, remote.url, "published")
    again = publish_idempotently(mp, post, known_remote_id=remote.remote_id)
    assert again.remote_id == remote.remote_id


def test_find_without_location_gives_none_on_server_without_listing(mp):
    assert mp.find(_post()) is None


def test_refuse_bad_token_permanently(micropub_peer, tmp_path):
    bad = get_publisher(Destination(kind="micropub", url=micropub_peer["MICROPUB_ENDPOINT"], secret="nope"),
                        Settings(data_dir=tmp_path))  # fmt: skip
    with pytest.raises(PublishError) as caught:
        bad.create(_post())
    assert caught.value.transient is False and "401" in caught.value.message
