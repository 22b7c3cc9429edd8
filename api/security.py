"""Browser defences on every answer, and addresses no route should ever see.

Desk pages and API answers get a Content-Security-Policy that runs scripts from this site
only (plus the page's import map, by a per-request nonce), loads images and media from this
site only (so a remote image in a draft is never fetched from a reviewer's browser: the
preview frame inherits the policy), and may not be framed anywhere (frame-ancestors 'none',
X-Frame-Options). The blog's pages are public and carry no script at all, so their policy
allows remote images and the blog's own inline style. The interactive API docs load Swagger
UI from its CDN, and only that page may.

A URL holding a NUL or another control character (`/blog/a%00b/`) is refused here with a
sentence, before any route can pass it to a file name or to PostgreSQL.

No answer's Location follows the request's Host header: Starlette's trailing-slash redirect
(and tussi's upload address) build an absolute URL from it, so `Host: evil.example` sent a
browser, a cache or a phone there. Such a Location leaves here as a path of this site.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The phone page records the memo; nothing here needs the camera or the location.
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=(), payment=()",
}
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


def desk_policy(nonce: str, style_hashes: tuple[str, ...]) -> str:
    styles = " ".join(f"'{h}'" for h in style_hashes)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # The blog's own <style>, by hash: the preview and sign-off frames show the post
        # as the blog will, and a srcdoc frame lives under this page's policy.
        f"style-src 'self' {styles}".rstrip(),
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-src 'self'",
        # The phone page's service worker and its web app manifest, from this site only.
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


BLOG_POLICY = "; ".join([
    "default-src 'self'", "script-src 'none'", "style-src 'self' 'unsafe-inline'", "img-src 'self' https: data:",
    "media-src 'self' https:", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'none'",
])
DOCS_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
    "style-src 'self' https://cdn.jsdelivr.net", "img-src 'self' data: https://fastapi.tiangolo.com",
    "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'",
])


def style_hash(css: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()


def blog_style_hashes(settings) -> tuple[str, ...]:
    """The hashes of the <style> blocks the blog's pages carry, read from a rendered page."""
    from dictation.publish.cms.blog import Blog

    _, _, body = Blog(settings).not_found("/blog/")
    return tuple(style_hash(css) for css in _STYLE_BLOCK.findall(body.decode("utf-8")))


def own_location(location: str, host: str) -> str:
    """`location` as a path when it names `host` (the request's Host header), else unchanged.
    The path starts with one slash only: `//x` or `/\\x` would send a browser to the host x."""
    parts = urlsplit(location)
    if not parts.scheme or not host or parts.netloc.lower() != host.lower():
        return location
    return urlunsplit(("", "", "/" + parts.path.lstrip("/\\"), parts.query, parts.fragment))


def csp_nonce(request) -> str:
    """The nonce of this answer's policy, for the few inline blocks a page must have."""
    return request.scope.get("state", {}).get("csp_nonce", "")


class SecurityHeaders:
    """Pure ASGI, so it wraps streamed answers (audio, uploads) as well as pages."""

    def __init__(self, app: ASGIApp, docs_path: str = "/api/v1/docs") -> None:
        self.app, self.docs_path = app, docs_path
        self._style_hashes: tuple[str, ...] | None = None

    def _hashes(self, scope: Scope) -> tuple[str, ...]:
        if self._style_hashes is None:
            self._style_hashes = blog_style_hashes(scope["app"].state.settings)
        return self._style_hashes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        path = scope["path"]
        if _CONTROL.search(unquote_to_bytes(raw)) or b"%00" in scope.get("query_string", b""):
            response = error_response(
                400, "bad_address", "This address holds a control character (such as %00); no page has one."
            )
            await response(scope, receive, self._with_headers(send, BLOG_POLICY))
            return
        if path == "/blog" or path.startswith("/blog/"):
            policy = BLOG_POLICY
        elif path == self.docs_path:
            policy = DOCS_POLICY
        else:
            nonce = secrets.token_urlsafe(16)
            scope.setdefault("state", {})["csp_nonce"] = nonce
            policy = desk_policy(nonce, self._hashes(scope))
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"").decode("latin-1")
        await self.app(scope, receive, self._with_headers(send, policy, host))

    @staticmethod
    def _with_headers(send: Send, policy: str, host: str = "") -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, own_location(value.decode("latin-1"), host).encode("latin-1"))
                           if name.lower() == b"location" else (name, value)
                           for name, value in message.get("headers", [])]
                present = {name.lower() for name, _ in headers}
                for name, value in {**_COMMON, "Content-Security-Policy": policy}.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers
