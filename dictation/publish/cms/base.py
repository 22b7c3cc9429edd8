"""The publishing protocol every destination speaks, and what travels through it.

A `Post` is what the desk wants on the web; a `RemotePost` is what a destination says it
made. Each destination embeds a marker naming the draft, so a post that a failed attempt
may have created can be found again instead of being created twice.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

PostStatus = Literal["publish", "draft", "pending", "future"]
STATUSES: tuple[str, ...] = ("publish", "draft", "pending", "future")

MARKER_PREFIX = "dictation-desk:draft="


@dataclass(frozen=True)
class Post:
    draft_id: str  # the desk's draft id; the marker carries it to the CMS
    title: str
    slug: str
    body_markdown: str
    excerpt: str = ""
    tags: tuple[str, ...] = ()
    status: PostStatus = "publish"
    publish_at: datetime | None = None  # needed for "future"; kept as the post date otherwise
    audio_path: Path | None = None  # the memo's playback copy, attached when set
    audio_mime: str = "audio/mp4"
    featured_image_path: Path | None = None
    featured_image_mime: str = ""  # sniffed at upload; the store's file names carry no extension
    author_name: str = ""
    language: str = "en"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown post status {self.status!r}; use one of {', '.join(STATUSES)}")
        if self.status == "future" and self.publish_at is None:
            raise ValueError("a scheduled post needs the date and time it goes out")
        if not self.slug or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.slug):
            raise ValueError(f"slug {self.slug!r} must be lower-case letters, digits and dashes")
        # a tuple keeps the frozen dataclass hashable even when a list was given
        object.__setattr__(self, "tags", tuple(t.strip() for t in self.tags if t and t.strip()))

    @property
    def marker(self) -> str:
        """The text that ties a remote post to this draft (an HTML comment, a hidden tag...)."""
        return draft_marker(self.draft_id)

    @property
    def publish_at_utc(self) -> datetime | None:
        if self.publish_at is None:
            return None
        if self.publish_at.tzinfo is None:  # naive dates are taken as UTC, never as server time
            return self.publish_at.replace(tzinfo=UTC)
        return self.publish_at.astimezone(UTC)


IMAGE_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def image_name(post: Post, stem: str) -> tuple[str, str]:
    """(file name, type) for the featured image: CMSs check the extension against the type."""
    assert post.featured_image_path is not None
    path = post.featured_image_path
    mime = post.featured_image_mime or mimetypes.guess_type(path.name)[0] or "image/jpeg"
    return f"{stem}{IMAGE_EXTENSIONS.get(mime, path.suffix.lower() or '.jpg')}", mime


def draft_marker(draft_id: str) -> str:
    # the trailing ";" stops draft 4 from matching the marker of draft 42
    return f"{MARKER_PREFIX}{draft_id};"


def marker_comment(draft_id: str) -> str:
    return f"<!-- {draft_marker(draft_id)} -->"


def has_marker(html: str, draft_id: str) -> bool:
    return draft_marker(draft_id) in (html or "")


@dataclass
class Destination:
    kind: str  # a key of PUBLISHERS: blog, wordpress, ghost, micropub, webhook
    name: str = ""  # what the admin called it, shown in the worklist
    url: str = ""  # site, API or endpoint address, depending on the kind
    user: str = ""  # WordPress user name; unused elsewhere
    secret: str = field(default="", repr=False)  # plaintext only in memory, encrypted at rest
    options: dict = field(default_factory=dict)  # per-kind extras, e.g. media_endpoint

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"Destination(kind={self.kind!r}, name={self.name!r}, url={self.url!r}, user={self.user!r})"


@dataclass(frozen=True)
class RemotePost:
    remote_id: str  # what the CMS calls the post: WordPress/Ghost id, Micropub Location
    url: str  # the public address of the post, where known
    status: str  # the CMS's own word for the state (publish, published, scheduled, draft...)


@runtime_checkable
class Publisher(Protocol):
    kind: str

    def create(self, post: Post) -> RemotePost: ...

    def update(self, remote_id: str, post: Post) -> RemotePost: ...

    def unpublish(self, remote_id: str) -> None: ...

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        """The post this draft already created (by stored id, marker or slug), or None."""
        ...

    def close(self) -> None:
        """Let go of the HTTP client (its pooled connections); call it once done with the publisher."""
        ...
