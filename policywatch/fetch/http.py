"""Fetch policy pages over plain HTTP, politely, and never raise for network trouble.

A monitor that polls for months meets every kind of failure: refused
connections, rate limits, 503s, slow or endless bodies, gzip bombs, pages with a
wrong or missing charset. Each one becomes a `FetchResult` with status "error"
and a sentence saying what happened and what to do, so the pipeline records it
and moves on; none of them may become a snapshot or stop the other pages.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urljoin

import requests
import urllib3
import urllib3.connection
from requests.utils import requote_uri

from policywatch import __version__
from policywatch.content import FetchResult
from policywatch.fetch import netpolicy
from policywatch.fetch.answers import (
    Closing,
    TooLarge,
    Transient,
    drain,
    error_result,
    failed_result,
    judge_status,
    network_trouble,
    read_body,
    retry_delay,
    root_cause,
    timed_out,
)
from policywatch.fetch.connections import Adapter, Deadline, GuardedSession
from policywatch.fetch.decode import decode_html
from policywatch.fetch.netpolicy import shown_url
from policywatch.models import Defaults, PageSpec

log = logging.getLogger("policywatch.fetch")  # the name operators filter on

PROJECT_URL = "https://github.com/policywatch/policywatch"
USER_AGENT = f"policywatch/{__version__} (+{PROJECT_URL}; policy change monitor)"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

MAX_REDIRECTS = 10  # hops followed after the page's own URL, each checked by netpolicy
DEADLINE_FIRST = 1.0  # seconds socket timeouts are set beyond an attempt's deadline

Job = tuple[PageSpec, str | None, str | None]  # page, etag, last_modified
T = TypeVar("T")


class Fetcher(Closing):
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

    def _session(self, allow_private: bool, user_agent: str) -> GuardedSession:
        session = GuardedSession()
        pool = max(self.defaults.workers, self.defaults.per_host, 1)
        adapter = Adapter(allow_private, pool_connections=pool, pool_maxsize=pool, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = user_agent
        session.headers["Accept"] = ACCEPT
        return session

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
        validators = {}
        if etag:
            validators["If-None-Match"] = etag
        if last_modified:
            validators["If-Modified-Since"] = last_modified
        attempts = max(1, self.defaults.retries)
        waited = 0.0
        for attempt in range(1, attempts + 1):
            with Deadline(page.timeout) as deadline:  # running out of it is final
                outcome = self._request(page, validators, etag, last_modified)
            if deadline.expired:
                outcome = error_result(page, timed_out(page.timeout))
            if isinstance(outcome, FetchResult):
                return replace(outcome, elapsed=time.monotonic() - started)
            log.info("page=%s attempt %d/%d failed: %s", page.id, attempt, attempts, outcome.reason)
            if attempt == attempts:
                break
            delay, why_not = retry_delay(self.backoff, attempt, outcome.retry_after, waited)
            if why_not:
                reason = f"{outcome.reason}; {why_not}"
                return failed_result(page, outcome, reason, started)
            self._sleep(delay)
            waited += delay
        tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
        reason = f"{outcome.reason} {tries}; {outcome.advice}"
        return failed_result(page, outcome, reason, started)

    def _request(
        self,
        page: PageSpec,
        validators: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult | Transient:
        try:
            response = self._get(page, validators)
        except netpolicy.Refused as exc:
            return error_result(page, exc.reason)
        except requests.exceptions.SSLError as exc:
            return error_result(
                page,
                f"TLS error talking to {page.host}: {root_cause(exc)}; "
                "check the URL (https host name) and the system certificates",
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return network_trouble(page, exc)
        except requests.TooManyRedirects:
            return error_result(
                page,
                "too many redirects (a redirect loop, often a sign-in or cookie "
                "wall); open the URL in a browser to see where it leads",
            )
        except requests.RequestException as exc:
            return error_result(page, f"request failed: {root_cause(exc)}; check the URL")
        with response:
            refused = judge_status(page, response, etag, last_modified)
            if refused is not None:
                drain(response)
                return refused
            return self._answer(page, response)

    def _get(self, page: PageSpec, validators: dict[str, str]) -> requests.Response:
        """GET the page, following redirects ourselves so each hop is checked before it is asked.

        Each hop carries the page's headers that may go to its host (PageSpec.headers_for),
        and the validators while it stays on the page's site. Raises netpolicy.Refused
        naming the hop, requests' errors for network trouble.
        """
        session = self._sessions[page.allow_private]
        url = page.url
        for hop in range(MAX_REDIRECTS + 1):
            own = url == page.url or page.own_site(url)
            headers = {**page.headers, **validators} if own else dict(page.headers_for(url))
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
            drain(response)
            response.close()
            url = requote_uri(urljoin(response.url, target))
        raise requests.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def _answer(self, page: PageSpec, response: requests.Response) -> FetchResult | Transient:
        """Read and decode the body of a 2xx answer."""
        status = response.status_code
        final_url = response.url
        content_type = response.headers.get("Content-Type")
        try:
            raw = read_body(response, self.defaults.max_bytes)
        except TooLarge as exc:
            return error_result(page, str(exc), status, final_url)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            return Transient(
                f"the connection broke while reading the page ({root_cause(exc)})",
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


def _result_of(future: Future[T], page: PageSpec, then: Callable[[PageSpec, FetchResult], T]) -> T:
    """The job's result; a bug in one job becomes that page's error, not everyone's."""
    exc = future.exception()
    if exc is None:
        return future.result()
    log.error("page=%s fetch crashed", page.id, exc_info=exc)
    return then(
        page,
        error_result(
            page,
            f"internal error while fetching ({type(exc).__name__}: {exc}); "
            "please report this with the log",
        ),
    )
