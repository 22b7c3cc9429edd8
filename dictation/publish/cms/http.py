"""HTTP plumbing shared by the CMS publishers: one timeout, one way to turn failures into
`PublishError`s. Timeouts, cut connections and 5xx are transient (worth a retry); a 4xx
is permanent and carries the CMS's own message. Secrets never reach a message."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from dictation.errors import PublishError

log = logging.getLogger("dictation.publish")

# Proxies from the environment would route loopback CMS traffic elsewhere.
_CLIENT_OPTIONS: dict[str, Any] = {"trust_env": False, "follow_redirects": False}


def make_client(timeout_s: float, **kwargs: Any) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout_s), **_CLIENT_OPTIONS, **kwargs)


def cms_message(response: httpx.Response) -> str:
    """The human part of an error answer: WordPress `message`, Ghost `errors[0].message`,
    Micropub `error_description`; else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        if isinstance(data.get("errors"), list) and data["errors"]:
            first = data["errors"][0]
            if isinstance(first, dict):
                parts = [str(first.get(k)) for k in ("message", "context") if first.get(k)]
                return " ".join(parts) or str(first)
        for key in ("message", "error_description", "error"):
            if data.get(key):
                return str(data[key])
    return str(data)[:300]


def request(
    client: httpx.Client, method: str, url: str, *, what: str, ok: tuple[int, ...] = (), **kwargs: Any
) -> httpx.Response:
    """Send one request; raise PublishError unless the answer is 2xx (or listed in `ok`)."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise PublishError(
            f"{what}: the server did not answer in time ({type(exc).__name__}).", transient=True
        ) from exc
    except httpx.TransportError as exc:
        raise PublishError(
            f"{what}: the connection failed ({type(exc).__name__}: {exc}).", transient=True
        ) from exc
    if response.is_success or response.status_code in ok:
        return response
    message = cms_message(response)
    status = response.status_code
    transient = status >= 500 or status in (408, 425, 429)
    log.info("%s answered HTTP %s for %s %s", what, status, method, _safe_url(url))
    raise PublishError(
        f"{what} answered HTTP {status}: {message}", transient=transient, http_status=status
    )


def _safe_url(url: str) -> str:
    # Micropub tokens may travel as access_token=...; keep query strings out of logs
    return str(url).split("?", 1)[0]
