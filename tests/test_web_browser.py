"""The seller's desk in a real Chromium (the system's, driven by Playwright): no script runs, no
console error, and a seller can go from the overview to a change and on to its feed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from policywatch.fetch.chromium import CHROMIUM_ARGS, chromium_path
from tests.pageserver import PageServer
from tests.test_browser import needs_chromium
from tests.webdesk import SCRIPT_SENTENCE, Serving, fill_desk


@pytest.fixture
def browser_page(tmp_path: Path, pageserver: PageServer) -> Iterator[tuple[object, Serving, list]]:
    from playwright.sync_api import sync_playwright

    config, data = fill_desk(tmp_path, pageserver)
    serving = Serving(config, data)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
        )
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type != "log" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: problems.append(f"a dialog opened: {d.message}"))
        try:
            yield page, serving, problems
        finally:
            browser.close()
            serving.stop()


@needs_chromium
def test_a_seller_follows_a_change_from_the_overview_to_its_feed(browser_page):
    page, serving, problems = browser_page
    page.goto(serving.url)
    assert page.locator("h1").inner_text() == "Watched pages"
    assert page.locator("tr.row-changed .st").inner_text().lower() == "changed"

    page.locator("tr.row-changed td").last.locator("a").click()
    page.wait_for_load_state()
    assert "/changes/conduct@US/" in page.url
    inserted = page.locator(".first ins").first
    assert inserted.inner_text() == "must not"
    assert inserted.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(218, 251, 225)"

    page.locator('a[rel="prev"]').click()
    page.locator('a[rel="prev"]').click()
    page.wait_for_load_state()
    assert page.get_by_text(SCRIPT_SENTENCE, exact=False).count() >= 1  # shown as text

    with page.expect_response(lambda r: r.url.endswith(".atom")) as feed:
        page.get_by_role("link", name="Feed").click()
    answer = feed.value
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    assert problems == []


@needs_chromium
def test_a_page_text_containing_script_never_runs_in_the_browser(browser_page):
    page, serving, problems = browser_page
    page.goto(serving.url + "timeline")
    assert "<script>alert('owned')</script>" in page.locator("table.timeline").inner_text()
    assert page.evaluate("document.scripts.length") == 0
    page.goto(serving.url + "pages/conduct@US")
    page.locator("td a", has_text="HTML").last.click()
    page.wait_for_load_state()
    assert page.evaluate("document.scripts.length") == 0
    assert problems == []
