"""Fetch policy pages over plain HTTP, politely, and never raise for network trouble.

A monitor that polls for months meets every kind of failure: refused
connections, rate limits, 503s, slow or endless bodies, gzip bombs, pages with a
wrong or missing charset. Each one becomes a `FetchResult` with status "error"
and a sentence saying what happened and what to do, so the pipeline records it
and moves on; none of them may become a snapshot or stop the other pages.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import heapq
import itertools
import logging
import queue
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from policywatch import __version__
from policywatch.document.extract import remember_utf8_source
from policywatch.fetch import netpolicy
from policywatch.fetch.netpolicy import shown_url
from policywatch.models import Defaults, FetchResult, PageSpec

log = logging.getLogger("policywatch.fetch")  # the name operators filter on

PROJECT_URL = "https://github.com/policywatch/policywatch"
USER_AGENT = f"policywatch/{__version__} (+{PROJECT_URL}; policy change monitor)"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

CHUNK_BYTES = 64 * 1024
META_SNIFF_BYTES = 4096
RETRY_AFTER_CAP = 60.0  # never sleep longer than this on one Retry-After
RETRY_BUDGET = 120.0  # total seconds one page may spend waiting between attempts
MAX_REDIRECTS = 10  # hops followed after the page's own URL, each checked by netpolicy
DEADLINE_FIRST = 1.0  # seconds socket timeouts are set beyond an attempt's deadline

Job = tuple[PageSpec, str | None, str | None]  # page, etag, last_modified
T = TypeVar("T")

_HTML_TYPES = ("text/", "application/xhtml+xml", "application/xml")
_HTML_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([a-zA-Z]{2,3})")
# Latin-script languages whose legacy code page is not windows-1252.
_OTHER_LATIN_LANGUAGES = frozenset(
    ["az", "bs", "cs", "et", "hr", "hu", "lt", "lv", "pl", "ro", "sk", "sl", "sq", "sr", "tr"]
)
WESTERN_MARGIN = 0.03  # detector "chaos" within which windows-1252 wins the tie
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
# Browsers decode these labels as windows-1252 (WHATWG Encoding), and so do pages
# that say latin-1 but use curly quotes; an ASCII-compatible page cannot be UTF-16.
_CODEC_AS_BROWSERS_DO = {
    "ascii": "cp1252",
    "latin_1": "cp1252",
    "iso8859-1": "cp1252",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_STATUS_ADVICE = {
    401: "the page now needs a login; check the URL in a browser",
    403: "the site refused this client (blocked or login required); check the URL in a browser "
    "and consider a longer interval",
    404: "the page moved or was removed; check the URL",
    410: "the page was removed; find its new URL",
}


@dataclass(frozen=True)
class _Transient:
    """A failed attempt worth retrying: a network error, a 429 or a 5xx."""

    reason: str
    advice: str
    http_status: int | None = None
    final_url: str | None = None
    retry_after: float | None = None


class _TooLarge(Exception):
    """The body passed the byte cap; the page is not read further."""


class _Deadline:
    """A wall-clock limit on one attempt (connect, headers, body) that a slow peer cannot stretch.

    Socket timeouts bound each recv, not the whole answer: a server sending one
    byte a second, or an endless chunked body, never trips them. So when the
    time is up (on the monotonic clock) `_Reaper` cuts (shuts down) every socket
    the attempt uses: the blocked read returns at once, whatever phase it is in,
    and the attempt sees `expired`. The sockets are found through the connection
    classes below, which report to the deadline of the thread using them.
    """

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Deadline:
        _Deadline._current.value = self
        _REAPER.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _Deadline._current.value = None
        with self._lock:
            self.done = True
            self._sockets.clear()

    @classmethod
    def watch(cls, sock: object) -> None:
        """Put a socket of the current attempt under its deadline (no-op outside one)."""
        deadline = getattr(cls._current, "value", None)
        if deadline is None or not isinstance(sock, socket.socket):
            return
        with deadline._lock:
            deadline._sockets.append(sock)
            if deadline.expired:
                _cut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self._sockets:
                _cut(sock)


class _Reaper:
    """One thread that expires every attempt's deadline on time: no thread per fetch."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()  # ties never compare two deadlines
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self._wake:
            heapq.heappush(self._due, (deadline.ends, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="policywatch-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                left = self._due[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._due)[2].expire()


_REAPER = _Reaper()


def _cut(sock: socket.socket) -> None:
    """Wake any thread blocked on the socket: its read returns end-of-file at once.

    `socket.socket.shutdown` on the file descriptor, not SSLSocket's override, which
    would drop the TLS object under the reading thread.
    """
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)  # before the TLS handshake, which a peer can trickle too
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _Deadline.watch(self.sock)  # a reused keep-alive connection made no new socket
        return super().getresponse(*args, **kwargs)


class _WatchedTLSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class _Adapter(HTTPAdapter):
    """Connections that dial only what the address policy allows and obey the attempt's deadline.

    Proxied connections are watched too; the policy leaves them to the proxy (see netpolicy).
    """

    def __init__(self, allow_private: bool, **options: Any) -> None:
        policy = {"allow_private": allow_private}
        plain = type("_Http", (netpolicy.Guarded, _WatchedConnection), policy)
        tls = type("_Https", (netpolicy.Guarded, _WatchedTLSConnection), policy)
        self._pools = {
            "http": type("_HttpPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("_HttpsPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
        }
        super().__init__(**options)  # builds the pool manager, so the pools come first

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


class _Session(requests.Session):
    """A Session that reads proxy and CA-bundle settings from the environment once per host.

    requests scans os.environ for them (and matches NO_PROXY) on every request, a
    tenth of a millisecond each time, paid for every page of every poll. A Fetcher
    serves one check, so reading them at its first request to a host still honours
    HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE as set when the check starts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_origin: dict[tuple[str, str, bool | None], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: bool | None, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or verify is not None or cert is not None:  # set for this request
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, netloc, *_ = urlsplit(url)
        key = (scheme, netloc, stream)
        settings = self._by_origin.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, stream, None, None)
            self._by_origin[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


class Fetcher:
    """One HTTP session for a whole run: connection reuse, politeness limits, retries."""

    def __init__(
        self,
        defaults: Defaults,
        user_agent: str | None = None,
        *,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.defaults = defaults
        self.backoff = backoff  # first retry waits about this many seconds, then doubles
        self._sleep = sleep
        # One session per address policy, so a connection opened for an `allow_private`
        # page is never reused for a page that may not reach that address.
        self._sessions = {
            allow: self._session(allow, user_agent or defaults.user_agent or USER_AGENT)
            for allow in (False, True)
        }

    def _session(self, allow_private: bool, user_agent: str) -> _Session:
        session = _Session()
        pool = max(self.defaults.workers, self.defaults.per_host, 1)
        adapter = _Adapter(allow_private, pool_connections=pool, pool_maxsize=pool, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = user_agent
        session.headers["Accept"] = ACCEPT
        return session

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()

    # ------------------------------------------------------------------ one page

    def fetch(
        self, page: PageSpec, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch one page, retrying transient failures; a 304 is "not_modified".

        Each attempt has a hard deadline of the page's timeout, and running out
        of it is final (a trickling site trickles again), so one fetch lasts at
        most `retries` x timeout plus RETRY_BUDGET of waits between attempts.
        """
        started = time.monotonic()
        headers = dict(page.headers)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = max(1, self.defaults.retries)
        waited = 0.0
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(page, headers, etag, last_modified)
            if isinstance(outcome, FetchResult):
                return replace(outcome, elapsed=time.monotonic() - started)
            log.info("page=%s attempt %d/%d failed: %s", page.id, attempt, attempts, outcome.reason)
            if attempt == attempts:
                break
            delay, why_not = self._delay(attempt, outcome.retry_after, waited)
            if why_not:
                reason = f"{outcome.reason}; {why_not}"
                return self._failed(page, outcome, reason, started)
            self._sleep(delay)
            waited += delay
        tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
        reason = f"{outcome.reason} {tries}; {outcome.advice}"
        return self._failed(page, outcome, reason, started)

    def _failed(
        self, page: PageSpec, outcome: _Transient, reason: str, started: float
    ) -> FetchResult:
        return FetchResult(
            url=page.url,
            status="error",
            final_url=outcome.final_url,
            http_status=outcome.http_status,
            reason=reason,
            elapsed=time.monotonic() - started,
        )

    def _delay(
        self, attempt: int, retry_after: float | None, waited: float
    ) -> tuple[float, str | None]:
        """Seconds to wait before the next attempt, or why we stop retrying now."""
        if retry_after is not None and retry_after > RETRY_AFTER_CAP:
            return 0.0, (
                f"the server asked us to wait {retry_after:.0f} s, longer than the "
                f"{RETRY_AFTER_CAP:.0f} s one poll waits; the next poll will try again"
            )
        backoff = self.backoff * 2 ** (attempt - 1)
        delay = backoff / 2 + random.uniform(0, backoff / 2)  # jitter spreads out retries
        delay = min(max(delay, retry_after or 0.0), RETRY_AFTER_CAP)
        if waited + delay > RETRY_BUDGET:
            return 0.0, (
                f"gave up after waiting {waited:.0f} s in retries; the next poll will try again"
            )
        return delay, None

    def _attempt(
        self,
        page: PageSpec,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult | _Transient:
        """One request under a hard deadline of the page's timeout; running out is final."""
        with _Deadline(page.timeout) as deadline:
            outcome = self._request(page, headers, etag, last_modified)
        if deadline.expired:
            return _error(page, timed_out(page.timeout))
        return outcome

    def _request(
        self,
        page: PageSpec,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult | _Transient:
        try:
            response = self._get(page, headers)
        except netpolicy.Refused as exc:
            return _error(page, exc.reason)
        except requests.exceptions.SSLError as exc:
            return _error(
                page,
                f"TLS error talking to {page.host}: {_root_cause(exc)}; "
                "check the URL (https host name) and the system certificates",
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return _network_trouble(page, exc)
        except requests.TooManyRedirects:
            return _error(
                page,
                "too many redirects (a redirect loop, often a sign-in or cookie "
                "wall); open the URL in a browser to see where it leads",
            )
        except requests.RequestException as exc:
            return _error(page, f"request failed: {_root_cause(exc)}; check the URL")
        with response:
            refused = _judge_status(page, response, etag, last_modified)
            if refused is not None:
                _drain(response)
                return refused
            return self._answer(page, response)

    def _get(self, page: PageSpec, headers: dict[str, str]) -> requests.Response:
        """GET the page, following redirects ourselves so each hop is checked before it is asked.

        Raises netpolicy.Refused naming the hop, requests' errors for network trouble.
        """
        session = self._sessions[page.allow_private]
        url = page.url
        for hop in range(MAX_REDIRECTS + 1):
            try:
                netpolicy.check_url(url, page.allow_private)
                response = session.get(
                    url,
                    headers=headers,
                    # Socket timeouts a little past the deadline, which thus always speaks first.
                    timeout=page.timeout + DEADLINE_FIRST,
                    stream=True,
                    allow_redirects=False,
                )
            except netpolicy.Refused as exc:
                where = f"redirect {hop} to {shown_url(url)}" if hop else shown_url(url)
                raise netpolicy.Refused(f"refused {where}: {exc.reason}") from None
            target = session.get_redirect_target(response)
            if target is None:
                return response
            _drain(response)
            response.close()
            following = requote_uri(urljoin(response.url, target))
            if session.should_strip_auth(url, following):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = following
        raise requests.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def _answer(self, page: PageSpec, response: requests.Response) -> FetchResult | _Transient:
        """Read and decode the body of a 2xx answer."""
        status = response.status_code
        final_url = response.url
        content_type = response.headers.get("Content-Type")
        try:
            raw = self._read_body(response, page)
        except _TooLarge as exc:
            return _error(page, str(exc), status, final_url)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            return _Transient(
                f"the connection broke while reading the page ({_root_cause(exc)})",
                "the next poll will try again",
                status,
                final_url,
            )
        return FetchResult(
            url=page.url,
            status="ok",
            final_url=final_url,
            http_status=status,
            text=decode_html(raw, content_type),
            raw=raw,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _read_body(self, response: requests.Response, page: PageSpec) -> bytes:
        """Read the body in chunks, stopping at the byte cap (wire and decompressed)."""
        limit = self.defaults.max_bytes
        too_large = _TooLarge(
            f"page larger than {limit} bytes; raise defaults.max_bytes if this page "
            "really is that big"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        # A body still trickling at the deadline ends here: `_Deadline` cuts the socket.
        while chunk := response.raw.read(CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            if size > limit or response.raw.tell() > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ many pages

    def fetch_each(
        self, jobs: Iterable[Job], then: Callable[[PageSpec, FetchResult], T]
    ) -> Iterator[tuple[PageSpec, T]]:
        """Fetch pages concurrently; yield `then(page, result)` for each as soon as it is ready.

        At most `defaults.workers` requests run at once and at most
        `defaults.per_host` per host, taken round-robin across hosts so one
        site with fifty pages neither gets hammered nor delays the others.
        `then` runs in the worker right after the fetch, so parsing a body
        overlaps the other downloads instead of queueing behind them; it must
        not raise.
        """
        pending: dict[str, deque[Job]] = {}
        for job in jobs:
            pending.setdefault(job[0].host, deque()).append(job)
        workers = max(1, self.defaults.workers)
        per_host = max(1, self.defaults.per_host)
        in_flight: Counter[str] = Counter()
        running: dict[Future[T], PageSpec] = {}
        finished: queue.SimpleQueue[Future[T]] = queue.SimpleQueue()

        def start_what_may_start() -> None:
            """Round-robin over hosts, up to `workers` at once and `per_host` per host."""
            progress = True
            while progress and len(running) < workers:
                progress = False
                for host in list(pending):
                    if len(running) >= workers or in_flight[host] >= per_host:
                        continue
                    job = pending[host].popleft()
                    if not pending[host]:
                        del pending[host]
                    future = pool.submit(self._fetch_then, job, then)
                    running[future] = job[0]
                    in_flight[host] += 1
                    future.add_done_callback(finished.put)
                    progress = True

        with ThreadPoolExecutor(workers, thread_name_prefix="policywatch-fetch") as pool:
            try:
                start_what_may_start()
                while running:
                    future = finished.get()
                    page = running.pop(future)
                    in_flight[page.host] -= 1
                    start_what_may_start()  # before the caller gets the result: no idle worker
                    yield page, _result_of(future, page, then)
            finally:
                for future in running:
                    future.cancel()

    def _fetch_then(self, job: Job, then: Callable[[PageSpec, FetchResult], T]) -> T:
        return then(job[0], self.fetch(*job))


def _judge_status(
    page: PageSpec, response: requests.Response, etag: str | None, last_modified: str | None
) -> FetchResult | _Transient | None:
    """The outcome of an answer that carries no usable body, or None to read the body."""
    status = response.status_code
    final_url = response.url
    label = f"HTTP {status} {response.reason or ''}".rstrip()
    if status == 304:
        return FetchResult(
            url=page.url,
            status="not_modified",
            final_url=final_url,
            http_status=status,
            etag=response.headers.get("ETag") or etag,
            last_modified=response.headers.get("Last-Modified") or last_modified,
        )
    if status == 429 or status >= 500:
        advice = (
            "the site is rate-limiting us; raise the page's interval or lower defaults.per_host"
            if status == 429
            else "the site is having trouble; the next poll will try again"
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return _Transient(label, advice, status, final_url, retry_after)
    if status >= 400:
        advice = _STATUS_ADVICE.get(
            status, "the server rejected the request; check the URL and the page's headers"
        )
        return _error(page, f"{label}: {advice}", status, final_url)
    if not 200 <= status < 300:
        return _error(page, f"unexpected {label}; check the URL in a browser", status, final_url)
    content_type = response.headers.get("Content-Type")
    if content_type and not content_type.lower().startswith(_HTML_TYPES):
        return _error(
            page,
            f"not a web page (Content-Type: {content_type}); policywatch reads HTML pages",
            status,
            final_url,
        )
    return None


def timed_out(seconds: float) -> str:
    """The reason given for a page that ran out of its time, whichever way it was fetched."""
    return (
        f"timed out after {seconds:g} s (no answer in full within the page's timeout); "
        "the site is very slow or trickling the page: raise the page's timeout if it is just slow"
    )


def _drain(response: requests.Response) -> None:
    """Read a short unwanted body so the connection can be reused rather than reset."""
    with contextlib.suppress(urllib3.exceptions.HTTPError, OSError):
        response.raw.read(CHUNK_BYTES, decode_content=False)


def _result_of(future: Future[T], page: PageSpec, then: Callable[[PageSpec, FetchResult], T]) -> T:
    """The job's result; a bug in one job becomes that page's error, not everyone's."""
    exc = future.exception()
    if exc is None:
        return future.result()
    log.error("page=%s fetch crashed", page.id, exc_info=exc)
    return then(
        page,
        _error(
            page,
            f"internal error while fetching ({type(exc).__name__}: {exc}); "
            "please report this with the log",
        ),
    )


def _error(
    page: PageSpec, reason: str, http_status: int | None = None, final_url: str | None = None
) -> FetchResult:
    return FetchResult(
        url=page.url, status="error", final_url=final_url, http_status=http_status, reason=reason
    )


def _network_trouble(page: PageSpec, exc: requests.RequestException) -> _Transient:
    if isinstance(exc, requests.Timeout):
        return _Transient(
            f"no answer from {page.host} within {page.timeout:.0f} s",
            "raise the page's timeout or check the network",
        )
    return _Transient(
        f"could not connect to {page.host} ({_root_cause(exc)})",
        "check the URL and the network",
    )


def _root_cause(exc: BaseException) -> str:
    """The innermost error message: 'Connection refused', not a urllib3 pool repr."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1).strip() if match else text


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# ---------------------------------------------------------------------- decoding


def decode_html(raw: bytes, content_type: str | None = None) -> str:
    """Decode an HTML body as a browser would: BOM, HTTP charset, <meta>, then detection.

    Also used for saved HTML files (`import`), which have no HTTP header.
    """
    encoding = (
        _bom_encoding(raw)
        or _known_codec(_search(_HEADER_CHARSET, content_type or ""))
        or _known_codec(_search(_META_CHARSET, raw[:META_SNIFF_BYTES]))
        or _detect(raw)
    )
    if encoding == "utf-8":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")
        remember_utf8_source(text, raw)  # so parsing it need not encode it back
        return text
    return raw.decode(encoding, errors="replace")


def _bom_encoding(raw: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    return None


def _search(pattern: re.Pattern, data: str | bytes) -> str | None:
    match = pattern.search(data)
    if match is None:
        return None
    label = match.group(1)
    return label.decode("ascii", "replace") if isinstance(label, bytes) else label


def _known_codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None for labels Python lacks."""
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _CODEC_AS_BROWSERS_DO.get(name, name)


def _detect(raw: bytes) -> str:
    """Guess an undeclared charset: UTF-8 if it decodes, else a detector leaning to windows-1252.

    Strict UTF-8 rarely passes on anything else. Among single-byte guesses the
    detector often ranks a Baltic or Central European code page a hair above
    windows-1252 on short Western text; browsers default to windows-1252 there,
    and so do we unless the page's language says otherwise.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    results = charset_normalizer.from_bytes(raw)
    best = results.best()
    if best is None:
        return "utf-8"
    western = next((r for r in results if "cp1252" in r.could_be_from_charset), None)
    lang = _search(_HTML_LANG, raw[:META_SNIFF_BYTES]) or ""
    if (
        western is not None
        and western.chaos <= best.chaos + WESTERN_MARGIN
        and lang.lower() not in _OTHER_LATIN_LANGUAGES
    ):
        return "cp1252"
    return _known_codec(best.encoding) or "utf-8"
