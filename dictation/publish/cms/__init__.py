"""CMS adapters: one `Publisher` protocol, five destinations.

    publisher = get_publisher(destination, settings)

The built-in blog is a plugin like the others; `PUBLISHERS` maps a destination's kind
to its class, each built as `cls(destination, settings)`.
"""

from __future__ import annotations

import importlib

from dictation.errors import PublishError
from dictation.publish.cms.base import Destination, Post, Publisher, RemotePost
from dictation.settings import Settings

# kind -> "module:Class", imported on use so a site without Ghost never loads its code
PUBLISHERS: dict[str, str] = {
    "blog": "dictation.publish.cms.blog:BlogPublisher",
    "wordpress": "dictation.publish.cms.wordpress:WordPressPublisher",
    "ghost": "dictation.publish.cms.ghost:GhostPublisher",
    "micropub": "dictation.publish.cms.micropub:MicropubPublisher",
    "webhook": "dictation.publish.cms.webhook:WebhookPublisher",
}


def get_publisher(destination: Destination, settings: Settings) -> Publisher:
    target = PUBLISHERS.get(destination.kind)
    if target is None:
        raise PublishError(
            f"Unknown destination kind {destination.kind!r}; choose one of {', '.join(PUBLISHERS)}."
        )
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(destination, settings)


__all__ = ["PUBLISHERS", "Destination", "Post", "Publisher", "RemotePost", "get_publisher"]
