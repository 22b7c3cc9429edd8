"""Signed webhook destination against a real HTTP receiver (tests/support/webhook.py) that
checks every signature the way the Standard Webhooks spec tells receivers to."""

from __future__ import annotations

import base64

import pytest

from dictation.errors import PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.webhook import sign, verify
from dictation.publish.idempotent import publish_with_retries
from dictation.settings import Settings
from tests.support.webhook import SECRET, Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _publisher(url: str, tmp_path, secret: str = SECRET):
    return get_publisher(Destination(kind="webhook", url=url, secret=secret), Settings(data_dir=tmp_path))


POST = Post(draft_id="d-17", title="Quarterly update", slug="quarterly-update", body_markdown="We **grew**.",
            tags=("news",))  # fmt: skip


def test_send_signed_post_the_receiver_verifies(receiver, tmp_path):
    remote = _publisher(receiver.url, tmp_path).create(POST)

    assert receiver.rejected == 0 and len(receiver.accepted) == 1
    event = receiver.accepted[0]
    assert event["type"] == "post.published"
    assert event["data"]["title"] == "Quarterly update" and event["data"]["html"] == "<p>We <strong>grew</strong>.</p>"
    assert remote.remote_id == "post-1" and remote.url == "https://cms.example/p"


def test_update_and_unpublish_events_are_signed(receiver, tmp_path):
    publisher = _publisher(receiver.url, tmp_path)
    publisher.update("post-9", POST)
    publisher.unpublish("post-9")

    assert [e["type"] for e in receiver.accepted] == ["post.updated", "post.unpublished"]
    assert all(e["data"]["remote_id"] == "post-9" for e in receiver.accepted)
    assert receiver.rejected == 0


def test_reject_tampered_body(tmp_path):
    tampering = Receiver(tamper=True)
    try:
        with pytest.raises(PublishError) as caught:
            _publisher(tampering.url, tmp_path).create(POST)
    finally:
        tampering.close()
    assert tampering.rejected == 1 and not tampering.accepted
    assert "401" in caught.value.message and not caught.value.transient


def test_reject_wrong_secret(receiver, tmp_path):
    with pytest.raises(PublishError):
        _publisher(receiver.url, tmp_path, secret="whsec_" + base64.b64encode(b"x" * 32).decode()).create(POST)
    assert receiver.rejected == 1


def test_retry_keeps_webhook_id_so_receiver_deduplicates(tmp_path):
    flaky = Receiver(fail_first=2)
    try:
        outcome = publish_with_retries(_publisher(flaky.url, tmp_path), POST, sleep=lambda s: None)
    finally:
        flaky.close()
    assert outcome.attempts == 3
    assert len(set(flaky.seen_ids)) == 1 and len(flaky.accepted) == 1


def test_verify_matches_spec_vector_and_refuses_changes():
    # the test vector published with the Standard Webhooks reference libraries
    secret, msg_id, ts, body = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert sign(secret, msg_id, ts, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body)}
    assert verify(secret, headers, body, now=ts + 10)
    assert not verify(secret, headers, body + b" ", now=ts + 10)
    assert not verify(secret, {**headers, "webhook-id": "msg_other"}, body, now=ts + 10)
    assert not verify(secret, headers, body, now=ts + 3600)  # a replay an hour later
