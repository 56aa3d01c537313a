"""Fetch client-rendered pages (Seller Central help) with a real headless Chromium.

A plain GET of a Seller Central help page returns an app shell ("You need to
enable JavaScript to run this app"); the policy text exists only after the
page's scripts run. This module drives the system's Chromium through
Playwright, waits for the policy element, and hands back the rendered DOM as a
`FetchResult(via="browser")` that the rest of the pipeline treats like any other fetch.

Which Chromium runs, and with which flags, is `chromium`'s concern.

Several pages at once, one thread. Rendering is mostly waiting (for the page's
scripts, its requests, the settle time), so one browser renders up to
`browser_concurrency` pages side by side, each in its own tab. Playwright's sync
API is bound to the thread that started it and serves one call at a time, so
instead one private thread runs an asyncio event loop that owns Playwright's
async API, the browser and every tab: each page is a coroutine on that loop,
and all Playwright state is only ever touched there, so nothing needs a lock.
`fetch` and `fetch_each` may be called from any thread; they hand coroutines
to the loop (`run_coroutine_threadsafe`) and wait for the results. A semaphore
bounds the pages in flight, and tabs are kept and reused (tabs.Tabs).

Deadlines under concurrency: every Playwright call of a page is bounded by what
is left of its `timeout`. A page whose renderer freezes (an endless script)
never answers `content()`, so a watchdog on the loop waits for each page at most
`timeout` + BACKSTOP_GRACE and then kills that page's Chromium (found by its
launch tag in /proc; the loop itself never blocks, so the other pages' watchdogs
keep running). The other pages in that browser see it die like a crash: a page
whose browser died under it is retried once in a fresh browser, started once
for all of them, so one frozen or crashed page costs the others a retry, never
more than its own deadline of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policywatch.content import FetchResult, Recognise
from policywatch.fetch.answers import Closing, timed_out
from policywatch.fetch.chromium import launch_args, launch_failure, locate
from policywatch.fetch.render import render, result
from policywatch.fetch.tab import BACKSTOP_GRACE, first_line
from policywatch.fetch.tabs import Tab, Tabs
from policywatch.models import Defaults, PageSpec

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

log = logging.getLogger("policywatch.browser")  # the name operators filter on

# Set in the browser's environment so its processes can be told apart from any
# other Chromium on the machine (e.g. to check none outlive `close()`).
PROCESS_TAG_ENV = "POLICYWATCH_BROWSER_TAG"
LAUNCH_ENV = "POLICYWATCH_BROWSER_LAUNCH"  # which of them: a frozen page kills only its own
LAUNCH_TIMEOUT = 30.0  # seconds
TAB_TIMEOUT = 30.0  # seconds to open a tab; a browser that does not answer is treated as dead
CLOSE_TIMEOUT = 5.0  # seconds to close a browser or stop Playwright before giving up on it
GONE_POLL = 0.1  # seconds between looks at whether the browser is still there while a tab opens


class BrowserFetcher(Closing):
    """Renders pages in one headless Chromium, started on first use and kept for the run.

    Up to `defaults.browser_concurrency` pages render at once, each in a tab of
    its own, kept for later pages of the same origin and settings (see tabs.py
    for what they share). The browser is restarted once if it crashed. Safe to call from
    several threads: every call becomes a coroutine on the fetcher's own event
    loop, the only place Playwright is used (see the module docstring).
    """

    def __init__(self, defaults: Defaults, executable: str | None = None) -> None:
        self.defaults = defaults
        self.executable = executable
        self.process_tag = secrets.token_hex(8)  # value of PROCESS_TAG_ENV in the browser
        self.launches = 0  # browsers started so far; a healthy run starts one
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Only ever touched on the loop's thread:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._pages: set[asyncio.Task[None]] = set()  # pages being read or waiting for a slot
        self._fresh_loop_state()

    def _fresh_loop_state(self) -> None:
        """Slots, tabs and the start lock of a new event loop (asyncio's locks bind to one)."""
        self._tabs = Tabs(self.defaults.browser_concurrency)
        self._slots = asyncio.Semaphore(self.defaults.browser_concurrency)
        self._starting = asyncio.Lock()

    def fetch(self, page: PageSpec) -> FetchResult:
        """Render one page within its timeout (plus a browser start); never raises."""
        return next(self.fetch_each([page]))[1]

    def fetch_each(
        self, pages: Iterable[PageSpec], *, recognise: Mapping[str, Recognise] | None = None
    ) -> Iterator[tuple[PageSpec, FetchResult]]:
        """Render the pages, `browser_concurrency` at a time; yields each as soon as it is read.

        A page whose id `recognise` maps to a test is first read quickly, after a
        short quiet rather than once it kept still (FetchResult.quick). A quick read
        the test does not recognise (a change, or a half-built article) is read again
        in full, in the same slot, and only that read is yielded.
        """
        recognise = recognise or {}
        answers: dict[Future[FetchResult], PageSpec] = {}
        executable, reason = locate(self.executable)  # the same answer for the whole batch
        for page in pages:
            answer: Future[FetchResult] = Future()
            if executable is None:
                answer.set_result(result(page, time.monotonic(), "blocked", reason=reason))
            else:
                work = self._fetch(page, executable, answer, recognise.get(page.id))
                self._submit(page, answer, work)
            answers[answer] = page
        for answer in as_completed(answers):
            yield answers[answer], answer.result()

    def close(self) -> None:
        """Close the browser and stop Playwright; idempotent, and a later fetch starts afresh."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _submit(
        self, page: PageSpec, answer: Future[FetchResult], work: Coroutine[Any, Any, None]
    ) -> None:
        """Hand a page's read (`work`, which sets `answer`) to the loop, starting it if needed."""
        with self._lock:
            if self._loop is None:  # first use, or after close()
                self._fresh_loop_state()
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="policywatch-browser", daemon=True
                )
                self._thread.start()
            running = asyncio.run_coroutine_threadsafe(work, self._loop)

        def ended(_: Future[None]) -> None:  # a page cancelled by close() still gets an answer
            if not answer.done():
                reason = "the browser was closed before the page was read"
                answer.set_result(result(page, time.monotonic(), "error", reason=reason))

        running.add_done_callback(ended)

    # ---- everything below runs on the event loop's thread

    async def _fetch(
        self,
        page: PageSpec,
        executable: str,
        answer: Future[FetchResult],
        recognise: Recognise | None,
    ) -> None:
        """Render one page in a slot of its own; a quick read not recognised, again in full.

        The full read keeps the slot, so a changed page is settled as soon as it is seen
        rather than behind the rest of the batch.
        """
        me = asyncio.current_task()
        assert me is not None
        self._pages.add(me)
        me.add_done_callback(self._pages.discard)
        async with self._slots:
            started = time.monotonic()
            outcome = await self._read(page, executable, started, quick=recognise is not None)
            if (
                recognise is not None
                and outcome.quick
                and not await asyncio.to_thread(_recognised, recognise, outcome)
            ):
                log.debug("page=%s quick read is not the version held; reading in full", page.id)
                outcome = await self._read(page, executable, started, quick=False)
            answer.set_result(outcome)

    async def _read(
        self, page: PageSpec, executable: str, started: float, *, quick: bool
    ) -> FetchResult:
        """One read of the page, retried once in a new browser after a crash."""
        try:
            outcome = await self._attempt(page, executable, started, quick, last_try=False)
            if outcome is None:
                log.warning("page=%s Chromium crashed; restarting it and retrying", page.id)
                outcome = await self._attempt(page, executable, started, quick, last_try=True)
        except Exception as exc:  # a broken driver must cost one page, not the whole run
            log.exception("page=%s unexpected browser failure; restarting Playwright", page.id)
            await self._shutdown()
            reason = f"unexpected browser failure: {first_line(exc)}"
            outcome = result(page, started, "error", reason=reason)
        assert outcome is not None  # the last try always answers
        return outcome

    async def _attempt(
        self, page: PageSpec, executable: str, started: float, quick: bool, *, last_try: bool
    ) -> FetchResult | None:
        """One try at the page; None when its browser died under it and a retry is allowed."""
        from playwright.async_api import Error

        try:
            browser, launch = await self._ensure_browser(executable)
        except Error as exc:
            log.warning("could not start Chromium %s: %s", executable, exc)
            reason = f"could not start Chromium ({executable}): {launch_failure(exc)}"
            return result(page, started, "error", reason=reason)
        try:
            tab = await _unless_gone(browser, self._tabs.take(browser, page, self.defaults))
        except (Error, TimeoutError) as exc:
            if not browser.is_connected() and not last_try:
                return None  # it died while the tab was being opened
            reason = f"the browser could not open a tab for {page.url}: {first_line(exc)}"
            return result(page, started, "error", reason=reason)
        # page.timeout bounds the page's own work, not starting the browser or opening a tab.
        begun = time.monotonic()
        work = asyncio.ensure_future(render(tab, page, self.defaults, started, begun, quick=quick))
        try:
            done, _ = await asyncio.wait({work}, timeout=page.timeout + BACKSTOP_GRACE)
            if not done:
                log.warning("page=%s froze the browser past its deadline; killing it", page.id)
                self._kill(launch)
                with contextlib.suppress(Exception):  # the page sees its browser gone and ends
                    await asyncio.wait_for(work, LAUNCH_TIMEOUT)
                return result(page, started, "error", reason=timed_out(page.timeout))
        finally:
            work.cancel()  # when close() interrupts the wait
            read = work.done() and not work.cancelled() and work.exception() is None
            await self._tabs.give_back(tab, read and work.result().status == "ok")
        try:
            return work.result()
        except Error as exc:
            if not browser.is_connected() and not last_try:
                if time.monotonic() < begun + page.timeout:
                    return None
                return result(page, started, "error", reason=timed_out(page.timeout))
            reason = f"the browser could not load {page.url}: {first_line(exc)}"
            return result(page, started, "error", reason=reason)

    async def _ensure_browser(self, executable: str) -> tuple[Browser, int]:
        """The running browser, or a new one: pages that saw it crash start one between them."""
        async with self._starting:
            if self._browser is not None and self._browser.is_connected():
                return self._browser, self.launches
            await self._close_browser()
            if self._playwright is None:
                from playwright.async_api import async_playwright

                self._playwright = await async_playwright().start()
            log.info("starting Chromium %s", executable)
            launch = self.launches + 1
            self._browser = await self._playwright.chromium.launch(
                executable_path=executable,
                args=await asyncio.to_thread(launch_args),  # it may look a proxy's name up
                env={**os.environ, PROCESS_TAG_ENV: self.process_tag, LAUNCH_ENV: str(launch)},
                timeout=LAUNCH_TIMEOUT * 1000,
            )
            self.launches = launch
            return self._browser, launch

    def _kill(self, launch: int) -> None:
        """Kill one of this fetcher's browsers from outside: its helpers end with it.

        A frozen renderer answers no Playwright call, so the browser's processes are
        found by the tags in their environment; an earlier or later browser is spared.
        """
        wanted = {
            f"{PROCESS_TAG_ENV}={self.process_tag}".encode(),
            f"{LAUNCH_ENV}={launch}".encode(),
        }
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if wanted <= set((entry / "environ").read_bytes().split(b"\0")):
                    os.kill(int(entry.name), signal.SIGKILL)

    async def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        await self._tabs.close_all()
        if browser is not None:
            await _quietly(browser.close())

    async def _close(self) -> None:
        """Pages still in flight (a caller stopped reading the results) end first, unanswered."""
        pages = list(self._pages)
        for task in pages:
            task.cancel()
        await asyncio.gather(*pages, return_exceptions=True)
        await self._shutdown()

    async def _shutdown(self) -> None:
        await self._close_browser()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            await _quietly(playwright.stop())


def _recognised(recognise: Recognise, quick_read: FetchResult) -> bool:
    """Whether the caller's test knows the quick read; one that fails to answer does not."""
    try:
        return recognise(quick_read)
    except Exception:  # the full read is always the safe answer
        log.exception("recognising a quick read failed; reading the page in full")
        return False


async def _unless_gone(browser: Browser, opening: Coroutine[Any, Any, Tab]) -> Tab:
    """Open a tab, or give up as soon as the browser is gone (or after TAB_TIMEOUT).

    Playwright can leave a tab being opened in a browser killed meanwhile unanswered;
    the page then waits for nothing while the other pages start a new browser.
    """
    task = asyncio.ensure_future(opening)
    waited = 0.0
    while not task.done() and browser.is_connected() and waited < TAB_TIMEOUT:
        await asyncio.wait({task}, timeout=GONE_POLL)
        waited += GONE_POLL
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    raise TimeoutError("the browser stopped answering while a tab was opened")


async def _quietly(closing: Coroutine[Any, Any, None]) -> None:
    """Closing what already died (a crashed browser) must not hide the real outcome, nor
    wait forever: Playwright can leave the close of a killed browser unanswered, and the
    pages waiting to start the next one would wait with it."""
    try:
        await asyncio.wait_for(closing, CLOSE_TIMEOUT)
    except Exception as exc:
        log.debug("ignoring error while closing the browser: %s", first_line(exc))
