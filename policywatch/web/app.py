"""`policywatch serve`: the web view as a WSGI application, read-only by construction.

Only GET and HEAD are answered (405 otherwise); every page id and version in a URL is looked
up in the store, never joined into a file path; every answer carries a strict
Content-Security-Policy (no script at all) so a policy page's text can never run in the
seller's browser. Optional HTTP basic auth comes from POLICYWATCH_WEB_USER/PASSWORD.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from policywatch.errors import UsageError
from policywatch.history.store import Store
from policywatch.models import Config, short_id
from policywatch.run.daemon import health
from policywatch.web import feeds, pages
from policywatch.web.desk import Desk
from policywatch.web.pages import Missing, Rendered
from policywatch.web.render import POLICY, STATIC, Templates

SECURITY_HEADERS = [
    ("Content-Security-Policy", f"{POLICY}; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
]
HTML = "text/html; charset=utf-8"
USER_ENV, PASSWORD_ENV = "POLICYWATCH_WEB_USER", "POLICYWATCH_WEB_PASSWORD"
MISDIRECTED = (
    b"without POLICYWATCH_WEB_USER/POLICYWATCH_WEB_PASSWORD this view answers only to localhost, "
    b"an IP address or the host of defaults.base_url\n"
)

Answer = tuple[str, str, bytes]  # status, content type, body
StartResponse = Callable[..., Any]


class WebApp:
    """The WSGI application over one data directory."""

    def __init__(
        self,
        data_dir: Path,
        config: Config | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.desk = Desk(data_dir, config)
        self.templates = Templates(static=False)
        self.base_url = config.defaults.base_url if config else None
        self._base_host = urlsplit(self.base_url).hostname if self.base_url else None
        self.credentials = credentials
        self._one_at_a_time = threading.Lock()  # the Desk's caches serve one request at a time

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        extra: list[tuple[str, str]] = []
        if method not in ("GET", "HEAD"):
            status, kind, body = "405 Method Not Allowed", "text/plain", b"read-only: GET only\n"
            extra.append(("Allow", "GET, HEAD"))
        elif self.credentials is None and not self._known_host(environ.get("HTTP_HOST", "")):
            status, kind, body = "421 Misdirected Request", "text/plain", MISDIRECTED
        elif not self._authorized(environ.get("HTTP_AUTHORIZATION", "")):
            status, kind, body = "401 Unauthorized", "text/plain", b"sign in\n"
            extra.append(("WWW-Authenticate", 'Basic realm="policywatch", charset="UTF-8"'))
        else:
            with self._one_at_a_time:
                status, kind, body = self.answer(environ)
        headers = [("Content-Type", kind), ("Content-Length", str(len(body)))]
        start_response(status, headers + SECURITY_HEADERS + extra)
        return [b"" if method == "HEAD" else body]

    def _known_host(self, header: str) -> bool:
        """Without a password, answer only to an address, localhost or base_url's host.

        A web page the seller visits can point its own domain at 127.0.0.1 (DNS rebinding)
        and read an unlocked view as its own origin; the browser then sends that domain as
        Host, which is how it is told apart. A password stops it anyway: the browser has none
        to send to that domain.
        """
        try:
            name = urlsplit("//" + header).hostname if header else None
        except ValueError:
            return False
        if name is None or name == "localhost" or name == self._base_host:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def _authorized(self, header: str) -> bool:
        if self.credentials is None:
            return True
        scheme, _, encoded = header.partition(" ")
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            return False
        expected = ":".join(self.credentials).encode("utf-8")
        return scheme.lower() == "basic" and hmac.compare_digest(given, expected)

    def answer(self, environ: dict[str, Any]) -> Answer:
        raw_path = environ.get("PATH_INFO", "/") or "/"
        # PATH_INFO arrives percent-decoded, as WSGI bytes in latin-1; it is never decoded twice.
        path = raw_path.encode("latin-1").decode("utf-8", "replace")
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        parts = [p for p in path.split("/") if p]
        self.desk.refresh()
        try:
            return self.route(parts, query, raw_path, environ)
        except Missing as missing:
            page = Rendered("missing.html", {"what": missing.what, "known": missing.known})
            return "404 Not Found", HTML, self._html(page, raw_path)

    def route(
        self, parts: list[str], query: dict[str, str], path: str, environ: dict[str, Any]
    ) -> Answer:
        desk = self.desk
        match parts:
            case []:
                return self._ok(pages.overview(desk, query), path)
            case ["timeline"]:
                number = _page_number(query.get("p", ""))
                link = _pager("timeline", query)
                return self._ok(pages.timeline(desk, query, number), path, page_path=link)
            case ["changes", page_id, pair] if ".." in pair:
                old, _, new = pair.partition("..")
                return self._ok(pages.change(desk, page_id, old, new), path)
            case ["pages", page_id]:
                return self._ok(pages.history(desk, page_id), path)
            case ["pages", page_id, "compare"]:
                refs = (query.get("old", "latest~1"), query.get("new", "latest"))
                return self._ok(pages.versions(desk, page_id, *refs), path)
            case ["compare", page, first, second]:
                return self._ok(pages.markets(desk, page, first, second), path)
            case ["health"]:
                check = lambda: health(desk.data_dir)  # noqa: E731
                return self._ok(pages.health(desk, check), path)
            case ["snapshots", page_id, name] if name.endswith(".txt"):
                return "200 OK", "text/plain; charset=utf-8", self._raw(page_id, name[:-4])
            case ["static", name] if name in STATIC:
                return "200 OK", *STATIC[name]
            case ["favicon.ico"]:  # what browsers ask for on a page of plain text
                return "200 OK", *STATIC["icon.svg"]
            case ["calendar.ics"]:
                return "200 OK", "text/calendar; charset=utf-8", feeds.calendar(desk)
            case ["feeds", *rest]:
                feed = feeds.route(desk, rest, self._base(environ))
                return "200 OK", "application/atom+xml; charset=utf-8", feed
        raise Missing(
            f"no page at {path}",
            ["/", "/timeline", "/health", "/feeds/changes.atom", "/calendar.ics"]
            + [f"/pages/{p}" for p in desk.page_ids()],
        )

    def _ok(self, page: Rendered, path: str, **extra: Any) -> Answer:
        return "200 OK", HTML, self._html(page, path, **extra)

    def _html(self, page: Rendered, path: str, **extra: Any) -> bytes:
        return self.templates.render(page, path, **extra).encode("utf-8")

    def _raw(self, page_id: str, ref: str) -> bytes:
        versions = self.desk.snapshots(page_id) if page_id in self.desk.page_ids() else []
        snap = next((s for s in versions if short_id(s.id) == ref), None)
        if snap is None:
            known = [f"{short_id(s.id)}.txt" for s in versions] or self.desk.page_ids()
            raise Missing(f"no stored version {ref!r} of {page_id!r}", known)
        return self.desk.store.raw_html(snap)

    def _base(self, environ: dict[str, Any]) -> str:
        """Absolute links for feeds: the configured base_url, else where we were reached.

        The Host header is the client's own word, so a forged one only misleads whoever
        forged it: a shared cache keys on the host too, and without a password only the
        hosts `_known_host` accepts get this far. Behind a proxy, set base_url.
        """
        if self.base_url:
            return self.base_url
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}"


def _page_number(text: str) -> int:
    """`?p=`, or 1 when it is no number int() takes: "²" passes isdigit() and 5,000 digits
    pass isdecimal(), yet int() refuses both, which made the timeline answer 500."""
    try:
        return int(text) if text.isdecimal() else 1
    except ValueError:
        return 1


def _pager(path: str, query: dict[str, str]) -> Callable[[int], str]:
    kept = {k: v for k, v in query.items() if k != "p" and v}
    return lambda n: f"{path}?{urlencode({**kept, 'p': n})}"


def credentials_from_env() -> tuple[str, str] | None:
    """Both variables, or neither: one alone (a password left empty in .env) would otherwise
    serve the view to anyone while its owner believes it is locked."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if bool(user) != bool(password):
        given, missing = (USER_ENV, PASSWORD_ENV) if user else (PASSWORD_ENV, USER_ENV)
        raise UsageError(f"{given} is set but {missing} is empty: set both, or neither")
    return (user, password) if user and password else None


def open_app(data_dir: Path, config: Config | None) -> WebApp:
    """The app, after checking the data directory opens (a damaged one is one clear line)."""
    Store(data_dir)
    return WebApp(data_dir, config, credentials_from_env())
