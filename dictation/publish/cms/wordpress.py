"""WordPress through its REST API (/wp/v2), signed in with an Application Password.

The remote id is the WordPress post id. WordPress has no idempotency key and post meta is
not writable over REST by default, so the body starts with an HTML comment naming the
draft; `find` searches for that comment (and checks the slug's post carries it), which
lets a retry after a cut connection update the post instead of making a second one.
"""

from __future__ import annotations

import mimetypes
import re
from html import escape
from pathlib import Path
from typing import Any

import httpx

from dictation.errors import PublishError
from dictation.publish.cms.base import (
    Destination,
    Post,
    RemotePost,
    draft_marker,
    has_marker,
    image_name,
)
from dictation.publish.cms.http import make_client, request
from dictation.publish.cms.render import post_html
from dictation.settings import Settings


def rest_root(url: str) -> str:
    """The REST root from what the admin typed: a site address, a /wp-json/ address, or
    the ?rest_route= form that works without pretty permalinks."""
    url = url.strip()
    if "rest_route=" in url:
        return url.split("rest_route=", 1)[0] + "rest_route=/"
    if "/wp-json" in url:
        return url.split("/wp-json", 1)[0] + "/wp-json/"
    return url.rstrip("/") + "/wp-json/"


class WordPressPublisher:
    kind = "wordpress"

    def __init__(self, destination: Destination, settings: Settings) -> None:
        if not destination.url or not destination.user or not destination.secret:
            raise PublishError("A WordPress destination needs the site address, a user and an Application Password.")
        self.settings = settings
        self.destination = destination
        self.root = rest_root(destination.url)
        self._client: httpx.Client | None = None

    # --- HTTP -------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            # WordPress shows Application Passwords with spaces; both forms authenticate
            auth = httpx.BasicAuth(self.destination.user, self.destination.secret)
            self._client = make_client(self.settings, auth=auth)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _call(self, method: str, route: str, what: str, **kwargs: Any) -> Any:
        route = "wp/v2/" + route.lstrip("/")
        if self.root.endswith("rest_route=/"):
            # httpx replaces a URL's query with `params`, so the route travels as a param
            url = self.root.split("?", 1)[0]
            kwargs["params"] = {"rest_route": "/" + route, **kwargs.get("params", {})}
        else:
            url = self.root + route
        response = request(self.client, method, url, what=f"WordPress ({what})", **kwargs)
        return response.json() if response.content else None

    # --- pieces -----------------------------------------------------------------------
    def _tag_ids(self, names: tuple[str, ...]) -> list[int]:
        ids = []
        for name in names:
            found = self._call("GET", "tags", "tag lookup", params={"search": name, "per_page": 100})
            match = next((t["id"] for t in found if _same(t["name"], name)), None)
            if match is None:
                try:
                    match = self._call("POST", "tags", "tag creation", json={"name": name})["id"]
                except PublishError as exc:  # created meanwhile by someone else
                    term = exc.detail.get("http_status") == 400 and self._existing_term(name)
                    if not term:
                        raise
                    match = term
            ids.append(match)
        return ids

    def _existing_term(self, name: str) -> int | None:
        found = self._call("GET", "tags", "tag lookup", params={"slug": _slugish(name)})
        return found[0]["id"] if found else None

    def _media(self, path: Path, mime: str, name: str, suffix: str | None = None) -> dict:
        """Upload once per draft: the file is named after the draft, and an upload that
        already exists under that name (an earlier attempt) is reused."""
        found = self._call("GET", "media", "media lookup", params={"slug": name, "context": "edit"})
        if found:
            return found[0]
        if not path.is_file():
            raise PublishError(f"The file to attach, {path.name}, is missing.")
        headers = {
            "Content-Type": mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{name}{suffix or path.suffix.lower()}"',
        }
        with path.open("rb") as fh:
            return self._call("POST", "media", "media upload", content=fh.read(), headers=headers)

    def _payload(self, post: Post) -> dict:
        audio_url = None
        stem = re.sub(r"[^a-z0-9-]+", "-", str(post.draft_id).lower())
        if post.audio_path is not None:
            audio_url = self._media(post.audio_path, post.audio_mime, f"dictation-{stem}-voice")["source_url"]
        data: dict[str, Any] = {
            # WordPress titles are HTML: a "<" dictated in a title must stay text
            "title": escape(post.title, quote=False),
            "slug": post.slug,
            "content": post_html(post, audio_url=audio_url),
            "excerpt": escape(post.excerpt, quote=False),
            "status": post.status,
            "tags": self._tag_ids(post.tags),
        }
        if post.publish_at_utc is not None:
            data["date_gmt"] = post.publish_at_utc.replace(tzinfo=None).isoformat(timespec="seconds")
        if post.featured_image_path is not None:
            # Named after the file's content too: a new image is a new upload, the same one is reused.
            name, mime = image_name(post, f"dictation-{stem}-image-{post.featured_image_path.stem[:12].lower()}")
            stem_name, _, ext = name.rpartition(".")
            data["featured_media"] = self._media(post.featured_image_path, mime, stem_name, "." + ext)["id"]
        return data

    @staticmethod
    def _remote(data: dict) -> RemotePost:
        return RemotePost(remote_id=str(data["id"]), url=data.get("link", ""), status=data.get("status", ""))

    # --- protocol ---------------------------------------------------------------------
    def create(self, post: Post) -> RemotePost:
        return self._remote(self._call("POST", "posts", "create post", json=self._payload(post)))

    def update(self, remote_id: str, post: Post) -> RemotePost:
        data = self._call("POST", f"posts/{int(remote_id)}", "update post", json=self._payload(post))
        return self._remote(data)

    def unpublish(self, remote_id: str) -> None:
        # back to draft rather than the trash: the post stays findable and republishable
        self._call("POST", f"posts/{int(remote_id)}", "unpublish post", json={"status": "draft"})

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        edit = {"context": "edit", "status": "any"}
        if remote_id:
            data = self._call("GET", f"posts/{int(remote_id)}", "post lookup", ok=(404, 410),
                              params={"context": "edit"})
            if data and data.get("id") and data.get("status") != "trash":
                return self._remote(data)
        candidates = self._call("GET", "posts", "post lookup", params={**edit, "slug": post.slug})
        candidates += self._call(
            "GET", "posts", "post lookup", params={**edit, "search": draft_marker(post.draft_id), "per_page": 20}
        )
        for data in candidates:
            if has_marker(data.get("content", {}).get("raw", ""), post.draft_id):
                return self._remote(data)
        return None

    def read(self, remote_id: str) -> dict:
        """The post as WordPress holds it (edit context), for checks and tests."""
        return self._call("GET", f"posts/{int(remote_id)}", "read post", params={"context": "edit"})


def _same(a: str, b: str) -> bool:
    # WordPress stores tag names with HTML entities escaped (&amp;)
    return a.replace("&amp;", "&").casefold() == b.casefold()


def _slugish(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
