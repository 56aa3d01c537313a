"""Inside one browser tab: every request routed through the network policy, and the wait until
the policy body has appeared and stopped changing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from policywatch.fetch import netpolicy
from policywatch.fetch.netpolicy import shown_url
from policywatch.models import PageSpec

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Page, Request, Route

log = logging.getLogger("policywatch.browser")  # the name operators filter on


BLOCKED_RESOURCES = frozenset({"image", "media", "font", "stylesheet"})
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})  # no network behind these
# Headers the browser must manage itself; the user agent goes through its own option.
BROWSER_MANAGED_HEADERS = frozenset(
    {"user-agent", "host", "accept-encoding", "connection", "content-length"}
)
# After the policy element appears, wait until its text stops growing for this
# long (at most SETTLE_LIMIT), so a half-rendered article is not taken for a new version.
SETTLE_QUIET = 0.3
SETTLE_LIMIT = 3.0
# A page can freeze its renderer (an endless script), and then reading its DOM waits
# forever: the caller checks this often whether the page is past its deadline, and
# kills the browser when it is this long past.
BACKSTOP_POLL = 0.2
BACKSTOP_GRACE = 2.0

# Truthy once the element exists and has text; a string when the selector is invalid CSS.
_APPEARED_JS = """selector => {
  let element;
  try { element = document.querySelector(selector); } catch (e) { return "invalid: " + e.message; }
  return Boolean(element && element.textContent.trim());
}"""
_SETTLED_JS = """([selector, quietMs]) => {
  const element = document.querySelector(selector);
  const size = element ? element.textContent.length : -1;
  const now = performance.now();
  const last = window.__policywatchSettle;
  if (!last || last.size !== size) {
    window.__policywatchSettle = {size, since: now};
    return false;
  }
  return now - last.since >= quietMs;
}"""


class Router:
    """Refuses, before they leave, the requests of one fetch that the address policy forbids.

    Playwright's route handler (`__call__`) sees the first hop of every request in
    every frame, and drops heavy resources. It is never shown a redirect hop, so
    the page's own DevTools session also pauses every hop (`intercept`, the Fetch
    domain at the request stage) and fails a forbidden one before it is sent.
    `seen` is the backstop for a hop neither sees (an out-of-process frame's
    redirect): the whole fetch is then refused, so nothing from it is stored.
    """

    def __init__(self, page: PageSpec) -> None:
        self.page = page
        self.refused: list[str] = []
        self._verdicts: dict[str, str | None] = {}  # origin -> why refused; one lookup each

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            return True
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._verdicts:
            try:
                netpolicy.check_for_browser(url, self.page.allow_private)
                self._verdicts[origin] = None
            except netpolicy.Refused as exc:
                self._verdicts[origin] = exc.reason
        reason = self._verdicts[origin]
        if reason is None:
            return True
        note = f"refused {shown_url(url)}: {reason}"
        if note not in self.refused:
            self.refused.append(note)
            log.warning("page=%s %s", self.page.id, note)
        return False

    def __call__(self, route: Route) -> None:
        request = route.request
        if request.resource_type in BLOCKED_RESOURCES or not self.allowed(request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def intercept(self, session: CDPSession) -> None:
        """Pause every request of the page, redirect hops included, until it is judged."""
        from playwright.sync_api import Error

        def paused(event: dict[str, Any]) -> None:
            request_id = event["requestId"]
            try:
                if self.allowed(event["request"]["url"]):
                    session.send("Fetch.continueRequest", {"requestId": request_id})
                else:
                    failed = {"requestId": request_id, "errorReason": "BlockedByClient"}
                    session.send("Fetch.failRequest", failed)
            except Error as exc:  # the page went away meanwhile
                log.debug("page=%s request already gone: %s", self.page.id, first_line(exc))

        session.on("Fetch.requestPaused", paused)
        session.send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})

    def seen(self, request: Request) -> None:
        self.allowed(request.url)


def wait_for_policy(tab: Page, page: PageSpec, remaining: float) -> str | None:
    """Wait until the policy element has text, then until it stops growing.

    Returns why the page is `blocked` when the element never shows up: the
    article did not render (sign-in wall, new layout), so there is nothing to compare.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    selector = page.select or "body"
    try:
        appeared = tab.wait_for_function(
            _APPEARED_JS, arg=selector, timeout=remaining * 1000
        ).json_value()
    except PlaywrightTimeout:
        return (
            f"the selector {selector} never appeared after {page.timeout:g} s: "
            "the page may need sign-in or has changed layout"
        )
    if isinstance(appeared, str):
        return f"the selector {selector} is not valid in a browser ({appeared})"
    try:
        tab.wait_for_function(
            _SETTLED_JS,
            arg=[selector, SETTLE_QUIET * 1000],
            polling=100,
            timeout=min(SETTLE_LIMIT, remaining) * 1000,
        )
    except PlaywrightTimeout:
        log.debug("page=%s %s kept changing; taking it as it is", page.id, selector)
    return None


def first_line(exc: BaseException) -> str:
    """Playwright errors carry a call log after the first line; the report needs only the gist."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
