"""Publishing: one protocol, five destinations, and the idempotent publish step.

    publisher = get_publisher(destination, settings)
    remote = publish_idempotently(publisher, post, known_remote_id, ambiguous_before)

The built-in blog is a plugin like the others; `PUBLISHERS` maps a destination's kind
to its class, each built as `cls(destination, settings)`.
"""

from __future__ import annotations

import importlib

from dictation.errors import PublishError
from dictation.publish.base import Destination, Post, Publisher, RemotePost
from dictation.publish.idempotent import (
    PublishOutcome,
    RetryPolicy,
    publish_idempotently,
    publish_with_retries,
    with_retries,
)
from dictation.settings import Settings, get_settings

# kind -> "module:Class", imported on use so a site without Ghost never loads its code
PUBLISHERS: dict[str, str] = {
    "blog": "dictation.publish.blog:BlogPublisher",
    "wordpress": "dictation.publish.wordpress:WordPressPublisher",
    "ghost": "dictation.publish.ghost:GhostPublisher",
    "micropub": "dictation.publish.micropub:MicropubPublisher",
    "webhook": "dictation.publish.webhook:WebhookPublisher",
}


def get_publisher(destination: Destination, settings: Settings | None = None) -> Publisher:
    target = PUBLISHERS.get(destination.kind)
    if target is None:
        raise PublishError(
            f"Unknown destination kind {destination.kind!r}; choose one of {', '.join(PUBLISHERS)}."
        )
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(destination, settings or get_settings())


__all__ = [
    "PUBLISHERS",
    "Destination",
    "Post",
    "PublishOutcome",
    "Publisher",
    "RemotePost",
    "RetryPolicy",
    "get_publisher",
    "publish_idempotently",
    "publish_with_retries",
    "with_retries",
]
