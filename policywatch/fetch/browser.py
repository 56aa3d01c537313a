"""Fetch client-rendered pages (Seller Central help) with a real headless Chromium.

A plain GET of a Seller Central help page returns an app shell ("You need to
enable JavaScript to run this app"); the policy text exists only after the
page's scripts run. This module drives the system's Chromium through
Playwright's sync API, waits for the policy element, and hands back the
rendered DOM as a `FetchResult(via="browser")` that the rest of the pipeline
treats like any other fetch.

Playwright is an optional extra and the browser is never downloaded: we use
Debian's Chromium (`/usr/bin/chromium`) or `POLICYWATCH_CHROMIUM`. Without
either, `fetch` reports the page `blocked` with the fix, never a change.

Playwright's sync API only works from the thread that started it, so every
browser call runs on one private worker thread; `fetch` may be called from any
thread (calls are served one at a time).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from policywatch.content import FetchResult, FetchStatus
from policywatch.fetch.answers import Closing, timed_out
from policywatch.fetch.tab import (
    BACKSTOP_GRACE,
    BACKSTOP_POLL,
    BROWSER_MANAGED_HEADERS,
    Router,
    first_line,
    wait_for_policy,
)
from policywatch.models import Defaults, PageSpec

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

log = logging.getLogger("policywatch.browser")  # the name operators filter on

T = TypeVar("T")

CHROMIUM_ENV = "POLICYWATCH_CHROMIUM"
# Set in the browser's environment so its processes can be told apart from any
# other Chromium on the machine (e.g. to check none outlive `close()`).
PROCESS_TAG_ENV = "POLICYWATCH_BROWSER_TAG"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_EXTRA = "install the browser extra: pip install 'policywatch[browser]'"
INSTALL_CHROMIUM = f"install Chromium: apt-get install chromium, or set {CHROMIUM_ENV}"

# Headless, no GPU, and none of Chromium's own background traffic (updates,
# sync, field trials): a monitor must only ever request the pages it watches.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
LAUNCH_TIMEOUT = 30.0  # seconds


# Pictures, fonts and styles never carry policy text; skipping them saves most of the bytes.
def _locate(executable: str | None) -> tuple[str | None, str | None]:
    """(path of the Chromium to run, None) or (None, why there is none and how to fix it)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, f"the Playwright package is not installed; {INSTALL_EXTRA}"
    found = chromium_path(executable)
    if found is not None:
        return found, None
    for wanted, origin in (
        (executable, "the configured path"),
        (os.environ.get(CHROMIUM_ENV), CHROMIUM_ENV),
    ):
        if wanted:
            return None, f"Chromium not found at {wanted} ({origin}); {INSTALL_CHROMIUM}"
    return None, f"no Chromium found; {INSTALL_CHROMIUM}"


def chromium_path(executable: str | None = None) -> str | None:
    """The Chromium to run: the configured path, else POLICYWATCH_CHROMIUM, else the system's."""
    wanted = executable or os.environ.get(CHROMIUM_ENV)
    if wanted:
        return shutil.which(wanted)
    for candidate in (DEFAULT_CHROMIUM, "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def available(executable: str | None = None) -> str | None:
    """None when pages can be rendered; otherwise the reason and the fix, for a `blocked` report."""
    return _locate(executable)[1]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _locale(page: PageSpec) -> str | None:
    """The page's pinned locale: first Accept-Language tag, else the URL's `locale=` parameter.

    Seller Central picks the chrome's language from the browser locale as well as
    the URL, so the browser must claim the same locale the watch is pinned to.
    """
    accept = _header(page.headers, "accept-language")
    if accept:
        first = accept.split(",")[0].split(";")[0].strip()
        if first and first != "*":
            return first
    query = parse_qs(urlsplit(page.url).query)
    for key in ("locale", "language"):
        if query.get(key):
            return query[key][0].replace("_", "-")
    return None


def _launch_failure(exc: BaseException) -> str:
    """What the browser itself printed while failing to start (a missing library, a bad flag).

    Playwright's own first line ("browser has been closed") says nothing useful;
    the browser's stderr, which it quotes under "Browser logs", usually does.
    """
    logs = str(exc).split("Call log:", 1)[0]
    said = [line.split("[err] ", 1)[1].strip() for line in logs.splitlines() if "[err] " in line]
    return " | ".join(said[-3:]) or first_line(exc)


class BrowserFetcher(Closing):
    """Renders pages in one headless Chromium, started on first use and kept for the run.

    Each fetch gets a fresh browser context (no cookies or storage carried
    between pages). The browser is restarted once if it crashed. Safe to call
    from several threads: calls are queued onto one private worker thread,
    because Playwright's sync API is bound to the thread that started it.
    """

    def __init__(self, defaults: Defaults, executable: str | None = None) -> None:
        self.defaults = defaults
        self.executable = executable
        self.process_tag = secrets.token_hex(8)  # value of PROCESS_TAG_ENV in the browser
        self.launches = 0  # browsers started so far; a healthy run starts one
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._deadlines: dict[object, float] = {}  # call token -> when its render must end

    def fetch(self, page: PageSpec) -> FetchResult:
        """Render one page within its timeout (plus a browser start); never raises."""
        started = time.monotonic()
        executable, reason = _locate(self.executable)
        if executable is None:
            return self._result(page, started, "blocked", reason=reason)
        token = object()
        future = self._submit(self._fetch, page, executable, started, token)
        while True:
            try:
                return future.result(timeout=BACKSTOP_POLL)
            except FutureTimeout:
                ends = self._deadlines.get(token)
                if ends is not None and time.monotonic() > ends + BACKSTOP_GRACE:
                    break
        log.warning("page=%s froze the browser past its deadline; killing Chromium", page.id)
        self._kill_browser()
        with contextlib.suppress(Exception):  # the worker sees the browser gone and cleans up
            future.result(timeout=LAUNCH_TIMEOUT)
        return self._result(page, started, "error", reason=timed_out(page.timeout))

    def close(self) -> None:
        """Close the browser and stop Playwright; idempotent, and a later fetch starts afresh."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._shutdown).result()
            executor.shutdown(wait=True)

    def _submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="policywatch-browser")
            return self._executor.submit(function, *args)

    def _kill_browser(self) -> None:
        """Kill this fetcher's Chromium from outside: its helpers end with it.

        Playwright's calls belong to the worker thread, which is the one stuck;
        the browser's processes are found by the tag in their environment.
        """
        tag = f"{PROCESS_TAG_ENV}={self.process_tag}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if tag in (entry / "environ").read_bytes().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)

    # ---- everything below runs on the worker thread

    def _fetch(self, page: PageSpec, executable: str, started: float, token: object) -> FetchResult:
        # Until the render begins, a browser start may take its own time on top.
        self._deadlines[token] = time.monotonic() + LAUNCH_TIMEOUT + page.timeout
        try:
            result = self._attempt(page, executable, started, token, last_try=False)
            if result is None and time.monotonic() < self._deadlines[token]:
                log.warning("page=%s Chromium crashed; restarting it and retrying", page.id)
                self._close_browser()
                result = self._attempt(page, executable, started, token, last_try=True)
            if result is None:
                self._close_browser()
                return self._result(page, started, "error", reason=timed_out(page.timeout))
        except Exception as exc:  # a broken driver must cost one page, not the whole run
            log.exception("page=%s unexpected browser failure; restarting Playwright", page.id)
            self._shutdown()
            reason = f"unexpected browser failure: {first_line(exc)}"
            return self._result(page, started, "error", reason=reason)
        finally:
            self._deadlines.pop(token, None)
        return result

    def _attempt(
        self, page: PageSpec, executable: str, started: float, token: object, *, last_try: bool
    ) -> FetchResult | None:
        """One try at the page; None when the browser died under it and a retry is allowed."""
        from playwright.sync_api import Error

        try:
            browser = self._ensure_browser(executable)
        except Error as exc:
            log.warning("could not start Chromium %s: %s", executable, exc)
            reason = f"could not start Chromium ({executable}): {_launch_failure(exc)}"
            return self._result(page, started, "error", reason=reason)
        try:
            return self._render(browser, page, started, token)
        except Error as exc:
            if not browser.is_connected() and not last_try:
                return None
            reason = f"the browser could not load {page.url}: {first_line(exc)}"
            return self._result(page, started, "error", reason=reason)

    def _ensure_browser(self, executable: str) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        self._close_browser()
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
        log.info("starting Chromium %s", executable)
        self._browser = self._playwright.chromium.launch(
            executable_path=executable,
            args=list(CHROMIUM_ARGS),
            env={**os.environ, PROCESS_TAG_ENV: self.process_tag},
            timeout=LAUNCH_TIMEOUT * 1000,
        )
        self.launches += 1
        return self._browser

    def _render(
        self, browser: Browser, page: PageSpec, started: float, token: object
    ) -> FetchResult:
        """Load the page, wait for the policy element, serialise the DOM, all within its timeout.

        Raises playwright's Error for navigation trouble (the caller tells a
        crash from a bad page); a policy element that never appears is `blocked`.
        """
        from playwright.sync_api import Error

        begun = time.monotonic()  # page.timeout bounds the page's own work, not the launch
        self._deadlines[token] = begun + page.timeout

        def remaining() -> float:
            return max(page.timeout - (time.monotonic() - begun), 0.1)

        headers = {
            k: v for k, v in page.headers.items() if k.lower() not in BROWSER_MANAGED_HEADERS
        }
        context = browser.new_context(
            user_agent=_header(page.headers, "user-agent") or self.defaults.user_agent or None,
            extra_http_headers=headers,
            locale=_locale(page),
            service_workers="block",  # a service worker's requests would bypass the blocking
        )
        router = Router(page)
        try:
            context.set_default_timeout(page.timeout * 1000)
            context.route("**/*", router)
            context.on("request", router.seen)
            tab = context.new_page()
            router.intercept(context.new_cdp_session(tab))
            try:
                response = tab.goto(
                    page.url, wait_until="domcontentloaded", timeout=remaining() * 1000
                )
            except Error:
                if router.refused:  # the document or one of its redirects was refused
                    return self._result(page, started, "error", reason=router.refused[0])
                raise
            status = response.status if response is not None else None
            if status is not None and status >= 400:
                reason = f"the server answered HTTP {status}"
                return self._result(page, started, "error", tab.url, status, reason=reason)
            reason = wait_for_policy(tab, page, remaining())
            if router.refused:  # a request was refused or redirected to a refused address
                return self._result(
                    page, started, "error", tab.url, status, reason=router.refused[0]
                )
            if reason is not None:
                return self._result(page, started, "blocked", tab.url, status, reason=reason)
            text = tab.content()
            raw = text.encode("utf-8")
            if len(raw) > self.defaults.max_bytes:
                reason = (
                    f"rendered page is {len(raw)} bytes, over max_bytes {self.defaults.max_bytes}"
                )
                return self._result(page, started, "error", tab.url, status, reason=reason)
            return self._result(page, started, "ok", tab.url, status, text=text, raw=raw)
        finally:
            self._quietly(context.close)

    def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            self._quietly(browser.close)

    def _shutdown(self) -> None:
        self._close_browser()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            self._quietly(playwright.stop)

    @staticmethod
    def _quietly(close: Callable[[], None]) -> None:
        """Closing what already died (a crashed browser) must not hide the real outcome."""
        try:
            close()
        except Exception as exc:
            log.debug("ignoring error while closing the browser: %s", first_line(exc))

    @staticmethod
    def _result(
        page: PageSpec,
        started: float,
        status: FetchStatus,
        final_url: str | None = None,
        http_status: int | None = None,
        *,
        text: str | None = None,
        raw: bytes | None = None,
        reason: str | None = None,
    ) -> FetchResult:
        return FetchResult(
            url=page.url,
            status=status,
            final_url=final_url,
            http_status=http_status,
            text=text,
            raw=raw,
            reason=reason,
            via="browser",
            elapsed=time.monotonic() - started,
        )
