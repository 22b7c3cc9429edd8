"""Request guards that sit in front of every route.

- One limit for JSON and form bodies (DICTATION_MAX_BODY_KB), counted as the bytes stream
  in, so a 100 MB body to the sign-in is refused after the first megabyte instead of being
  read into memory. The memo upload routes keep their own, larger limit (their bodies stream
  to disk); they are named in `OWN_LIMIT`.
- No X-HTTP-Method-Override: every check decides on the request's real method, so nothing
  behind it may run another one.
- One Authorization header: with two, what identifies the caller and what keys the answers kept
  for them (api/recent.py) could read different ones.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.paths import API_PREFIX, UPLOADS_PATH
from dictation.errors import TooLarge

# (method, path prefix) of routes that stream a recording to disk under DICTATION_MAX_UPLOAD_MB.
OWN_LIMIT = (("POST", f"{API_PREFIX}/memos"), ("POST", UPLOADS_PATH + "/"), ("PATCH", UPLOADS_PATH + "/"))
# (method, path end) of routes with a limit of their own: a post's image (DICTATION_MAX_IMAGE_MB).
OWN_LIMIT_ENDS = (("PUT", "/featured-image"),)


class BodyTooLarge(TooLarge):
    pass


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _message(self) -> str:
        return (f"The request body is larger than the limit of {self.max_body_bytes // 1024} KB; "
                "send less text at once.")

    def _own_limit(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return (any(method == m and (path == p.rstrip("/") or path.startswith(p)) for m, p in OWN_LIMIT)
                or any(method == m and path.startswith(f"{API_PREFIX}/") and path.endswith(e)
                       for m, e in OWN_LIMIT_ENDS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"x-http-method-override" in headers:
            await _answer(send, 400, "method_override",
                          "This server does not accept X-HTTP-Method-Override; send the real HTTP method.")
            return
        if sum(name == b"authorization" for name, _ in scope["headers"]) > 1:
            await _answer(send, 400, "several_credentials",
                          "Send one Authorization header, not several: which one counts would be a guess.")
            return
        if self._own_limit(scope):
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > limit:
            await _answer(send, 413, "too_large", self._message())
            return
        received = 0
        exceeded = answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(self._message(), max_bytes=limit)
            return message

        async def watching_send(message: Message) -> None:
            # Whatever the app made of the interrupted body (a parse error, a 500), the
            # person gets the reason: too large.
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True
                await _answer(send, 413, "too_large", self._message())

        try:
            await self.app(scope, counting_receive, watching_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            await _answer(send, 413, "too_large", self._message())


def install(app, settings) -> None:
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_kb * 1024)
