"""A real HTTP server on loopback that serves page versions the tests swap at will.

Tests talk to it over TCP exactly as policywatch talks to Seller Central: no
mocks of our own code. Bodies may hold `{{request_id}}`, `{{session_id}}` and
`{{timestamp}}` markers, replaced with fresh values on every request, the way
the real site changes its per-request tokens.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

Body = str | bytes | Callable[[], str | bytes]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fresh_noise(text: str) -> str:
    """Replace the per-request markers with new values, as a real server would."""
    return (
        text.replace("{{request_id}}", secrets.token_hex(10).upper())
        .replace("{{session_id}}", f"{secrets.randbelow(999)}-{secrets.randbelow(9999999)}")
        .replace("{{timestamp}}", str(time.time_ns()))
    )


@dataclass
class Route:
    body: Body = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    etag: bool = False  # send an ETag and answer If-None-Match with 304
    gzip: bool = False
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


class PageServer:
    """`server.route("/p", body)` then fetch `server.url("/p")`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        handler = self._handler()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> PageServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: Body = "", **options) -> Route:
        route = Route(body=body, **options)
        with self._lock:
            self.routes[path] = route
        return route

    def route_in_turn(self, path: str, *bodies: str) -> None:
        """Each request gets the next body; the last one is served from then on."""
        queue = list(bodies)
        self.route(path, lambda: queue.pop(0) if len(queue) > 1 else queue[0])

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                """A beacon or a form: its body is read and dropped, the route answers as to GET."""
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with server._lock:
                    route = server.routes.get(path) or server.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain", {}, path)
                    return
                if route.delay:
                    time.sleep(route.delay)
                body = route.body() if callable(route.body) else route.body
                if isinstance(body, str):
                    body = fresh_noise(body).encode("utf-8")
                headers = dict(route.headers)
                if route.etag:
                    # The tag covers the stable body: markers are stripped before hashing.
                    stable = route.body() if callable(route.body) else route.body
                    if isinstance(stable, str):
                        stable = stable.encode("utf-8")
                    tag = '"' + hashlib.sha1(stable).hexdigest()[:16] + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        self._send(304, b"", route.content_type, headers, path)
                        return
                if route.gzip:
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                self._send(route.status, body, route.content_type, headers, path)

            def _send(self, status, body, ctype, headers, path) -> None:
                with server._lock:
                    server.requests.append(Seen(self.path, dict(self.headers), status))
                self.send_response(status)
                if status != 304:
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler
