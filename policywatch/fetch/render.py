"""One page in one tab of the shared browser: the tabs kept between pages, and the render.

A new browser context and tab cost more than rendering a small page on a busy
machine (a new renderer process each), so tabs are kept and reused: one context
per tab, reused only for pages that share the context's settings (user agent,
headers, locale, `allow_private`). Between two pages a tab holds no router, so
nothing the old page still tries to load leaves it; right before the next page
its cookies and the storage of every origin it showed are cleared, so nothing
one page set is seen by the next. (No blank page in between: leaving a site for
about:blank and coming back costs two renderer switches, as much as a render.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from policywatch.content import FetchResult, FetchStatus
from policywatch.fetch.tab import (
    BROWSER_MANAGED_HEADERS,
    LOCAL_SCHEMES,
    Network,
    Router,
    first_line,
    wait_for_policy,
)
from policywatch.models import Defaults, PageSpec

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, CDPSession, Page, Request, Route

log = logging.getLogger("policywatch.browser")  # the name operators filter on

# Emptying a tab takes a few calls; a tab slower than this is closed, a new one opened.
EMPTY_TIMEOUT = 5.0
Key = tuple[object, ...]  # the context settings a tab can be reused for


def header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def locale_of(page: PageSpec) -> str | None:
    """The page's pinned locale: first Accept-Language tag, else the URL's `locale=` parameter.

    Seller Central picks the chrome's language from the browser locale as well as
    the URL, so the browser must claim the same locale the watch is pinned to.
    """
    accept = header(page.headers, "accept-language")
    if accept:
        first = accept.split(",")[0].split(";")[0].strip()
        if first and first != "*":
            return first
    query = parse_qs(urlsplit(page.url).query)
    for key in ("locale", "language"):
        if query.get(key):
            return query[key][0].replace("_", "-")
    return None


def _context_options(page: PageSpec, defaults: Defaults) -> dict[str, Any]:
    headers = {k: v for k, v in page.headers.items() if k.lower() not in BROWSER_MANAGED_HEADERS}
    return {
        "user_agent": header(page.headers, "user-agent") or defaults.user_agent or None,
        "extra_http_headers": headers,
        "locale": locale_of(page),
        "service_workers": "block",  # a service worker's requests would bypass the routing
    }


def _key(page: PageSpec, options: Mapping[str, Any]) -> Key:
    return (
        options["user_agent"],
        tuple(sorted(options["extra_http_headers"].items())),
        options["locale"],
        page.allow_private,
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(eq=False)
class Tab:
    """A tab in its own context; `router` judges the requests of the page it is reading.

    The route, the request listener and the DevTools session are set up once and
    ask whichever router the tab holds, so a reused tab keeps a single
    interception path. Between pages it holds none and refuses everything.
    """

    browser: Browser
    key: Key
    context: BrowserContext
    page: Page | None = None
    session: CDPSession | None = None
    router: Router | None = None
    origins: set[str] = field(default_factory=set)  # whose storage to clear before reuse
    network: Network = field(default_factory=Network)  # what the page still waits for

    async def open(self) -> None:
        await self.context.route("**/*", self._route)
        # Listened to on the context, as the request listener must be: the same events
        # again on the page would double the messages the browser sends per request.
        self.context.on("request", self._seen)
        self.context.on("requestfinished", self.network.ended)
        self.context.on("requestfailed", self.network.ended)
        self.page = await self.context.new_page()
        self.page.on("framenavigated", lambda frame: self._visited(frame.url))
        self.page.on("popup", self._close_popup)
        self.session = await self.context.new_cdp_session(self.page)
        self.session.on("Fetch.requestPaused", self._paused)
        await self.session.send(
            "Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}
        )

    def _visited(self, url: str) -> None:
        origin = _origin(url)
        if origin is not None:
            self.origins.add(origin)

    async def _allowed(self, url: str) -> bool:
        if self.router is None:
            return urlsplit(url).scheme in LOCAL_SCHEMES
        return await self.router.allowed(url)

    async def _route(self, route: Route) -> None:
        if self.router is None:
            await route.abort("blockedbyclient")
        else:
            await self.router(route)

    async def _seen(self, request: Request) -> None:
        if _page_of(request) in (self.page, None):  # None: not known yet, counted to be safe
            self.network.sent(request)
        await self._allowed(request.url)

    async def _close_popup(self, popup: Page) -> None:
        """A window the page opened: never read, and its scripts would go on using the CPU.

        Its first request was counted before its window was known, and a closed window's
        requests are never answered: they are let go, or the read would wait for them.
        """
        from playwright.async_api import Error

        with contextlib.suppress(Error):
            await popup.close()
        self.network.forget(lambda request: _page_of(request) is popup)

    async def _paused(self, event: dict[str, Any]) -> None:
        """Every hop of every request of the tab, redirects included, waits for its verdict."""
        from playwright.async_api import Error

        assert self.session is not None
        request_id = event["requestId"]
        try:
            if await self._allowed(event["request"]["url"]):
                await self.session.send("Fetch.continueRequest", {"requestId": request_id})
            else:
                failed = {"requestId": request_id, "errorReason": "BlockedByClient"}
                await self.session.send("Fetch.failRequest", failed)
        except Error as exc:  # the tab went away meanwhile
            log.debug("request already gone: %s", first_line(exc))

    async def empty(self) -> None:
        """Forget the pages read before: no cookie or storage left for the next one."""
        assert self.session is not None
        self.network.forget()  # the last page's requests died with it
        await self.context.clear_cookies()
        for origin in self.origins:
            await self.session.send(
                "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
            )
        self.origins.clear()


def _page_of(request: Request) -> Page | None:
    """The tab or popup a request belongs to; None while its frame is still being created
    (a new frame's or popup's first request) or for a service worker's request."""
    from playwright.async_api import Error

    try:
        return request.frame.page
    except Error:
        return None


class Tabs:
    """The open tabs of the current browser: at most `size`, each reading one page at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[Tab] = []
        self._busy = 0

    async def take(self, browser: Browser, page: PageSpec, defaults: Defaults) -> Tab:
        """An idle tab with the page's settings, else a new one (closing the oldest idle one)."""
        options = _context_options(page, defaults)
        key = _key(page, options)
        self._idle = [tab for tab in self._idle if tab.browser is browser]  # a dead browser's
        for tab in self._idle:
            if tab.key == key:
                self._idle.remove(tab)
                try:
                    await asyncio.wait_for(tab.empty(), EMPTY_TIMEOUT)
                except Exception as exc:  # a timeout too; its page crashed: a new tab instead
                    log.debug("closing a tab that could not be emptied: %s", first_line(exc))
                    await self._close(tab)
                    break
                self._busy += 1
                return tab
        if self._idle and len(self._idle) + self._busy >= self.size:
            await self._close(self._idle.pop(0))
        self._busy += 1
        try:
            tab = Tab(browser, key, await browser.new_context(**options))
            await tab.open()
        except BaseException:
            self._busy -= 1
            raise
        return tab

    async def give_back(self, tab: Tab, healthy: bool) -> None:
        """Keep the tab for a later page, refusing every request meanwhile; or close it.

        Only a tab whose page was read is kept: a page that failed may have left its
        renderer frozen or crashed, and the next page in that tab would wait on it.
        """
        self._busy -= 1
        tab.router = None
        if healthy:
            self._idle.append(tab)
        else:
            await self._close(tab)

    async def close_all(self) -> None:
        idle, self._idle = self._idle, []
        for tab in idle:
            await self._close(tab)

    @staticmethod
    async def _close(tab: Tab) -> None:
        with contextlib.suppress(Exception):  # closing what already died must not hide more
            await asyncio.wait_for(tab.context.close(), EMPTY_TIMEOUT)


async def render(
    tab: Tab, page: PageSpec, defaults: Defaults, started: float, begun: float
) -> FetchResult:
    """Load the page, wait for the policy element, serialise the DOM, all within its timeout.

    Raises playwright's Error for navigation trouble (the caller tells a crash
    from a bad page); a policy element that never appears is `blocked`.
    """
    from playwright.async_api import Error

    def remaining() -> float:
        return max(page.timeout - (time.monotonic() - begun), 0.1)

    assert tab.page is not None
    router = tab.router = Router(page)
    browser_tab = tab.page
    tab.context.set_default_timeout(page.timeout * 1000)
    try:
        response = await browser_tab.goto(
            page.url, wait_until="domcontentloaded", timeout=remaining() * 1000
        )
    except Error:
        if router.refused:  # the document or one of its redirects was refused
            return result(page, started, "error", reason=router.refused[0])
        raise
    status = response.status if response is not None else None
    if status is not None and status >= 400:
        reason = f"the server answered HTTP {status}"
        return result(page, started, "error", browser_tab.url, status, reason=reason)
    text, reason = await wait_for_policy(browser_tab, page, remaining(), tab.network)
    if router.refused:  # a request was refused or redirected to a refused address
        return result(page, started, "error", browser_tab.url, status, reason=router.refused[0])
    if text is None:
        return result(page, started, "blocked", browser_tab.url, status, reason=reason)
    raw = text.encode("utf-8")
    if len(raw) > defaults.max_bytes:
        reason = f"rendered page is {len(raw)} bytes, over max_bytes {defaults.max_bytes}"
        return result(page, started, "error", browser_tab.url, status, reason=reason)
    return result(page, started, "ok", browser_tab.url, status, text=text, raw=raw)


def result(
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
