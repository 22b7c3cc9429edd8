"""Micropub (W3C Recommendation): JSON h-entry posts with a bearer token.

The remote id is the `Location` the server answers a create with. Updates are
`action=update` with `replace`, unpublishing is `action=delete`, and the audio and the
featured image go to the media endpoint that `q=config` names. Micropub has no status for
"pending" or "scheduled": pending becomes `post-status: draft`, and a scheduled post is
sent with its future `published` date, which servers that schedule honour.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import httpx

from dictation.errors import PublishError
from dictation.publish.cms.base import Destination, Post, RemotePost, has_marker
from dictation.publish.cms.http import make_client, request
from dictation.publish.cms.render import post_html
from dictation.settings import Settings

POST_STATUS = {"publish": "published", "future": "published", "draft": "draft", "pending": "draft"}


class MicropubPublisher:
    kind = "micropub"

    def __init__(self, destination: Destination, settings: Settings) -> None:
        if not destination.url or not destination.secret:
            raise PublishError("A Micropub destination needs the endpoint address and an access token.")
        self.destination = destination
        self.settings = settings
        self.endpoint = destination.url
        self.client = make_client(
            self.settings,
            headers={"Authorization": f"Bearer {destination.secret}", "Accept": "application/json"},
        )
        self._config: dict | None = None

    def close(self) -> None:
        self.client.close()

    def _send(self, payload: dict, what: str) -> httpx.Response:
        return request(self.client, "POST", self.endpoint, what=f"Micropub ({what})", json=payload)

    # --- media ------------------------------------------------------------------------
    def config(self) -> dict:
        if self._config is None:
            response = request(self.client, "GET", self.endpoint, what="Micropub (configuration)",
                               params={"q": "config"})  # fmt: skip
            self._config = response.json() if response.content else {}
        return self._config

    def media_endpoint(self) -> str | None:
        return self.destination.options.get("media_endpoint") or self.config().get("media-endpoint")

    def upload(self, path: Path, mime: str) -> str:
        endpoint = self.media_endpoint()
        if not endpoint:
            raise PublishError("This Micropub server has no media endpoint; the audio cannot be attached.")
        if not path.is_file():
            raise PublishError(f"The file to attach, {path.name}, is missing.")
        with path.open("rb") as fh:
            response = request(self.client, "POST", endpoint, what="Micropub (media upload)",
                               files={"file": (path.name, fh, mime)})  # fmt: skip
        location = response.headers.get("Location")
        if not location:
            raise PublishError("The Micropub media endpoint stored the file but gave no address for it.")
        return location

    # --- posts ------------------------------------------------------------------------
    def _properties(self, post: Post) -> dict[str, list[Any]]:
        audio_url = self.upload(post.audio_path, post.audio_mime) if post.audio_path else None
        props: dict[str, list[Any]] = {
            "name": [post.title],
            "content": [{"html": post_html(post, audio_url=audio_url)}],
            "post-status": [POST_STATUS[post.status]],
        }
        if post.excerpt:
            props["summary"] = [post.excerpt]
        if post.tags:
            props["category"] = list(post.tags)
        if post.publish_at_utc is not None:
            props["published"] = [post.publish_at_utc.isoformat()]
        if audio_url:
            props["audio"] = [audio_url]
        if post.featured_image_path is not None:
            mime = mimetypes.guess_type(post.featured_image_path.name)[0] or "image/jpeg"
            props["photo"] = [self.upload(post.featured_image_path, mime)]
        return props

    def create(self, post: Post) -> RemotePost:
        props = self._properties(post)
        response = self._send({"type": ["h-entry"], "properties": {**props, "mp-slug": [post.slug]}}, "create post")
        location = response.headers.get("Location")
        if not location:
            raise PublishError("The Micropub server answered without a Location; the post cannot be tracked.")
        return RemotePost(remote_id=location, url=location, status=props["post-status"][0])

    def update(self, remote_id: str, post: Post) -> RemotePost:
        props = self._properties(post)
        # properties this post no longer has are removed, so an edit can drop the tags
        gone = [k for k in ("summary", "category", "published", "audio", "photo") if k not in props]
        payload: dict[str, Any] = {"action": "update", "url": remote_id, "replace": props}
        if gone:
            payload["delete"] = gone
        response = self._send(payload, "update post")
        location = response.headers.get("Location") or remote_id  # 201 + Location when the URL moved
        return RemotePost(remote_id=location, url=location, status=props["post-status"][0])

    def unpublish(self, remote_id: str) -> None:
        self._send({"action": "delete", "url": remote_id}, "delete post")

    def source(self, remote_id: str) -> dict | None:
        """The entry's properties as the server holds them, or None when it has no such entry."""
        response = request(self.client, "GET", self.endpoint, what="Micropub (read post)", ok=(400, 404, 410),
                           params={"q": "source", "url": remote_id})  # fmt: skip
        if response.status_code != 200:
            return None
        return response.json()

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        if remote_id and (data := self.source(remote_id)) is not None:
            status = (data.get("properties", {}).get("post-status") or ["published"])[0]
            return RemotePost(remote_id=remote_id, url=remote_id, status=status)
        # Without a stored Location only servers that list their posts (an extension of
        # q=source) can be searched; the others answer 400/501 and nothing is found.
        response = request(self.client, "GET", self.endpoint, what="Micropub (post lookup)",
                           ok=(400, 404, 501), params={"q": "source", "filter": post.marker})  # fmt: skip
        if response.status_code != 200:
            return None
        for item in response.json().get("items", []):
            props = item.get("properties", {})
            content = (props.get("content") or [{}])[0]
            html = content.get("html", "") if isinstance(content, dict) else str(content)
            if has_marker(html, post.draft_id) and props.get("url"):
                url = props["url"][0]
                return RemotePost(remote_id=url, url=url, status=(props.get("post-status") or ["published"])[0])
        return None
