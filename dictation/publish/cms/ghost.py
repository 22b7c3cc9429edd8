"""Ghost through its Admin API, signed with a short JWT made from the integration key.

The remote id is Ghost's post id. Ghost turns the HTML it receives (`?source=html`) into
its own editor format and drops HTML comments, so the marker is an internal tag
(`#dictation-desk-draft-<id>`, hidden from readers), and the audio player travels in an
HTML card, which Ghost keeps as is. An update carries the `updated_at` it was based on;
when Ghost answers 409 (someone edited the post meanwhile), it is re-read and retried
once, never forced past a second conflict.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import jwt

from dictation.errors import PublishError
from dictation.publish.cms.base import Destination, Post, RemotePost, image_name
from dictation.publish.cms.http import make_client, request
from dictation.publish.cms.render import audio_figure, markdown_to_html
from dictation.settings import Settings

STATUS = {"publish": "published", "future": "scheduled", "draft": "draft", "pending": "draft"}


class GhostAdminAuth(httpx.Auth):
    """A fresh token per request: Ghost refuses tokens older than five minutes."""

    def __init__(self, admin_key: str) -> None:
        key_id, _, secret = admin_key.partition(":")
        try:
            self._secret = bytes.fromhex(secret)
        except ValueError:
            self._secret = b""
        if not key_id or not self._secret:
            raise PublishError("The Ghost Admin API key must look like <id>:<hex secret>, as Ghost shows it.")
        self._key_id = key_id

    def token(self) -> str:
        now = int(time.time())
        claims = {"iat": now, "exp": now + 300, "aud": "/admin/"}
        return jwt.encode(claims, self._secret, algorithm="HS256", headers={"kid": self._key_id})

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Ghost {self.token()}"
        yield request


def admin_root(url: str) -> str:
    url = url.strip()
    if "/ghost/api/admin" in url:
        return url.split("/ghost/api/admin", 1)[0] + "/ghost/api/admin/"
    return url.rstrip("/") + "/ghost/api/admin/"


def marker_tag(draft_id: str) -> str:
    return "#dictation-desk-draft-" + re.sub(r"[^a-z0-9]+", "-", str(draft_id).lower()).strip("-")


class GhostPublisher:
    kind = "ghost"

    def __init__(self, destination: Destination, settings: Settings) -> None:
        if not destination.url or not destination.secret:
            raise PublishError("A Ghost destination needs the site address and an Admin API key.")
        self.destination = destination
        self.settings = settings
        self.root = admin_root(destination.url)
        self.client = make_client(
            self.settings,
            auth=GhostAdminAuth(destination.secret),
            headers={"Accept-Version": "v5.0"},
        )

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, route: str, what: str, **kwargs: Any) -> httpx.Response:
        return request(self.client, method, self.root + route, what=f"Ghost ({what})", **kwargs)

    def _upload(self, kind: str, path: Path, mime: str, filename: str | None = None) -> str:
        if not path.is_file():
            raise PublishError(f"The file to attach, {path.name}, is missing.")
        with path.open("rb") as fh:
            files = {"file": (filename or path.name, fh, mime)}
            response = self._call("POST", f"{kind}/upload/", f"{kind} upload", files=files)
        return response.json()[kind][0]["url"]

    def _payload(self, post: Post) -> dict[str, Any]:
        html = markdown_to_html(post.body_markdown)
        if post.audio_path is not None:
            url = self._upload("media", post.audio_path, post.audio_mime)
            card = audio_figure(url, post.audio_mime)
            html = f"<!--kg-card-begin: html-->{card}<!--kg-card-end: html-->\n{html}"
        data: dict[str, Any] = {
            "title": post.title,
            "slug": post.slug,
            "html": html,
            "status": STATUS[post.status],
            "custom_excerpt": post.excerpt or None,
            "tags": [{"name": t} for t in post.tags] + [{"name": marker_tag(post.draft_id)}],
        }
        if post.publish_at_utc is not None:
            data["published_at"] = post.publish_at_utc.isoformat().replace("+00:00", "Z")
        if post.featured_image_path is not None:
            # Ghost refuses an image whose name has no extension matching its type.
            name, mime = image_name(post, post.featured_image_path.stem[:32] or "image")
            data["feature_image"] = self._upload("images", post.featured_image_path, mime, name)
        return data

    @staticmethod
    def _remote(data: dict) -> RemotePost:
        return RemotePost(remote_id=data["id"], url=data.get("url", ""), status=data.get("status", ""))

    def read(self, remote_id: str, **params: str) -> dict | None:
        response = self._call("GET", f"posts/{remote_id}/", "read post", ok=(404,), params=params)
        return response.json()["posts"][0] if response.status_code == 200 else None

    def _put(self, remote_id: str, fields: dict[str, Any], what: str) -> dict:
        """PUT with the `updated_at` Ghost holds; on 409 re-read and try once more."""
        for _attempt in (1, 2):
            current = self.read(remote_id, fields="id,updated_at")
            if current is None:
                raise PublishError(f"Ghost has no post {remote_id} any more; it may have been deleted there.")
            body = {"posts": [{**fields, "updated_at": current["updated_at"]}]}
            response = self._call("PUT", f"posts/{remote_id}/", what, ok=(409,), json=body, params={"source": "html"})
            if response.status_code != 409:
                return response.json()["posts"][0]
        raise PublishError(
            "Someone changed this post in Ghost while it was being updated, twice in a row; "
            "nothing was overwritten. Publish again once the editing there is done.",
            transient=False,
            http_status=409,
        )

    # --- protocol ---------------------------------------------------------------------
    def create(self, post: Post) -> RemotePost:
        body = {"posts": [self._payload(post)]}
        response = self._call("POST", "posts/", "create post", json=body, params={"source": "html"})
        return self._remote(response.json()["posts"][0])

    def update(self, remote_id: str, post: Post) -> RemotePost:
        return self._remote(self._put(remote_id, self._payload(post), "update post"))

    def unpublish(self, remote_id: str) -> None:
        self._put(remote_id, {"status": "draft"}, "unpublish post")

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        if remote_id and (data := self.read(remote_id)) is not None:
            return self._remote(data)
        tag_slug = "hash-" + marker_tag(post.draft_id)[1:]
        response = self._call("GET", "posts/", "post lookup", params={"filter": f"tag:{tag_slug}", "limit": "5"})
        posts = response.json().get("posts", [])
        return self._remote(posts[0]) if posts else None
