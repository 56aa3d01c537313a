"""The demo's help site: one article on 127.0.0.1, before and after an edit, and a webhook.

Bound to port 0 on the loopback address only, so the demo needs no network and can run
next to anything else; the webhook receives the alert the demo's route sends, so even
the delivery stays on this machine.
"""

from __future__ import annotations

import http.server
import threading
from importlib import resources
from types import TracebackType
from typing import Any

PAGE_ID = "contacting-buyers"
PAGE_TITLE = "Contacting buyers"
PAGE_PATH = f"/help/{PAGE_ID}"
WEBHOOK_PATH = "/alerts"

# The edit, as policy pages really change: an obligation flips, a day limit moves, a
# watched word appears, and the page's date moves with them. Each old text occurs once.
EDITS: tuple[tuple[str, str], ...] = (
    ("You may include a link", "You may not include a link"),
    ("between 4 and 30 days", "between 5 and 30 days"),
    ("Do not send inappropriate messages", "Do not send unsolicited or inappropriate messages"),
    ("Last updated: March 3, 2026", "Last updated: November 18, 2026"),
)


def article(*, edited: bool) -> str:
    """The demo article's HTML, as first published or after the edit."""
    text = resources.files(__package__).joinpath("pages", "contacting-buyers.html")
    page = text.read_text("utf-8")
    for old, new in EDITS if edited else ():
        page = page.replace(old, new, 1)
    return page


class DemoSite:
    """The article at PAGE_PATH and a webhook at WEBHOOK_PATH, served from a thread."""

    def __init__(self) -> None:
        self.edited = False
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != PAGE_PATH:
                    self._answer(404, b"not found", "text/plain")
                    return
                body = article(edited=site.edited).encode("utf-8")
                self._answer(200, body, "text/html; charset=utf-8")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)  # the alert: shown by the demo as composed
                self._answer(200 if self.path == WEBHOOK_PATH else 404, b"", "text/plain")

            def _answer(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the demo prints what policywatch saw, not a request log."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def page_url(self) -> str:
        return self.origin + PAGE_PATH

    @property
    def webhook_url(self) -> str:
        """The demo's own route: apprise's JSON webhook, posting to this site."""
        return "json://" + self.origin.removeprefix("http://") + WEBHOOK_PATH

    def __enter__(self) -> DemoSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
