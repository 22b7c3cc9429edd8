"""Request ids and metrics for the HTTP side.

Every request gets an id (the caller's `X-Request-ID` when it is a plain short token, else a new
one), answered in `X-Request-ID`, stamped on each log line of the request and stored on the jobs
it queues (`Job.request_id` defaults to it). Its latency is counted by route template
(`/api/v1/memos/{memo_id}`), never by raw path, so metrics stay a bounded set of series.
`/metrics` answers only with `Authorization: Bearer <DICTATION_METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac
import logging
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dictation import context
from dictation.errors import NotAuthenticated, NotFound
from dictation.telemetry import metrics

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "<unmatched>"


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): uploads and audio keep streaming through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value.decode("latin-1") for name, value in scope.get("headers", [])
                      if name == b"x-request-id"), None)
        request_id = context.clean_request_id(given)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with context.bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                metrics.http_request(scope.get("method", ""), route_template(scope), status,
                                     time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """`/api/v1/memos/{memo_id}` for a request to /api/v1/memos/42.

    FastAPI hands the route as declared in its router (`/memos/{memo_id}`), without the prefix
    the router was included under: the prefix is what precedes the part of the path the route's
    own pattern matches. A mounted app (static files, uploads) counts as its mount point.
    """
    route, path = scope.get("route"), scope.get("path", "")
    template, regex = getattr(route, "path", None), getattr(route, "path_regex", None)
    if template and regex is not None:
        for cut in [i for i, char in enumerate(path) if char == "/"]:
            if regex.fullmatch(path[cut:]):
                return path[:cut] + template
        return template
    mount = scope.get("root_path", "")
    return f"{mount}/{{path}}" if mount else UNMATCHED


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if not token:
        raise NotFound("Metrics are off here: set DICTATION_METRICS_TOKEN (or DICTATION_METRICS_PORT).")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise NotAuthenticated("Send the metrics token as `Authorization: Bearer <DICTATION_METRICS_TOKEN>`.")
    body = await run_in_threadpool(metrics.render, request.app.state.database)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    app.add_middleware(RequestContextMiddleware)
    app.include_router(router)
