"""HTTP plumbing shared by the CMS publishers: one timeout, one guarded way out, one way to
turn failures into `PublishError`s.

Timeouts, cut connections and 5xx are transient (worth a retry); a 4xx is permanent. The
CMS's own answer is logged for the admin but never put in a message: memo errors are read
by authors, and a destination URL pointed at an internal service must not become a way to
read that service. Secrets never reach a message.

Destinations are typed in by admins, so their addresses are checked twice: when saved
(`check_destination_url`: http(s) only, and no loopback, link-local or private address
unless DICTATION_ALLOW_PRIVATE_DESTINATIONS) and again for every connection, on the
address actually connected to (`_GuardedBackend`), so a name that resolves to a public
address when saved and to 127.0.0.1 later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from dictation.errors import InvalidInput, PublishError
from dictation.settings import Settings

log = logging.getLogger("dictation.publish")

# Proxies from the environment would route loopback CMS traffic elsewhere.
_CLIENT_OPTIONS: dict[str, Any] = {"trust_env": False, "follow_redirects": False}
ALLOWED_SCHEMES = ("http", "https")

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a literal address resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str, allow_private: bool) -> str | None:
    """Why a connection to `address` is refused, or None. Link-local (169.254.0.0/16 holds
    the cloud metadata service) is refused even where private addresses are allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "a link-local address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "this server itself (loopback)"
    if not ip.is_global or ip.is_multicast:
        return "a private or reserved address"
    return None


def check_destination_url(url: str, allow_private: bool, resolver: Resolver = resolve) -> str:
    """The URL, or InvalidInput with a sentence. A name that does not resolve now is let
    through (DNS may come later); the connection-time check still applies then."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInput("This destination address is not a valid URL.") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InvalidInput("A destination address must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidInput("A destination address must name a server, e.g. https://blog.example.com/.")
    if parts.username or parts.password:
        raise InvalidInput("Put the user name and secret in their own fields, not in the address.")
    try:
        addresses = resolver(parts.hostname, port)
    except (OSError, UnicodeError):
        return url.strip()
    for address in addresses:
        why = refusal(address, allow_private)
        if why:
            raise InvalidInput(
                f"{parts.hostname} points to {why}; destinations must be on the public internet "
                "unless the administrator sets DICTATION_ALLOW_PRIVATE_DESTINATIONS."
            )
    return url.strip()


class DestinationRefused(Exception):
    """A connection to an address destinations may not reach. Not an httpcore error on
    purpose: httpx would turn it into a plain ConnectError, retried as a passing failure."""


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, checks each address, and connects to the checked address,
    so the check and the connection cannot see two different DNS answers. TLS still
    verifies the certificate against the host name (httpcore passes it as SNI)."""

    def __init__(self, allow_private: bool, resolver: Resolver = resolve) -> None:
        self.allow_private, self.resolver = allow_private, resolver

    def connect_tcp(self, host: str, port: int, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self.resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        last: Exception | None = None
        for address in addresses:
            why = refusal(address, self.allow_private)
            if why:
                last = DestinationRefused(f"{host} points to {why}")
                continue
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool, resolver: Resolver = resolve, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx takes no backend argument; the pool it built is the one place to plug it in.
        self._pool._network_backend = _GuardedBackend(allow_private, resolver)


def make_client(settings: Settings, resolver: Resolver = resolve, **kwargs: Any) -> httpx.Client:
    transport = GuardedTransport(settings.allow_private_destinations, resolver)
    return httpx.Client(
        timeout=httpx.Timeout(settings.publish_timeout_s), transport=transport, **_CLIENT_OPTIONS, **kwargs
    )


def cms_message(response: httpx.Response) -> str:
    """The human part of an error answer, for the log: WordPress `message`, Ghost
    `errors[0].message`, Micropub `error_description`; else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        if isinstance(data.get("errors"), list) and data["errors"]:
            first = data["errors"][0]
            if isinstance(first, dict):
                parts = [str(first.get(k)) for k in ("message", "context") if first.get(k)]
                return " ".join(parts) or str(first)[:300]
        for key in ("message", "error_description", "error"):
            if data.get(key):
                return str(data[key])[:300]
    return str(data)[:300]


_STATUS_SENTENCES = {
    400: "it refused the post as malformed",
    401: "it did not accept the destination's credentials; an admin should check the user and secret",
    403: "it did not allow this; an admin should check the destination's account and its rights",
    404: "nothing answers at that address; an admin should check the destination's URL",
    405: "that address does not take posts; an admin should check the destination's URL",
    409: "it reported a conflict with an existing post",
    413: "the post or its attachment is too large for it",
    415: "it does not accept this kind of content",
    422: "it refused the post's content",
    429: "it asked us to slow down",
}


def status_sentence(status: int) -> str:
    if status in _STATUS_SENTENCES:
        return _STATUS_SENTENCES[status]
    return "it failed on its side" if status >= 500 else "it refused the request"


def request(
    client: httpx.Client, method: str, url: str, *, what: str, ok: tuple[int, ...] = (), **kwargs: Any
) -> httpx.Response:
    """Send one request; raise PublishError unless the answer is 2xx (or listed in `ok`)."""
    try:
        response = client.request(method, url, **kwargs)
    except DestinationRefused as exc:
        raise PublishError(
            f"{what}: the address is not allowed ({exc}); an admin can change the destination.",
            transient=False,
        ) from exc
    except httpx.TimeoutException as exc:
        raise PublishError(
            f"{what}: the server did not answer in time ({type(exc).__name__}).", transient=True
        ) from exc
    except httpx.TransportError as exc:
        raise PublishError(
            f"{what}: the connection failed ({type(exc).__name__}).", transient=True
        ) from exc
    if response.is_success or response.status_code in ok:
        return response
    status = response.status_code
    transient = status >= 500 or status in (408, 425, 429)
    log.warning("%s answered HTTP %s for %s %s: %r", what, status, method, _safe_url(url), cms_message(response))
    raise PublishError(
        f"{what} answered HTTP {status}: {status_sentence(status)}.", transient=transient, http_status=status
    )


def _safe_url(url: str) -> str:
    # Micropub tokens may travel as access_token=...; keep query strings out of logs
    return str(url).split("?", 1)[0]
