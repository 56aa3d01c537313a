"""Real receivers on loopback for the delivery tests: an SMTP server and an HTTP endpoint.

policywatch sends through apprise over TCP exactly as it would to a mail
provider or a webhook; these catch what arrives so a test reads the email or
the JSON a seller would get. Nothing here knows about policywatch.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 that insists on a login, so the route's password is used.

    Created stopped on a reserved port: a test can point a route at it while it
    is "down" (connection refused) and `start()` it later.
    """

    USER = "alerts"
    PASSWORD = "Sm7p-s3cret-Pa55word"

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    def url(self) -> str:
        return (
            f"mailto://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}"
            "?from=policywatch@example.com&to=seller@example.com&mode=insecure"
        )

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.USER.encode()
            and data.password == self.PASSWORD.encode()
        )
        return AuthResult(success=ok)

    def start(self) -> SmtpReceiver:
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class HttpReceiver:
    """An HTTP server on 127.0.0.1 that records every JSON body posted to it.

    `status` is what it answers, so a test can make the endpoint fail; `delay` is how
    many seconds it takes to answer after recording a post, like a slow real receiver.
    """

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.posts.append({"path": self.path, "json": json.loads(body or b"null")})
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `posts`, not stderr."""

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/alerts") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
