"""The browser's tabs: kept between pages, and shared contexts of one origin's pages.

A new tab costs more than rendering a small page on a busy machine, so tabs are kept
and reused. Tabs reading pages of one origin with the same settings (user agent,
headers, locale, `allow_private`) share one browser context: Chromium keeps a
renderer process per site within a context, but starts one for each page read in a
context of its own. Between two pages a tab holds no router and its page is frozen,
so nothing the old page still tries to load leaves it (but a popup's first request,
whose window is not known yet, while other pages of the context are read: the
address policy still judges it). A read that starts while no other tab of its
context is reading starts with the context's cookies and the storage of every origin
it showed cleared; pages of one origin read at the same moment share them. (No blank
page in between: leaving a site for about:blank and coming back costs two renderer
switches, as much as a render.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from policywatch.fetch.tab import (
    LOCAL_SCHEMES,
    Network,
    Router,
    dropped,
    first_line,
    with_page_headers,
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
    """The context's settings. The page's other headers are not among them: a context's
    would go with every request, to any host; each tab adds them to its own site's."""
    return {
        "user_agent": header(page.headers, "user-agent") or defaults.user_agent or None,
        "locale": locale_of(page),
        "service_workers": "block",  # a service worker's requests would bypass the routing
    }


def _key(page: PageSpec, options: Mapping[str, Any]) -> Key:
    """What pages sharing a context share: the origin (no other origin's page can set its
    cookies or storage, even from a frame), the headers sent to it, every context setting."""
    return (
        _origin(page.url),
        options["user_agent"],
        tuple(sorted(page.headers.items())),
        options["locale"],
        page.allow_private,
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(eq=False)
class Shared:
    """One browser context for the tabs of one key: pages of one origin and settings.

    Chromium never lets two contexts share a renderer process, so a context per tab
    started a new renderer for every page read (about 50 processes for 40 pages,
    half again the browser's CPU); the tabs of one context keep reusing a few. The
    context's route and request listener are set up once and hand each request to
    the tab whose page (or popup) sent it. A request whose window is not known yet
    (a new frame's or popup's first) is counted for, and judged by, every tab that
    is reading: a refused one makes all their reads errors, which only pages of the
    same origin can suffer, as no other origin shares the context.

    Cookies and storage are cleared whenever a tab starts a read with no other tab
    of the context reading; pages of one origin read at the same moment share them,
    as the tabs of one browser do. `lock` makes the clearing and the start of every
    read one step, so no read starts while they are being cleared.
    """

    browser: Browser
    key: Key
    context: BrowserContext
    tabs: dict[Page, Tab] = field(default_factory=dict)
    popups: dict[Page, Tab] = field(default_factory=dict)  # a popup -> the tab that opened it
    origins: set[str] = field(default_factory=set)  # whose storage to clear before reuse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def open(self) -> None:
        await self.context.route("**/*", self._route)
        # Listened to on the context, as the request listener must be: the same events
        # again on each page would double the messages the browser sends per request.
        self.context.on("request", self._seen)
        self.context.on("requestfinished", self._ended)
        self.context.on("requestfailed", self._ended)

    async def new_tab(self) -> Tab:
        """A new tab, open and ready to read (the caller's read starts with it)."""
        tab = Tab(self, await self.context.new_page())
        self.tabs[tab.page] = tab
        try:
            await tab.open()
            await self._start(tab)
        except BaseException:
            self.drop(tab)
            await _quietly_close(tab.page)
            raise
        return tab

    async def reuse(self, tab: Tab) -> None:
        """Start the next read in a tab that read a page before (its page was frozen)."""
        tab.network.forget()  # the last page's requests died with it
        self.popups = {p: t for p, t in self.popups.items() if t is not tab}
        await tab.cdp().send("Page.setWebLifecycleState", {"state": "active"})
        await self._start(tab)

    async def _start(self, tab: Tab) -> None:
        """Clear what earlier pages left unless another page is being read; one step."""
        async with self.lock:
            if not any(other.busy for other in self.tabs.values() if other is not tab):
                await self.context.clear_cookies()
                for origin in list(self.origins):
                    await tab.cdp().send(
                        "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
                    )
                self.origins.clear()
            tab.busy = True

    def drop(self, tab: Tab) -> None:
        self.tabs.pop(tab.page, None)
        self.popups = {p: t for p, t in self.popups.items() if t is not tab}

    def _tabs_of(self, request: Request) -> list[Tab]:
        page = _page_of(request)
        if page is None:  # not known yet: every reading tab must allow and await it
            return [tab for tab in self.tabs.values() if tab.router is not None]
        tab = self.tabs.get(page) or self.popups.get(page)
        return [tab] if tab is not None else []

    async def _route(self, route: Route) -> None:
        request = route.request
        routers = [tab.router for tab in self._tabs_of(request) if tab.router is not None]
        # Between pages a tab holds no router: nothing the old page still tries leaves it.
        if not routers or dropped(request):
            await route.abort("blockedbyclient")
        elif all([await router.allowed(request.url) for router in routers]):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    async def _seen(self, request: Request) -> None:
        page = _page_of(request)
        tabs = self._tabs_of(request)
        for tab in tabs:  # counted before any verdict is awaited: its answer may come first
            if page in (tab.page, None):  # a popup's requests never hold the read
                tab.network.sent(request)
        for tab in tabs:
            await tab.allowed(request.url)

    def _ended(self, request: Request) -> None:
        for tab in self.tabs.values():
            tab.network.ended(request)


@dataclass(eq=False)
class Tab:
    """A tab of a shared context; `router` judges the requests of the page it is reading.

    Its own DevTools session pauses every hop of its page's requests, redirects too,
    and asks whichever router the tab holds. Between pages it holds none and
    refuses everything.
    """

    shared: Shared
    page: Page
    session: CDPSession | None = None
    router: Router | None = None
    busy: bool = False  # reading a page, or about to
    network: Network = field(default_factory=Network)  # what the page still waits for

    async def open(self) -> None:
        self.page.on("framenavigated", lambda frame: self._visited(frame.url))
        self.page.on("popup", self._close_popup)
        self.session = await self.shared.context.new_cdp_session(self.page)
        self.session.on("Fetch.requestPaused", self._paused)
        await self.session.send(
            "Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}
        )

    async def freeze(self) -> None:
        await self.cdp().send("Page.setWebLifecycleState", {"state": "frozen"})

    def cdp(self) -> CDPSession:
        assert self.session is not None
        return self.session

    def _visited(self, url: str) -> None:
        origin = _origin(url)
        if origin is not None:
            self.shared.origins.add(origin)

    async def allowed(self, url: str) -> bool:
        if self.router is None:
            return urlsplit(url).scheme in LOCAL_SCHEMES
        return await self.router.allowed(url)

    async def _close_popup(self, popup: Page) -> None:
        """A window the page opened: never read, and its scripts would go on using the CPU.

        Its first request was counted before its window was known, and a closed window's
        requests are never answered: they are let go, or the read would wait for them.
        """
        from playwright.async_api import Error

        self.shared.popups[popup] = self
        with contextlib.suppress(Error):
            await popup.close()
        for tab in self.shared.tabs.values():
            tab.network.forget(lambda request: _page_of(request) is popup)

    async def _paused(self, event: dict[str, Any]) -> None:
        """Every hop of every request of the tab, redirects included, waits for its verdict."""
        from playwright.async_api import Error

        request_id = event["requestId"]
        request = event["request"]
        try:
            if await self.allowed(request["url"]):
                going: dict[str, Any] = {"requestId": request_id}
                page = self.router.page if self.router is not None else None
                headers = page and with_page_headers(request["headers"], page, request["url"])
                if headers:
                    going["headers"] = headers
                await self.cdp().send("Fetch.continueRequest", going)
            else:
                failed = {"requestId": request_id, "errorReason": "BlockedByClient"}
                await self.cdp().send("Fetch.failRequest", failed)
        except Error as exc:  # the tab went away meanwhile
            log.debug("request already gone: %s", first_line(exc))


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
        self._contexts: dict[Key, Shared] = {}
        self._opening = asyncio.Lock()  # pages starting together share one new context

    async def take(self, browser: Browser, page: PageSpec, defaults: Defaults) -> Tab:
        """An idle tab with the page's settings, else a new one (closing the oldest idle one)."""
        options = _context_options(page, defaults)
        key = _key(page, options)
        self._idle = [tab for tab in self._idle if tab.shared.browser is browser]  # a dead one's
        for tab in self._idle:
            if tab.shared.key == key:
                self._idle.remove(tab)
                try:
                    await asyncio.wait_for(tab.shared.reuse(tab), EMPTY_TIMEOUT)
                except Exception as exc:  # a timeout too; its page crashed: a new tab instead
                    log.debug("closing a tab that could not be emptied: %s", first_line(exc))
                    await self._close(tab)
                    break
                except BaseException:  # cancelled: the tab is in no list any more
                    await self._close(tab)
                    raise
                self._busy += 1
                return tab
        if self._idle and len(self._idle) + self._busy >= self.size:
            await self._close(self._idle.pop(0))
        self._busy += 1
        try:
            async with self._opening:
                shared = self._contexts.get(key)
                if shared is None or shared.browser is not browser:
                    shared = Shared(browser, key, await browser.new_context(**options))
                    try:
                        await shared.open()
                    except BaseException:
                        await _quietly_close(shared.context)
                        raise
                    self._contexts[key] = shared
            return await shared.new_tab()
        except BaseException:
            self._busy -= 1
            raise

    async def give_back(self, tab: Tab, healthy: bool) -> None:
        """Keep the tab for a later page, refusing every request meanwhile; or close it.

        Only a tab whose page was read is kept: a page that failed may have left its
        renderer frozen or crashed, and the next page in that tab would wait on it.
        """
        self._busy -= 1
        tab.router = None
        tab.busy = False
        if healthy:
            # Frozen until its next page: no script of the old page runs beside the pages of
            # its context being read (its cookies and storage are theirs too), nor uses CPU.
            try:
                await asyncio.wait_for(tab.freeze(), EMPTY_TIMEOUT)
            except Exception as exc:  # a timeout too
                log.debug("closing a tab that could not be frozen: %s", first_line(exc))
                healthy = False
        if healthy:
            self._idle.append(tab)
        else:
            await self._close(tab)

    async def close_all(self) -> None:
        idle, self._idle = self._idle, []
        contexts, self._contexts = list(self._contexts.values()), {}
        await asyncio.gather(*(self._close(tab) for tab in idle))
        await asyncio.gather(*(_quietly_close(shared.context) for shared in contexts))

    @staticmethod
    async def _close(tab: Tab) -> None:
        """Close the tab; its context stays for the next tab of its key until `close_all`."""
        tab.shared.drop(tab)
        await _quietly_close(tab.page)


async def _quietly_close(target: Page | BrowserContext) -> None:
    with contextlib.suppress(Exception):  # closing what already died must not hide more
        await asyncio.wait_for(target.close(), EMPTY_TIMEOUT)
