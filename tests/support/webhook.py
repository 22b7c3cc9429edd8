"""A real webhook receiver for the publishing tests: an HTTP server on a free loopback port
that checks each signature the way the Standard Webhooks spec tells receivers to, written
from the spec, independently of dictation.publish.cms.webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_" + base64.b64encode(b"a receiver's 32 byte signing key!").decode()


def receiver_accepts(secret: str, headers, body: bytes) -> bool:
    """Written from the spec, independently of dictation.publish.webhook."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in offered)


class Receiver:
    def __init__(self, tamper: bool = False, fail_first: int = 0) -> None:
        self.accepted: list[dict] = []
        self.rejected = 0
        self.seen_ids: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if tamper:
                    body = body.replace(b"Quarterly", b"Quarterlx")
                outer.seen_ids.append(self.headers["webhook-id"])
                if not receiver_accepts(SECRET, self.headers, body):
                    outer.rejected += 1
                    return self._answer(401, {"error": "bad signature"})
                if len(outer.seen_ids) <= fail_first:
                    return self._answer(503, {"error": "busy"})
                if self.headers["webhook-id"] not in [a["id"] for a in outer.accepted]:
                    outer.accepted.append({"id": self.headers["webhook-id"], **json.loads(body)})
                self._answer(200, {"id": f"post-{len(outer.accepted)}", "url": "https://cms.example/p"})

            def _answer(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/dictation"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
