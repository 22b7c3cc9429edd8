"""A signed webhook for any other CMS, following Standard Webhooks
(https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

The secret is `whsec_<base64 key>` (the spec's form) or any other string, used as bytes.
`webhook-id` is the same for every retry of one message, as the spec asks, so receivers
deduplicate a delivery whose answer was lost. A receiver may answer JSON with `id` and
`url`; otherwise the remote id is `draft:<draft id>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from dictation.errors import PublishError
from dictation.publish.cms.base import Destination, Post, RemotePost
from dictation.publish.cms.http import make_client, request
from dictation.publish.cms.render import markdown_to_html
from dictation.settings import Settings

TOLERANCE_S = 5 * 60  # the spec's advice on how old a timestamp a receiver accepts


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver does; used by the tests and by anyone writing a receiver in Python."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_S:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class WebhookPublisher:
    kind = "webhook"

    def __init__(self, destination: Destination, settings: Settings) -> None:
        if not destination.url or not destination.secret:
            raise PublishError("A webhook destination needs an address and a signing secret.")
        self.destination = destination
        self.settings = settings
        self.client = make_client(self.settings)

    def close(self) -> None:
        self.client.close()

    def _payload(self, post: Post) -> dict[str, Any]:
        return {
            "draft_id": post.draft_id,
            "title": post.title,
            "slug": post.slug,
            "html": markdown_to_html(post.body_markdown),
            "markdown": post.body_markdown,
            "excerpt": post.excerpt,
            "tags": list(post.tags),
            "status": post.status,
            "publish_at": post.publish_at_utc.isoformat() if post.publish_at_utc else None,
            "author": post.author_name,
            "language": post.language,
        }

    def send(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(
            {"type": event, "data": data}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")
        # same message, same id: a retry of a delivery whose answer was lost is recognisable
        msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.destination.secret, msg_id, timestamp, body),
        }
        response = request(self.client, "POST", self.destination.url, what=f"Webhook ({event})",
                           content=body, headers=headers)  # fmt: skip
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    def _remote(self, answer: dict, post: Post | None, remote_id: str | None = None) -> RemotePost:
        rid = str(answer.get("id") or remote_id or f"draft:{post.draft_id if post else ''}")
        return RemotePost(remote_id=rid, url=str(answer.get("url") or ""), status=str(answer.get("status") or "sent"))

    def create(self, post: Post) -> RemotePost:
        return self._remote(self.send("post.published", self._payload(post)), post)

    def update(self, remote_id: str, post: Post) -> RemotePost:
        data = {**self._payload(post), "remote_id": remote_id}
        return self._remote(self.send("post.updated", data), post, remote_id)

    def unpublish(self, remote_id: str) -> None:
        self.send("post.unpublished", {"remote_id": remote_id})

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        # A webhook cannot be asked what it holds; the repeated webhook-id lets the
        # receiver drop the duplicate instead.
        if remote_id:
            return RemotePost(remote_id=remote_id, url="", status="sent")
        return None
