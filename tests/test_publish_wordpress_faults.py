"""Faults between the desk and a real WordPress: a fault-injecting HTTP proxy of our own
sits in front of the peer. Whatever goes wrong, exactly one post exists per draft at the
end, and the publication either succeeded or failed with its reason."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

from dictation.errors import PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.idempotent import RetryPolicy, publish_with_retries
from dictation.settings import Settings
from tests.support.faults import forward, read_request

pytestmark = pytest.mark.peers

CLIENT_TIMEOUT_S = 3.0


@dataclass
class FaultProxy:
    """Forwards one request per connection to the upstream server. Requests whose first
    line contains `target` consume `faults` in order; others, and later ones, pass."""

    upstream: tuple[str, int]
    target: str = "POST /wp-json/wp/v2/posts"
    faults: list[str] = field(default_factory=list)  # reset_after | 503 | 503_after | slow
    seen: list[str] = field(default_factory=list)  # the fault each targeted request got

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = read_request(conn)
            if request is None:
                return
            first_line = request.split(b"\r\n", 1)[0].decode("latin-1")
            fault = "pass"
            with self.lock:
                if self.target in first_line and self.faults:
                    fault = self.faults.pop(0)
                if self.target in first_line:
                    self.seen.append(fault)
            if fault == "503":  # refused before WordPress saw anything
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            answer = self._forward(request)  # WordPress has now done the work
            if fault == "reset_after":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return  # closing with linger 0 sends a TCP reset instead of the answer
            if fault == "503_after":
                body = b'{"message":"upstream went away"}'
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))  # fmt: skip
                return
            if fault == "slow":
                time.sleep(CLIENT_TIMEOUT_S + 1.5)
            try:
                conn.sendall(answer)
            except OSError:
                pass  # the client gave up waiting, as intended

    def _forward(self, request: bytes) -> bytes:
        return forward(self.upstream, request, timeout=60)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def proxy(wordpress_peer):
    parts = urlsplit(wordpress_peer["WP_BASE_URL"])
    fault_proxy = FaultProxy(upstream=(parts.hostname, parts.port))
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def publisher(proxy, wordpress_peer, tmp_path):
    destination = Destination(
        kind="wordpress", url=f"http://127.0.0.1:{proxy.port}",
        user=wordpress_peer["WP_USER"], secret=wordpress_peer["WP_APP_PASSWORD"],
    )  # fmt: skip
    wp = get_publisher(destination, Settings(data_dir=tmp_path, publish_timeout_s=CLIENT_TIMEOUT_S))
    yield wp
    wp.close()


def _count_posts(wordpress_peer, post: Post) -> int:
    """Posts of this draft as WordPress lists them, by the marker and by the slug."""
    auth = (wordpress_peer["WP_USER"], wordpress_peer["WP_APP_PASSWORD"])
    found = set()
    for params in ({"search": post.marker}, {"slug": post.slug}):
        response = httpx.get(
            wordpress_peer["WP_BASE_URL"] + "/wp-json/wp/v2/posts",
            params={**params, "status": "any", "context": "edit"}, auth=auth, timeout=30,
        )  # fmt: skip
        found |= {p["id"] for p in response.json()}
    return len(found)


def _post() -> Post:
    draft = uuid.uuid4().hex[:10]
    return Post(draft_id=draft, title=f"Fault test {draft}", slug=f"fault-{draft}", body_markdown="Body.")


@pytest.mark.parametrize("faults", [["reset_after"], ["503"], ["503_after"], ["slow"], ["reset_after", "slow", "503"]])
def test_publish_through_faults_leaves_exactly_one_post(proxy, publisher, wordpress_peer, faults):
    proxy.faults = list(faults)
    waits: list[float] = []
    post = _post()

    outcome = publish_with_retries(
        publisher, post, policy=RetryPolicy(attempts=5, base_delay_s=0.5), sleep=waits.append
    )

    assert _count_posts(wordpress_peer, post) == 1
    assert outcome.attempts == len(faults) + 1
    assert len(outcome.errors) == len(faults) and len(waits) == len(faults)
    assert proxy.seen[: len(faults)] == faults  # each fault really happened
    assert outcome.remote.status == "publish"


def test_publish_fails_with_reason_when_wordpress_stays_down(proxy, publisher, wordpress_peer):
    proxy.faults = ["503"] * 10
    post = _post()

    with pytest.raises(PublishError) as caught:
        publish_with_retries(publisher, post, policy=RetryPolicy(attempts=3), sleep=lambda s: None)

    assert caught.value.transient
    assert "503" in caught.value.message and "3 attempts" in caught.value.message
    assert _count_posts(wordpress_peer, post) == 0


def test_publish_fails_after_resets_but_keeps_one_post(proxy, publisher, wordpress_peer):
    proxy.target = "/wp-json/wp/v2/posts"  # creates and the updates that follow a find
    proxy.faults = ["reset_after"] * 10
    post = _post()

    with pytest.raises(PublishError) as caught:
        publish_with_retries(publisher, post, policy=RetryPolicy(attempts=3), sleep=lambda s: None)

    assert "connection" in caught.value.message
    assert _count_posts(wordpress_peer, post) == 1
