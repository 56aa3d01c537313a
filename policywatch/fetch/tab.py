"""Inside one browser tab: every request routed through the network policy (which also drops
what the text does not need), and the wait until the policy body has appeared and is whole
(nothing on its way, nothing moving). Everything here runs on the browser's event loop
(Playwright's async API)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from policywatch.fetch import netpolicy
from policywatch.fetch.netpolicy import shown_url
from policywatch.models import PageSpec

if TYPE_CHECKING:
    from playwright.async_api import Page, Request

log = logging.getLogger("policywatch.browser")  # the name operators filter on


# Pictures, media, fonts and styles never carry policy text; skipping them saves most bytes.
BLOCKED_RESOURCES = frozenset({"image", "media", "font", "stylesheet"})
# Analytics, tag managers and ad networks: no policy text, and often the slowest requests
# on a page. A host is blocked with all its subdomains.
BLOCKED_HOSTS = frozenset(
    {
        "google-analytics.com",
        "googletagmanager.com",
        "doubleclick.net",
        "googlesyndication.com",
        "googleadservices.com",
        "amazon-adsystem.com",
        "fls-na.amazon.com",
        "fls-eu.amazon.com",
        "fls-fe.amazon.com",
        "unagi.amazon.com",
        "unagi-na.amazon.com",
        "unagi-eu.amazon.com",
        "connect.facebook.net",
        "hotjar.com",
        "segment.io",
        "segment.com",
        "newrelic.com",
        "nr-data.net",
        "scorecardresearch.com",
        "bat.bing.com",
    }
)
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})  # no network behind these
# Headers the browser must manage itself; the user agent goes through its own option.
BROWSER_MANAGED_HEADERS = frozenset(
    {"user-agent", "host", "accept-encoding", "connection", "content-length"}
)
# After the policy element appears, wait until no request of the page is waiting for an
# answer and neither the network nor the element's text has moved for SETTLE_IDLE (at most
# SETTLE_LIMIT), so a half-rendered article is not taken for a new version. While an event
# stream is open, whose messages are not seen, the text must keep still for SETTLE_STREAM.
# A quick read, of a page whose version we hold, only waits SETTLE_QUICK: it can recognise
# that version, and whatever it does not recognise is read again in full.
SETTLE_IDLE = 0.1
SETTLE_QUICK = 0.03
SETTLE_STREAM = 0.3
SETTLE_LIMIT = 3.0
SETTLE_POLL = 0.05
SETTLE_STEP = 0.005  # the shortest wait between two looks, however close the spell's end
# A page can freeze its renderer (an endless script), and then reading its DOM waits
# forever: its browser is killed when it is this long past the page's deadline.
BACKSTOP_GRACE = 2.0

# Truthy once the element exists and has text; a string when the selector is invalid CSS.
# The quiet spell of _SETTLED_JS starts the moment the element appears.
_APPEARED_JS = """selector => {
  let element;
  try { element = document.querySelector(selector); } catch (e) { return "invalid: " + e.message; }
  const appeared = Boolean(element && element.textContent.trim());
  if (appeared) {
    window.__policywatchSettle = {size: element.textContent.length, since: performance.now()};
  }
  return appeared;
}"""
# One look at the element while it settles: the page's HTML once its text has kept its
# size for `quietMs` (null: not yet, the network is still busy) or when told to take it as
# it is (`force`), else how long it has kept its size. Reading the HTML in the same call
# saves the browser a round trip per page. The record lives in the page, so the quiet
# spell is timed there.
_SETTLED_JS = """([selector, quietMs, force]) => {
  const element = document.querySelector(selector);
  const size = element ? element.textContent.length : -1;
  const now = performance.now();
  const last = window.__policywatchSettle;
  let quiet = 0;
  if (!last || last.size !== size) {
    window.__policywatchSettle = {size, since: now};
  } else {
    quiet = now - last.since;
  }
  if (!force && !(quietMs !== null && quiet >= quietMs)) return {quiet};
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : "";
  return doctype + (document.documentElement ? document.documentElement.outerHTML : "");
}"""


def with_page_headers(
    sent: Mapping[str, str], page: PageSpec, url: str
) -> list[dict[str, str]] | None:
    """The headers a request leaves with: the page's own over the browser's, on the page's
    own site only (PageSpec.headers_for); None leaves the browser's as they are."""
    mine = {
        name: value
        for name, value in page.headers_for(url).items()
        if name.lower() not in BROWSER_MANAGED_HEADERS
    }
    if not mine:
        return None
    replaced = {name.lower() for name in mine}
    kept = {name: value for name, value in sent.items() if name.lower() not in replaced}
    return [{"name": name, "value": value} for name, value in {**kept, **mine}.items()]


def dropped(request: Request) -> bool:
    """Whether the router drops the request before it leaves: no text could come of it."""
    return request.resource_type in BLOCKED_RESOURCES or tracker(request.url)


def tracker(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    parts = host.split(".")
    return any(".".join(parts[i:]) in BLOCKED_HOSTS for i in range(len(parts) - 1))


class Router:
    """Refuses, before they leave, the requests of one fetch that the address policy forbids.

    The context's route handler (tabs.Shared) asks it about the first hop of every
    request in every frame, after dropping what the text does not need
    (BLOCKED_RESOURCES, BLOCKED_HOSTS). It is never shown a redirect hop, so the tab's own
    DevTools session also pauses every hop (the Fetch domain at the request stage)
    and asks `allowed` before it is sent; so does the context's request listener,
    the backstop for a hop neither sees (an out-of-process frame's redirect): the
    whole fetch is then refused, so nothing from it is stored. A router serves one
    fetch (and judges with it the requests of its context whose window is not known
    yet); a reused tab (tabs.Tab) is handed a new one for the next page.
    """

    def __init__(self, page: PageSpec) -> None:
        self.page = page
        self.refused: list[str] = []
        self._verdicts: dict[str, str | None] = {}  # origin -> why refused; one lookup each

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            return True
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._verdicts:
            # A name lookup blocks; off the event loop, so the other tabs keep going.
            self._verdicts[origin] = await asyncio.to_thread(self._judge, url)
        reason = self._verdicts[origin]
        if reason is None:
            return True
        note = f"refused {shown_url(url)}: {reason}"
        if note not in self.refused:
            self.refused.append(note)
            log.warning("page=%s %s", self.page.id, note)
        return False

    def _judge(self, url: str) -> str | None:
        try:
            netpolicy.check_for_browser(url, self.page.allow_private)
        except netpolicy.Refused as exc:
            return exc.reason
        return None


class Network:
    """The requests of the page being read that may still bring part of its article.

    Requests the router drops before they leave (pictures, fonts, trackers) never
    bring text, so a page polling a tracker pixel is not kept waiting by it. Only
    the read page's requests are `sent` here, and those whose window is not known
    yet: a popup it opened is no part of its article.
    """

    def __init__(self) -> None:
        self.waiting: set[Request] = set()  # sent, not yet answered
        self.streams: set[Request] = set()  # server-sent event streams, open by design
        self.moved = time.monotonic()  # when a request last left or was answered

    def sent(self, request: Request) -> None:
        # A ping (sendBeacon, <a ping>) leaves, but has no answer a script can read.
        if dropped(request) or request.resource_type == "ping":
            return
        (self.streams if request.resource_type == "eventsource" else self.waiting).add(request)
        self.moved = time.monotonic()

    def ended(self, request: Request) -> None:
        if request in self.waiting or request in self.streams:
            self.waiting.discard(request)
            self.streams.discard(request)
            self.moved = time.monotonic()

    def forget(self, gone: Callable[[Request], bool] | None = None) -> None:
        """Let go of requests that will never be answered (`gone`; all: a new page is read)."""
        self.waiting = {r for r in self.waiting if gone and not gone(r)}
        self.streams = {r for r in self.streams if gone and not gone(r)}

    def spell(self) -> float:
        """How long the network and the text must keep still for the article to be whole."""
        return SETTLE_STREAM if self.streams else SETTLE_IDLE

    def still_for(self) -> float:
        """Seconds since a request last left or was answered; 0 while one waits for its answer."""
        return 0.0 if self.waiting else time.monotonic() - self.moved

    def loading(self) -> str | None:
        """One request still waiting for its answer, as the log may show it."""
        return next((shown_url(r.url) for r in self.waiting), None)


async def wait_for_policy(
    tab: Page, page: PageSpec, remaining: float, network: Network, *, quick: bool
) -> tuple[str | None, str | None]:
    """Wait until the policy element has text, then until it is whole; then read the page.

    Whole means none of the page's requests is waiting for an answer and neither the
    network nor the element's text has moved for the spell (see Network): an article
    that arrives in parts arrives over the network, however slowly. A `quick` read
    waits SETTLE_QUICK whatever is open. A read during which a request left or was
    answered is not trusted. A page still loading at SETTLE_LIMIT is taken as it is.
    Returns (the page's HTML, None), or (None, why the page is `blocked`) when the
    element never shows up: the article did not render (sign-in wall, new layout),
    so there is nothing to compare.
    """
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    selector = page.select or "body"
    try:
        handle = await tab.wait_for_function(_APPEARED_JS, arg=selector, timeout=remaining * 1000)
        appeared = await handle.json_value()
    except PlaywrightTimeout:
        reason = (
            f"the selector {selector} never appeared after {page.timeout:g} s: "
            "the page may need sign-in or has changed layout"
        )
        return None, reason
    if isinstance(appeared, str):
        return None, f"the selector {selector} is not valid in a browser ({appeared})"
    limit = min(SETTLE_LIMIT, remaining)
    settled_by = time.monotonic() + limit
    while True:
        spell = SETTLE_QUICK if quick else network.spell()
        calm, moved = network.still_for(), network.moved
        force = time.monotonic() >= settled_by
        quiet_ms = spell * 1000 if calm >= spell else None
        reading = await tab.evaluate(_SETTLED_JS, [selector, quiet_ms, force])
        if isinstance(reading, str):
            if not force and network.moved != moved:
                continue  # a request left or was answered while the page was read
            if force:
                _tell_read_as_it_was(page, limit, network.loading())
            return reading, None
        if force:  # the page's scripts broke serialising it; Playwright's own world reads it
            return await tab.content(), None
        wait = spell - min(calm, _quiet(reading)) if calm else SETTLE_POLL
        await asyncio.sleep(min(SETTLE_POLL, max(wait, SETTLE_STEP)))


# Pages already said (at info) to have been read at the settle limit: a page that always
# keeps loading would otherwise repeat it every poll; later reads are logged at debug.
_TOLD: set[str] = set()


def _tell_read_as_it_was(page: PageSpec, limit: float, loading: str | None) -> None:
    """Say why a page took the whole settle limit: what it was still loading, if anything."""
    why = f"{loading} was still loading" if loading else "its text or network kept moving"
    level = logging.DEBUG if page.id in _TOLD else logging.INFO
    _TOLD.add(page.id)
    log.log(level, "page=%s read as it was at the %g s settle limit: %s", page.id, limit, why)


def _quiet(reading: object) -> float:
    """Seconds the text has kept its size, from a look that found it unsettled.

    The page's scripts can redefine what the look relies on, so anything else reads
    as "just changed": the page then sits out the whole quiet spell.
    """
    try:
        quiet = float(reading["quiet"]) / 1000  # type: ignore[index]
    except (TypeError, ValueError, KeyError, OverflowError):
        return 0.0
    return quiet if math.isfinite(quiet) else 0.0


def first_line(exc: BaseException) -> str:
    """Playwright errors carry a call log after the first line; the report needs only the gist."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
