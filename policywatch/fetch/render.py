"""One page read in a tab of the shared browser: load it, wait for the policy, read the DOM."""

from __future__ import annotations

import time

from policywatch.content import FetchResult, FetchStatus
from policywatch.fetch.tab import Router, wait_for_policy
from policywatch.fetch.tabs import Tab
from policywatch.models import Defaults, PageSpec


async def render(
    tab: Tab, page: PageSpec, defaults: Defaults, started: float, begun: float, *, quick: bool
) -> FetchResult:
    """Load the page, wait for the policy element, serialise the DOM, all within its timeout.

    Raises playwright's Error for navigation trouble (the caller tells a crash
    from a bad page); a policy element that never appears is `blocked`. A `quick`
    read waits only a short quiet (see tab.wait_for_policy).
    """
    from playwright.async_api import Error

    def remaining() -> float:
        return max(page.timeout - (time.monotonic() - begun), 0.1)

    router = tab.router = Router(page)
    browser_tab = tab.page
    browser_tab.set_default_timeout(page.timeout * 1000)
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
    text, reason = await wait_for_policy(browser_tab, page, remaining(), tab.network, quick=quick)
    if router.refused:  # a request was refused or redirected to a refused address
        return result(page, started, "error", browser_tab.url, status, reason=router.refused[0])
    if text is None:
        return result(page, started, "blocked", browser_tab.url, status, reason=reason)
    raw = text.encode("utf-8")
    if len(raw) > defaults.max_bytes:
        reason = f"rendered page is {len(raw)} bytes, over max_bytes {defaults.max_bytes}"
        return result(page, started, "error", browser_tab.url, status, reason=reason)
    return result(page, started, "ok", browser_tab.url, status, text=text, raw=raw, quick=quick)


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
    quick: bool = False,
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
        quick=quick,
    )
