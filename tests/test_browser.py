"""Seller Central help pages only exist after their scripts run: a real headless
Chromium renders them, on loopback, from the same page server every other test uses."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policywatch.content import FetchResult
from policywatch.document.extract import extract_document
from policywatch.errors import ConfigError
from policywatch.fetch import chromium, gate, tab
from policywatch.fetch.browser import PROCESS_TAG_ENV, BrowserFetcher
from policywatch.fetch.http import Fetcher
from policywatch.history.store import Store
from policywatch.models import Defaults, PageSpec
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from policywatch.watchlist.profiles import SELLER_CENTRAL
from tests import realcorpus
from tests.pageserver import PageServer, fixture, fresh_noise
from tests.seller import write_watchlist
from tests.wspeer import SECRET, WebSocketPeer

UNAVAILABLE = chromium.available()


def needs_chromium(test: Callable[..., None]) -> Callable[..., None]:
    """Marks a test that drives the real Chromium; skipped, with the fix, where there is none."""
    skip = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"needs the browser: {UNAVAILABLE}")
    return pytest.mark.browser(skip(test))


DEFAULTS = Defaults(user_agent="policywatch-test/1.0")
POLICY_SENTENCE = "Not send unsolicited or inappropriate communications"
HEAVY_ASSETS = (
    "/static/help.css",
    "/static/logo.png",
    "/static/ember.woff2",
    "/static/diagram.png",
)


def serve_help_app(server: PageServer, path: str = "/help/hub/reference/external/G1801") -> str:
    """Serve a Seller Central-like shell whose script builds the policy after a delay."""
    server.route(path, fixture("browser-shell.html"))
    server.route(
        "/static/help-app.js",
        fixture("browser-help-app.js"),
        content_type="application/javascript",
    )
    for asset in HEAVY_ASSETS:
        server.route(asset, b"\x00" * 64, content_type="application/octet-stream")
    return server.url(path + "?locale=en-GB")


def help_page(url: str, **overrides: object) -> PageSpec:
    values = {
        "id": "seller-code-of-conduct",
        "url": url,
        "select": "#full-help-page",
        "remove": ("[hidden]", ".hh-article-country-box"),
        "headers": {"Accept-Language": "en-GB,en;q=0.8"},
        "timeout": 10.0,
        "allow_private": True,  # the pages are served on loopback
        **overrides,
    }
    return PageSpec(**values)  # type: ignore[arg-type]


def header(seen_headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in seen_headers.items() if k.lower() == name.lower()), None)


def chromium_processes(fetcher: BrowserFetcher) -> dict[int, str]:
    """Live processes of this fetcher's browsers: tagged by environment, or sharing their profile.

    Chromium's helpers do not inherit the environment, but every one of them is
    started with the browser's --user-data-dir.
    """
    tag = f"{PROCESS_TAG_ENV}={fetcher.process_tag}".encode()
    table: dict[int, tuple[list[bytes], list[bytes]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            table[int(entry.name)] = (environ, cmdline)
    tagged = {pid for pid, (environ, _) in table.items() if tag in environ}
    profiles = {
        arg.split(b"=", 1)[1]
        for pid in tagged
        for arg in table[pid][1]
        if arg.startswith(b"--user-data-dir=")
    }
    return {
        pid: b" ".join(cmdline).decode(errors="replace")
        for pid, (_, cmdline) in table.items()
        if pid in tagged or any(profile in arg for arg in cmdline for profile in profiles)
    }


def main_browser_pids(fetcher: BrowserFetcher) -> list[int]:
    """The browser processes proper: not their renderers, GPU, utility or crash handlers."""
    return [
        pid
        for pid, cmdline in chromium_processes(fetcher).items()
        if "--type=" not in cmdline and "crashpad" not in cmdline.split(" ")[0]
    ]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped (a container's PID 1 may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture(scope="module")
def shared_fetcher() -> Iterator[BrowserFetcher]:
    """One browser for the tests that do not count launches, as in a real run."""
    with BrowserFetcher(DEFAULTS) as fetcher:
        yield fetcher


@pytest.fixture
def fetcher() -> Iterator[BrowserFetcher]:
    with BrowserFetcher(DEFAULTS) as fetcher:
        yield fetcher


@needs_chromium
def test_a_javascript_only_policy_is_read_from_the_rendered_page(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    url = serve_help_app(pageserver)

    result = shared_fetcher.fetch(help_page(url))

    assert result.status == "ok", result.reason
    assert result.via == "browser"
    assert result.http_status == 200
    assert result.final_url == url
    assert POLICY_SENTENCE in result.text
    assert "Ratings, Feedback, and Reviews" in result.text
    assert result.raw == result.text.encode("utf-8")
    assert POLICY_SENTENCE not in fixture("browser-shell.html")  # only the script has it
    # The browser claims the watch's pinned locale and our user agent.
    assert 'data-locale="en-GB"' in result.text
    document_request = pageserver.hits("/help/hub/reference/external/G1801")[0]
    assert header(document_request.headers, "Accept-Language").startswith("en-GB")
    assert header(document_request.headers, "User-Agent") == DEFAULTS.user_agent


@needs_chromium
def test_the_browser_reads_the_sections_a_plain_get_only_sees_as_an_app_shell(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    url = serve_help_app(pageserver)
    page = help_page(url)
    with Fetcher(DEFAULTS) as http:
        shell = http.fetch(page)

    rendered = shared_fetcher.fetch(page)

    assert gate.classify_response(shell.text, url, 200, page).startswith(gate.NEEDS_JAVASCRIPT)
    assert gate.classify_response(rendered.text, url, 200, page, via="browser") is None
    document = extract_document(rendered.text, page, rendered.final_url)
    assert document.title == "Seller Code of Conduct"
    assert document.metadata["country"] == "United States"
    assert [s.path for s in document.sections] == [
        ("Seller Code of Conduct",),
        ("Seller Code of Conduct", "Ratings, Feedback, and Reviews"),
        ("Seller Code of Conduct", "Communications"),
    ]
    assert POLICY_SENTENCE in document.sections[0].text
    assert [b.kind for b in document.sections[1].blocks] == ["p", "li", "li"]


@needs_chromium
def test_a_pages_cookie_and_keys_go_to_its_own_site_never_to_a_host_its_script_calls(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    """A seller's login in `headers` reaches the page and its own API, not the widget's host."""
    secrets = {"Cookie": "session=seller-login", "X-Api-Key": "key-of-the-seller"}
    pageserver.route("/help/G1801", fixture("browser-calls-out.html"))
    rest = "<h2>Communications</h2><p>You may not send unsolicited messages.</p>"
    pageserver.route("/api/help/G1801/rest", rest)
    pageserver.route("/widget", "{}", content_type="application/json")
    page = help_page(pageserver.url("/help/G1801"), headers=secrets)

    result = shared_fetcher.fetch(page)

    assert result.status == "ok", result.reason
    assert "You may not send unsolicited messages." in result.text
    for own in ("/help/G1801", "/api/help/G1801/rest"):
        seen = pageserver.hits(own)[0].headers
        assert (header(seen, "Cookie"), header(seen, "X-Api-Key")) == tuple(secrets.values())
    (widget,) = pageserver.hits("/widget")
    assert header(widget.headers, "Cookie") is None
    assert header(widget.headers, "X-Api-Key") is None


@needs_chromium
def test_a_page_read_through_a_proxy_cannot_reach_this_machine_over_a_websocket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No request pause sees a WebSocket; Chromium refuses it, once it knows the page is public."""
    proxy, service = PageServer().start(), WebSocketPeer().start()
    try:
        page_url = f"http://policy.example/help/G1801?ws={service.port}"
        proxy.route(page_url, fixture("browser-websocket.html"))  # a proxy sees the whole URL
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url())
        page = help_page(page_url, headers={}, allow_private=False)
        with BrowserFetcher(DEFAULTS) as fetcher:  # launched with the proxy to use
            result = fetcher.fetch(page)
    finally:
        proxy.stop()
        service.stop()

    assert result.status == "ok", result.reason
    assert "You may not send unsolicited messages." in result.text  # both sockets had ended
    assert "page refused" in result.text and "worker refused" in result.text
    assert SECRET not in result.text
    assert service.handshakes == []


def read_as_it_was(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The pages the browser took as they were at the settle limit, not once they were whole."""
    return [r.getMessage() for r in caplog.records if "read as it was" in r.getMessage()]


@needs_chromium
def test_an_article_whose_last_section_comes_from_a_slow_request_is_read_whole(
    pageserver: PageServer,
    shared_fetcher: BrowserFetcher,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first section shows at once; the rest takes a redirect and a slow answer to arrive.

    Read before the request is answered, the page would look like it lost a section.
    With the settle limit far away, reading it whole must not wait for the limit.
    """
    caplog.set_level(logging.DEBUG, logger="policywatch.browser")
    monkeypatch.setattr(tab, "SETTLE_LIMIT", 60.0)
    pageserver.route("/help/G1801", fixture("browser-slow-part.html"))
    moved = {"Location": "/api/help/G1801/rest-v2"}
    pageserver.route("/api/help/G1801/rest", "", status=302, headers=moved)
    rest = "<h2>Communications</h2><p>You may not send unsolicited messages.</p>"
    pageserver.route("/api/help/G1801/rest-v2", rest, delay=1.0)

    result = shared_fetcher.fetch(help_page(pageserver.url("/help/G1801"), timeout=60.0))

    assert result.status == "ok", result.reason
    assert "You may contact buyers only when" in result.text
    assert "You may not send unsolicited messages." in result.text
    assert read_as_it_was(caplog) == []


@needs_chromium
def test_a_page_that_keeps_a_request_open_is_read_as_it_is_at_the_settle_limit(
    pageserver: PageServer, shared_fetcher: BrowserFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that never ends holds the read to the settle limit, not to the timeout.

    The log names what was still loading, for whoever wonders why the page is slow.
    """
    caplog.set_level(logging.DEBUG, logger="policywatch.browser")
    pageserver.route("/help/G1801", fixture("browser-slow-part.html"))
    pageserver.route("/api/help/G1801/rest", "<p>Never read.</p>", delay=120.0)

    result = shared_fetcher.fetch(help_page(pageserver.url("/help/G1801"), timeout=60.0))

    assert result.status == "ok", result.reason
    assert "You may contact buyers only when" in result.text
    (note,) = read_as_it_was(caplog)
    assert "at the 3 s settle limit: " in note  # not at the page's 60 s timeout
    assert "/api/help/G1801/rest was still loading" in note


@needs_chromium
def test_pixels_beacons_and_a_popup_do_not_hold_the_read(
    pageserver: PageServer,
    shared_fetcher: BrowserFetcher,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pixel and a beacon every 50 ms, and a popup polling its server, here and after it.

    None of them can bring the article any text: with the settle limit far away,
    both pages are read once whole.
    """
    caplog.set_level(logging.DEBUG, logger="policywatch.browser")
    monkeypatch.setattr(tab, "SETTLE_LIMIT", 60.0)
    pageserver.route("/help/G1801", fixture("browser-polling.html"))
    pageserver.route("/help/poller", fixture("browser-poller.html"))
    pageserver.route("/api/news", "No news.")
    pageserver.route("/beacon", "", status=204)
    pageserver.route("/help/G1802", fixture("browser-slow-part.html"))
    pageserver.route("/api/help/G1801/rest", "<p>You may not send unsolicited messages.</p>")

    polling = shared_fetcher.fetch(help_page(pageserver.url("/help/G1801#popup"), timeout=60.0))
    after = shared_fetcher.fetch(help_page(pageserver.url("/help/G1802"), timeout=60.0))

    assert polling.status == "ok", polling.reason
    assert after.status == "ok", after.reason
    assert "You may not send unsolicited messages." in after.text
    assert read_as_it_was(caplog) == []
    assert pageserver.hits("/help/poller")  # the popup did open
    assert pageserver.hits("/beacon")  # and the beacons did go out
    assert not pageserver.hits("/pixel.gif")  # every pixel was refused before it left


SLOW_PART_RULE = "<h2>Communications</h2><p>You may not send unsolicited messages.</p>"
SLOW_PART_REWORDED = "<h2>Communications</h2><p>You may send messages about the order.</p>"


@pytest.fixture
def slow_part_url(pageserver: PageServer) -> str:
    """The article whose last section comes from its API (/api/help/G1801/rest)."""
    pageserver.route("/help/G1801", fixture("browser-slow-part.html"))
    return pageserver.url("/help/G1801")


def check_once(
    tmp_path: Path,
    url: str,
    fetcher: BrowserFetcher,
    now: datetime | None = None,
    timeout: float = 30,
) -> tuple[str, int]:
    """One `check` of the page as the daemon runs it: (its status, the versions stored)."""
    watchlist = write_watchlist(
        tmp_path / "watchlist.yaml",
        [{"id": "communications", "url": url, "fetch": "browser"}],
        notify=(),
        defaults={"select": "#full-help-page", "timeout": timeout, "interval": "1h"},
    )
    with Store(tmp_path / "data") as store:
        [outcome] = check_pages(load_config(watchlist), store, browser=fetcher, now=now).outcomes
        return outcome.status, len(store.snapshots("communications"))


@needs_chromium
def test_a_quick_read_takes_the_article_once_nothing_is_loading_without_the_full_quiet_spell(
    pageserver: PageServer,
    slow_part_url: str,
    shared_fetcher: BrowserFetcher,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poll of a page we hold only needs to recognise it; it still waits for every request.

    With a quiet spell as long as the settle limit, a full read would be taken at the limit.
    """
    caplog.set_level(logging.DEBUG, logger="policywatch.browser")
    monkeypatch.setattr(tab, "SETTLE_IDLE", 60.0)
    monkeypatch.setattr(tab, "SETTLE_LIMIT", 60.0)
    pageserver.route("/api/help/G1801/rest", SLOW_PART_RULE, delay=0.5)

    page = help_page(slow_part_url, timeout=30.0)

    [(_, result)] = shared_fetcher.fetch_each([page], recognise={page.id: lambda read: True})

    assert (result.status, result.quick) == ("ok", True), result.reason
    assert "You may not send unsolicited messages." in result.text
    assert read_as_it_was(caplog) == []


@needs_chromium
def test_a_quick_read_that_is_not_the_version_held_is_read_again_in_full_before_it_is_believed(
    pageserver: PageServer, slow_part_url: str, shared_fetcher: BrowserFetcher, tmp_path: Path
) -> None:
    """The quick read of the second poll catches a glitch; the full read finds the page as held."""
    rest = (SLOW_PART_RULE, SLOW_PART_REWORDED, SLOW_PART_RULE)
    pageserver.route_in_turn("/api/help/G1801/rest", *rest)

    assert check_once(tmp_path, slow_part_url, shared_fetcher) == ("new", 1)
    assert check_once(tmp_path, slow_part_url, shared_fetcher) == ("unchanged", 1)
    assert len(pageserver.hits("/help/G1801")) == 3  # first poll, quick read, full read


@needs_chromium
def test_an_unchanged_page_is_read_once_a_poll_and_a_changed_one_twice_before_it_is_stored(
    pageserver: PageServer, slow_part_url: str, shared_fetcher: BrowserFetcher, tmp_path: Path
) -> None:
    pageserver.route("/api/help/G1801/rest", SLOW_PART_RULE)
    check_once(tmp_path, slow_part_url, shared_fetcher)

    assert check_once(tmp_path, slow_part_url, shared_fetcher) == ("unchanged", 1)
    assert len(pageserver.hits("/help/G1801")) == 2

    pageserver.route("/api/help/G1801/rest", SLOW_PART_REWORDED)

    assert check_once(tmp_path, slow_part_url, shared_fetcher) == ("changed", 2)
    assert len(pageserver.hits("/help/G1801")) == 4  # the quick read, then the full one


@needs_chromium
def test_a_page_read_quickly_is_still_read_in_full_once_a_day(
    pageserver: PageServer,
    slow_part_url: str,
    shared_fetcher: BrowserFetcher,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a quick read can miss (an article swapped in late), a full read finds within a day.

    Polled hourly, the page is read in full at the poll after which the next would come a
    day or more after the last full read. With a quiet spell longer than the page's 3 s,
    every full read is taken at the limit and says so; a quick read never is.
    """
    caplog.set_level(logging.DEBUG, logger="policywatch.browser")
    monkeypatch.setattr(tab, "SETTLE_IDLE", 60.0)
    monkeypatch.setattr(tab, "SETTLE_LIMIT", 60.0)
    pageserver.route("/api/help/G1801/rest", SLOW_PART_RULE)
    first = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def full_reads_after(hours: float) -> int:
        now = first + timedelta(hours=hours)
        check_once(tmp_path, slow_part_url, shared_fetcher, now=now, timeout=3)
        return len(read_as_it_was(caplog))

    assert [full_reads_after(hours) for hours in (0, 1, 22.5, 23, 24)] == [1, 1, 1, 2, 2]


@needs_chromium
def test_a_quick_read_whose_test_breaks_is_read_again_in_full(
    pageserver: PageServer, slow_part_url: str, shared_fetcher: BrowserFetcher
) -> None:
    pageserver.route("/api/help/G1801/rest", SLOW_PART_RULE)
    page = help_page(slow_part_url)

    def broken(read: FetchResult) -> bool:
        raise ValueError("the parser gave up")

    [(_, result)] = shared_fetcher.fetch_each([page], recognise={page.id: broken})

    assert (result.status, result.quick) == ("ok", False), result.reason
    assert len(pageserver.hits("/help/G1801")) == 2


@needs_chromium
def test_a_quick_read_is_never_compared_with_a_version_another_check_stored_meanwhile(
    pageserver: PageServer, slow_part_url: str, shared_fetcher: BrowserFetcher, tmp_path: Path
) -> None:
    """A cron `check` records the reworded page while the daemon reads it.

    The daemon's quick read recognised the version it knew, which says nothing about
    the newer one: it records nothing, where comparing would store the old wording
    again as a change.
    """
    pageserver.route("/api/help/G1801/rest", SLOW_PART_RULE)
    check_once(tmp_path, slow_part_url, shared_fetcher)
    pageserver.route("/help/G1801/static", fixture("browser-slow-part-reworded.html"))
    cron = write_watchlist(
        tmp_path / "cron.yaml",
        [{"id": "communications", "url": pageserver.url("/help/G1801/static"), "fetch": "http"}],
        notify=(),
        defaults={"select": "#full-help-page"},
    )
    cron_runs: list[str] = []

    def rest_while_cron_records_the_page() -> str:
        if not cron_runs:
            with Store(tmp_path / "data") as store:
                [outcome] = check_pages(load_config(cron), store).outcomes
                cron_runs.append(outcome.status)
        return SLOW_PART_RULE

    pageserver.route("/api/help/G1801/rest", rest_while_cron_records_the_page)

    assert check_once(tmp_path, slow_part_url, shared_fetcher) == ("blocked", 2)
    assert cron_runs == ["changed"]
    with Store(tmp_path / "data") as store:
        [outcome] = store.outcomes("communications")
    assert "a version stored meanwhile, after a quick read" in outcome["reason"]


# Real Seller Central DOM dumps with the traits that could trip a second parser:
# hard line breaks inside a sentence, French page chrome, a new wrapper div.
REAL_EXCERPTS = (
    "amazon-eu-fair-pricing-policy/2024-03-12.html",
    "amazon-eu-mediation-policy/2024-07-20T1232Z.html",
    "amazon-eu-mediation-policy/2024-08-01.html",
    "amazon-eu-ranking-parameters/2023-10-24.html",
)


@needs_chromium
@pytest.mark.realpages
def test_a_rendered_page_gives_the_same_document_as_its_saved_html(
    pageserver: PageServer, shared_fetcher: BrowserFetcher, real_pages: Path
) -> None:
    """Switching a page to the browser, or importing archived snapshots, is not a change."""
    pages = [fixture("conduct-v1.html")]
    pages += [realcorpus.serve((real_pages / name).read_text("utf-8")) for name in REAL_EXCERPTS]

    for number, body in enumerate(pages):
        body = fresh_noise(body)
        pageserver.route(f"/help/{number}", body)
        page = PageSpec(
            id=f"page-{number}",
            url=pageserver.url(f"/help/{number}"),
            select=SELLER_CENTRAL.select,
            remove=SELLER_CENTRAL.remove,
            allow_private=True,
        )

        rendered = shared_fetcher.fetch(page)

        assert rendered.status == "ok", rendered.reason
        saved = extract_document(body, page, page.url)
        assert sum(len(s.blocks) for s in saved.sections) > 3  # a real article, not a stub
        assert extract_document(rendered.text, page, rendered.final_url) == saved, page.id


@needs_chromium
def test_a_page_whose_policy_never_appears_is_blocked_within_its_timeout(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    pageserver.route(
        "/help/hub/reference/external/G1801",
        "<!doctype html><html><body><noscript>You need to enable JavaScript to run this app."
        "</noscript><div id='root'><h2>Sign in to continue</h2></div></body></html>",
    )
    page = help_page(pageserver.url("/help/hub/reference/external/G1801"), timeout=1.5)

    started = time.monotonic()
    result = shared_fetcher.fetch(page)
    took = time.monotonic() - started

    assert result.status == "blocked"
    assert result.reason == (
        "the selector #full-help-page never appeared after 1.5 s: "
        "the page may need sign-in or has changed layout"
    )
    assert result.text is None
    assert took < 1.5 + 5  # a browser start at most on top; never the 30 s default


@needs_chromium
def test_a_page_that_freezes_its_renderer_times_out_and_the_next_page_is_read(
    pageserver: PageServer, fetcher: BrowserFetcher
) -> None:
    pageserver.route("/help/frozen", fixture("browser-freeze.html"))
    frozen = help_page(pageserver.url("/help/frozen"), timeout=3)
    fine = help_page(serve_help_app(pageserver))

    started = time.monotonic()
    result = fetcher.fetch(frozen)
    took = time.monotonic() - started
    after = fetcher.fetch(fine)

    assert result.status == "error"
    assert result.reason.startswith("timed out after 3 s")
    assert took < 3 + 30 + 10  # its timeout and a browser start at most; before, forever
    assert after.status == "ok", after.reason
    assert POLICY_SENTENCE in after.text


@needs_chromium
def test_a_page_that_breaks_serialising_itself_is_still_read_and_its_browser_spared(
    pageserver: PageServer, fetcher: BrowserFetcher
) -> None:
    pageserver.route("/help/tampered", fixture("browser-tampered.html"))
    page = help_page(pageserver.url("/help/tampered"), timeout=8)

    result = fetcher.fetch(page)

    # Read, not "timed out" by the backstop that kills a browser it takes for frozen.
    assert result.status == "ok", result.reason
    assert "Not send unsolicited or inappropriate communications." in result.text
    assert result.text.lstrip().lower().startswith("<!doctype html>")
    assert fetcher.launches == 1


@needs_chromium
def test_a_page_never_sees_the_cookies_or_storage_the_page_before_it_left(
    pageserver: PageServer, fetcher: BrowserFetcher
) -> None:
    """Tabs are reused between pages; what one page stored must not change what the next shows."""
    pageserver.route(
        "/help/first",
        "<!doctype html><html><body><div id='full-help-page'><p>First page.</p></div><script>"
        "document.cookie = 'seen=1; path=/'; localStorage.setItem('seen', '1');"
        "sessionStorage.setItem('seen', '1');</script></body></html>",
    )
    pageserver.route(
        "/help/second",
        "<!doctype html><html><body><div id='full-help-page'></div><script>"
        "document.getElementById('full-help-page').textContent = 'cookie=[' + document.cookie"
        " + '] local=[' + localStorage.getItem('seen') + '] session=['"
        " + sessionStorage.getItem('seen') + ']';</script></body></html>",
    )

    first = fetcher.fetch(help_page(pageserver.url("/help/first")))
    second = fetcher.fetch(help_page(pageserver.url("/help/second")))

    assert first.status == "ok" and second.status == "ok", (first.reason, second.reason)
    assert "cookie=[] local=[null] session=[null]" in second.text


@needs_chromium
def test_a_page_read_beside_another_sites_page_never_sees_a_cookie_that_page_planted_for_it(
    pageserver: PageServer,
) -> None:
    """Tabs of one origin share a browser context; a page of another origin never joins it.

    The hostile page opens the victim's site in a popup, whose answer sets a cookie
    there, while the victim's page, read at the same time, shows its cookies a second
    later.
    """
    victim = pageserver.url("/help/victim").replace("127.0.0.1", "localhost")
    plant = victim.replace("/help/victim", "/plant")
    pageserver.route(
        "/help/planter",
        "<!doctype html><html><body><div id='full-help-page'><p>Nothing to see.</p></div>"
        f"<script>window.open('{plant}');</script></body></html>",
    )
    pageserver.route("/plant", "<p>planted</p>", headers={"Set-Cookie": "planted=1; Path=/"})
    pageserver.route(
        "/help/victim",
        "<!doctype html><html><body><div id='full-help-page'></div><script>setTimeout(() => {"
        "document.getElementById('full-help-page').textContent = 'cookie=[' + document.cookie"
        " + ']'; }, 1000);</script></body></html>",
    )
    pages = [
        help_page(pageserver.url("/help/planter"), id="planter"),
        help_page(victim, id="victim"),
    ]

    with concurrent(browser_concurrency=2) as fetcher:
        results = by_id(fetcher.fetch_each(pages))

    assert [results[p.id].status for p in pages] == ["ok", "ok"], results
    assert len(pageserver.hits("/plant")) == 1  # the popup's answer did set it
    assert "cookie=[]" in results["victim"].text


@needs_chromium
def test_images_fonts_and_stylesheets_are_never_downloaded(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    url = serve_help_app(pageserver)

    result = shared_fetcher.fetch(help_page(url))

    assert result.status == "ok", result.reason
    assert pageserver.hits("/static/help-app.js"), "the page's script must still run"
    # The shell links a stylesheet and a logo, the script loads a font and adds a diagram.
    assert {asset: pageserver.hits(asset) for asset in HEAVY_ASSETS} == {
        asset: [] for asset in HEAVY_ASSETS
    }


@needs_chromium
def test_an_error_answer_or_a_dead_server_is_an_error_not_a_version(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    pageserver.route("/help/down", "<h1>We're Sorry</h1>", status=503)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    failing = shared_fetcher.fetch(help_page(pageserver.url("/help/down")))
    refused = shared_fetcher.fetch(help_page(f"http://127.0.0.1:{closed_port}/help"))

    assert (failing.status, failing.http_status) == ("error", 503)
    assert failing.reason == "the server answered HTTP 503"
    assert refused.status == "error"
    assert "ERR_CONNECTION_REFUSED" in refused.reason
    assert failing.text is None and refused.text is None


@needs_chromium
def test_one_browser_serves_a_whole_run_even_from_worker_threads(
    pageserver: PageServer, fetcher: BrowserFetcher
) -> None:
    urls = [serve_help_app(pageserver, f"/help/hub/reference/external/G{n}") for n in range(3)]

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda url: fetcher.fetch(help_page(url)), urls))

    assert [r.status for r in results] == ["ok"] * 3
    assert [r.final_url for r in results] == urls
    assert all(POLICY_SENTENCE in r.text for r in results)
    assert fetcher.launches == 1
    assert len(main_browser_pids(fetcher)) == 1


@needs_chromium
def test_closing_the_fetcher_leaves_no_chromium_running(pageserver: PageServer) -> None:
    fetcher = BrowserFetcher(DEFAULTS)
    assert fetcher.fetch(help_page(serve_help_app(pageserver))).status == "ok"
    running = chromium_processes(fetcher)
    assert len(main_browser_pids(fetcher)) == 1
    assert len(running) > 1, "the browser and its helper processes"

    fetcher.close()

    assert wait_until(lambda: not any(alive(pid) for pid in running)), {
        pid: cmd[:120] for pid, cmd in running.items() if alive(pid)
    }
    fetcher.close()  # closing twice is harmless


@needs_chromium
def test_a_crashed_browser_is_restarted_and_the_page_still_read(
    pageserver: PageServer, fetcher: BrowserFetcher
) -> None:
    page = help_page(serve_help_app(pageserver))
    assert fetcher.fetch(page).status == "ok"
    [crashed] = main_browser_pids(fetcher)
    os.kill(crashed, signal.SIGKILL)
    assert wait_until(lambda: not alive(crashed))

    result = fetcher.fetch(page)

    assert result.status == "ok", result.reason
    assert POLICY_SENTENCE in result.text
    assert fetcher.launches == 2
    assert main_browser_pids(fetcher) not in ([], [crashed])


@needs_chromium
def test_a_chromium_that_will_not_start_is_an_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text(
        "#!/bin/sh\necho 'chromium: error while loading shared libraries: libnss3.so' >&2\n"
        "exit 127\n"
    )
    broken.chmod(0o755)

    with BrowserFetcher(DEFAULTS, executable=str(broken)) as fetcher:
        result = fetcher.fetch(help_page("http://127.0.0.1:9/never-contacted"))

    assert result.status == "error"
    assert result.reason == (
        f"could not start Chromium ({broken}): "
        "chromium: error while loading shared libraries: libnss3.so"
    )
    assert fetcher.launches == 0


def test_without_chromium_a_page_needing_the_browser_is_blocked_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "no-such-chromium")
    monkeypatch.setenv(chromium.CHROMIUM_ENV, missing)

    reason = chromium.available()
    with BrowserFetcher(DEFAULTS) as fetcher:
        result = fetcher.fetch(help_page("http://127.0.0.1:9/never-contacted"))

    assert reason is not None
    assert (result.status, result.via, result.reason) == ("blocked", "browser", reason)
    assert fetcher.launches == 0
    if UNAVAILABLE is None:  # Playwright is installed, so the missing piece is Chromium
        assert reason == (
            f"Chromium not found at {missing} (POLICYWATCH_CHROMIUM); "
            "install Chromium: apt-get install chromium, or set POLICYWATCH_CHROMIUM"
        )


def test_without_the_browser_extra_the_reason_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # as if not installed

    reason = chromium.available("/usr/bin/true")

    assert reason == (
        "the Playwright package is not installed; "
        "install the browser extra: pip install 'policywatch[browser]'"
    )


@needs_chromium
def test_the_browser_never_loads_a_page_on_loopback_without_allow_private(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    url = serve_help_app(pageserver)

    result = shared_fetcher.fetch(help_page(url, allow_private=False))

    assert result.status == "error" and result.text is None
    assert result.reason.startswith(f"refused http://127.0.0.1:{pageserver.port}/help/")
    assert "127.0.0.1 is a loopback address; set `allow_private: true`" in result.reason
    assert pageserver.requests == []  # refused before Chromium sent anything


@needs_chromium
def test_the_browser_stops_a_redirect_to_a_link_local_address_before_it_is_sent(
    pageserver: PageServer, shared_fetcher: BrowserFetcher
) -> None:
    # fe80::1 without an interface cannot even be dialled, so no packet could leave this host.
    target = f"http://[fe80::1]:{pageserver.port}/latest/meta-data/"
    pageserver.route("/help/moved", "", status=302, headers={"Location": target})

    result = shared_fetcher.fetch(help_page(pageserver.url("/help/moved")))

    assert result.status == "error" and result.text is None
    assert result.reason == (
        f"refused {target}: fe80::1 is a link-local address (cloud metadata lives there); "
        "policywatch never fetches these, even with `allow_private: true`"
    )


# --------------------------------------------------------------------------- several pages at once


def serve_numbered(server: PageServer, names: list[str]) -> list[str]:
    """Pages whose script builds an article naming the page it belongs to."""
    shell = fixture("browser-shell.html").replace("/static/help-app.js", "/static/numbered.js")
    server.route("/help/numbered", shell)
    server.route(
        "/static/numbered.js",
        fixture("browser-numbered-app.js"),
        content_type="application/javascript",
    )
    for asset in HEAVY_ASSETS:
        server.route(asset, b"\x00" * 64, content_type="application/octet-stream")
    return [server.url(f"/help/numbered?article={name}") for name in names]


class InFlight:
    """A page body that holds each request open until `wanted` are open at once (or 10 s).

    The server then knows the most requests the browser ever had open at one time.
    """

    def __init__(self, body: str, wanted: int) -> None:
        self.body = body
        self.wanted = wanted
        self.open = 0
        self.most = 0
        self._changed = threading.Condition()

    def __call__(self) -> str:
        with self._changed:
            self.open += 1
            self.most = max(self.most, self.open)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.open >= self.wanted, timeout=10)
            self.open -= 1
        return self.body


def by_id(results: Iterable[tuple[PageSpec, FetchResult]]) -> dict[str, FetchResult]:
    return {page.id: result for page, result in results}


def concurrent(fetcher_defaults: Defaults = DEFAULTS, **settings: object) -> BrowserFetcher:
    return BrowserFetcher(replace(fetcher_defaults, **settings))


@needs_chromium
def test_pages_rendered_in_one_batch_each_keep_their_own_text(
    pageserver: PageServer,
) -> None:
    names = [f"A{n}" for n in range(8)]
    urls = serve_numbered(pageserver, names)
    pages = [help_page(url, id=f"policy-{name}") for name, url in zip(names, urls, strict=True)]

    with concurrent(browser_concurrency=4) as fetcher:
        results = by_id(fetcher.fetch_each(pages))
        assert fetcher.launches == 1

    assert [results[p.id].status for p in pages] == ["ok"] * len(pages)
    for name, page in zip(names, pages, strict=True):
        text = results[page.id].text
        assert f"Sellers listed under policy {name} must answer" in text, page.id
        assert results[page.id].final_url == page.url
        others = [other for other in names if other != name]
        assert not any(f"policy {other} must" in text for other in others), page.id


def renderer_pids(fetcher: BrowserFetcher) -> set[int]:
    return {
        pid
        for pid, cmdline in chromium_processes(fetcher).items()
        if "--type=renderer" in cmdline and alive(pid)
    }


@needs_chromium
def test_the_renderers_that_read_a_sites_pages_read_them_again_next_cycle(
    pageserver: PageServer,
) -> None:
    """A new renderer process for every page read cost half again the browser's CPU.

    Tabs reading pages of one site share a browser context, in which Chromium lets
    each tab keep its renderer from one page to the next.
    """
    names = [f"C{n}" for n in range(4)]
    urls = serve_numbered(pageserver, names)
    pages = [help_page(url, id=f"policy-{name}") for name, url in zip(names, urls, strict=True)]

    with concurrent(browser_concurrency=2) as fetcher:
        first = by_id(fetcher.fetch_each(pages))
        before = renderer_pids(fetcher)
        second = by_id(fetcher.fetch_each(pages))
        after = renderer_pids(fetcher)

    assert {r.status for r in (*first.values(), *second.values())} == {"ok"}
    assert before and after == before


@needs_chromium
def test_pages_that_never_render_or_freeze_end_alone_while_the_pages_beside_them_are_read(
    pageserver: PageServer,
) -> None:
    pageserver.route("/help/frozen", fixture("browser-freeze.html"))
    pageserver.route("/help/sign-in", fixture("browser-shell.html"))  # its script is missing
    frozen = help_page(pageserver.url("/help/frozen"), id="frozen", timeout=5)
    never = help_page(pageserver.url("/help/sign-in"), id="never", timeout=5)
    names = ["B1", "B2", "B3", "B4", "B5"]
    fine = [
        help_page(url, id=f"policy-{name}")
        for name, url in zip(names, serve_numbered(pageserver, names), strict=True)
    ]

    with concurrent(browser_concurrency=3) as fetcher:
        results = by_id(fetcher.fetch_each([fine[0], frozen, never, *fine[1:]]))

    assert (results["never"].status, results["never"].reason) == (
        "blocked",
        "the selector #full-help-page never appeared after 5 s: "
        "the page may need sign-in or has changed layout",
    )
    # Frozen while read: killed at its deadline; on a slow machine frozen before its
    # article was even seen, which is the same timeout seen from the article's side.
    assert results["frozen"].text is None
    assert (results["frozen"].status, results["frozen"].reason[:24]) in (
        ("error", "timed out after 5 s (no "),
        ("blocked", "the selector #full-help-"),
    )
    for name, page in zip(names, fine, strict=True):
        assert results[page.id].status == "ok", (page.id, results[page.id].reason)
        assert f"Sellers listed under policy {name} must answer" in results[page.id].text


@needs_chromium
def test_a_browser_killed_in_the_middle_of_a_batch_is_restarted_and_every_page_read(
    pageserver: PageServer,
) -> None:
    names = ["C1", "C2", "C3", "C4", "C5", "C6"]
    urls = serve_numbered(pageserver, names)
    held = InFlight(fixture("browser-shell.html").replace("help-app.js", "numbered.js"), 2)
    pageserver.route("/help/numbered", held)
    pages = [help_page(url, id=f"policy-{name}") for name, url in zip(names, urls, strict=True)]

    with concurrent(browser_concurrency=2) as fetcher, ThreadPoolExecutor(1) as pool:
        batch = pool.submit(lambda: by_id(fetcher.fetch_each(pages)))
        assert wait_until(lambda: held.most >= 1, seconds=60)  # pages in flight
        [running] = main_browser_pids(fetcher)
        os.kill(running, signal.SIGKILL)
        results = batch.result()
        launches = fetcher.launches

    failed = {p.id: results[p.id].reason for p in pages if results[p.id].status != "ok"}
    assert failed == {}
    for name, page in zip(names, pages, strict=True):
        assert f"Sellers listed under policy {name} must answer" in results[page.id].text
    assert launches == 2


@needs_chromium
def test_pages_read_side_by_side_never_download_pictures_media_fonts_or_styles(
    pageserver: PageServer,
) -> None:
    serve_help_app(pageserver)
    pageserver.route("/help/media", fixture("browser-media-shell.html"))
    for asset in ("/static/intro.mp4", "/static/jingle.mp3"):
        pageserver.route(asset, b"\x00" * 64, content_type="application/octet-stream")
    pages = [help_page(pageserver.url(f"/help/media?copy={n}"), id=f"media-{n}") for n in range(4)]

    with concurrent(browser_concurrency=2) as fetcher:
        results = by_id(fetcher.fetch_each(pages))

    assert [results[p.id].status for p in pages] == ["ok"] * 4
    assert all(POLICY_SENTENCE in results[p.id].text for p in pages)
    assert len(pageserver.hits("/static/help-app.js")) == 4, "the page's script must still run"
    heavy = (*HEAVY_ASSETS, "/static/intro.mp4", "/static/jingle.mp3")
    assert {asset: pageserver.hits(asset) for asset in heavy} == {asset: [] for asset in heavy}


def test_analytics_and_ad_hosts_are_recognised_with_their_subdomains_only() -> None:
    dropped = (
        "https://www.google-analytics.com/g/collect?v=2",
        "https://fls-na.amazon.com/1/batch/1/OE/",
        "https://stats.g.doubleclick.net/j/collect",
        "https://c.amazon-adsystem.com/aax2/apstag.js",
        "https://www.googletagmanager.com/gtag/js?id=G-1",
    )
    kept = (
        "https://sellercentral.amazon.com/help/hub/reference/external/G1801",
        "https://m.media-amazon.com/images/I/help.js",
        "https://notdoubleclick.net/policy",
        "http://127.0.0.1:8080/help",
    )

    assert [url for url in dropped if not tab.tracker(url)] == []
    assert [url for url in kept if tab.tracker(url)] == []


@needs_chromium
def test_check_renders_at_most_browser_concurrency_pages_at_once(
    pageserver: PageServer, tmp_path: Path
) -> None:
    names = [f"D{n}" for n in range(6)]
    urls = serve_numbered(pageserver, names)
    held = InFlight(fixture("browser-shell.html").replace("help-app.js", "numbered.js"), 2)
    pageserver.route("/help/numbered", held)
    watchlist = write_watchlist(
        tmp_path / "watchlist.yaml",
        [
            {"id": f"policy-{n}", "url": u, "fetch": "browser", "select": "#full-help-page"}
            for n, u in zip(names, urls, strict=True)
        ],
        notify=(),
        defaults={"browser_concurrency": 2, "timeout": 30},
    )
    config = load_config(watchlist)

    with Store(tmp_path / "data") as store:
        report = check_pages(config, store)

    assert config.defaults.browser_concurrency == 2
    assert [o.status for o in report.outcomes] == ["new"] * len(names)
    assert held.most == 2  # side by side, and never more than the setting


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "defaults.browser_concurrency: must be at least 1, got 0"),
        ("64", "defaults.browser_concurrency: must be at most 32, got 64"),
        ("lots", "defaults.browser_concurrency: expected a whole number, got text"),
    ],
)
def test_a_browser_concurrency_that_is_no_small_whole_number_is_refused(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        f"defaults:\n  browser_concurrency: {value}\n"
        "pages:\n  - id: conduct\n    url: https://sellercentral.amazon.com/help/G1801\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as error:
        load_config(path)

    assert str(error.value) == f"{path}:2: {message}"


def test_the_browser_renders_four_pages_at_once_unless_told_otherwise() -> None:
    assert Defaults().browser_concurrency == 4
