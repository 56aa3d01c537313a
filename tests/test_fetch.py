"""Fetching over real loopback HTTP: a month of polling meets every one of these answers."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
import zlib
from collections import Counter
from datetime import UTC, datetime

import pytest

from policywatch.content import FetchResult
from policywatch.fetch.answers import parse_retry_after
from policywatch.fetch.decode import decode_html
from policywatch.fetch.http import Fetcher
from policywatch.models import Defaults, PageSpec
from tests.pageserver import FIXTURES, PageServer, Route, fixture
from tests.slowpeer import SlowPeer

FAST = Defaults(retries=3, workers=8, per_host=2, max_bytes=1024 * 1024)


def page_at(server: PageServer, path: str, **options) -> PageSpec:
    options.setdefault("allow_private", True)  # the server is on loopback
    return PageSpec(id=path.strip("/").replace("/", "-") or "root", url=server.url(path), **options)


def answers(route: Route, *replies: tuple[int, dict[str, str], str]) -> list[float]:
    """Make `route` give these (status, headers, body) replies in turn, the last one forever.

    Returns the list the server appends each request's arrival time to.
    """
    arrivals: list[float] = []

    def body() -> str:
        status, headers, text = replies[min(len(arrivals), len(replies) - 1)]
        arrivals.append(time.monotonic())
        route.status, route.headers = status, headers
        return text

    route.body = body
    return arrivals


@pytest.fixture
def fetcher():
    with Fetcher(FAST, backoff=0.01) as fetcher:
        yield fetcher


# ----------------------------------------------------------------- the ordinary poll


def as_is(page: PageSpec, result: FetchResult) -> FetchResult:
    return result


def test_a_policy_page_is_fetched_with_a_descriptive_user_agent_and_the_pages_headers(
    pageserver, fetcher
):
    pageserver.route("/help/G1801", fixture("conduct-v1.html"))
    page = page_at(pageserver, "/help/G1801", headers={"Accept-Language": "en-GB,en;q=0.9"})

    result = fetcher.fetch(page)

    assert result.status == "ok"
    assert result.http_status == 200
    assert "Seller Code of Conduct" in result.text
    assert result.raw.decode("utf-8") == result.text
    assert result.final_url == page.url
    assert result.elapsed > 0
    seen = pageserver.hits("/help/G1801")[0].headers
    assert seen["User-Agent"].startswith("policywatch/")
    assert "policy change monitor" in seen["User-Agent"]
    assert seen["Accept-Language"] == "en-GB,en;q=0.9"


def test_the_watchlist_can_set_its_own_user_agent(pageserver):
    pageserver.route("/p", "<p>policy</p>")
    with Fetcher(Defaults(user_agent="AcmeSellerTools/2.0 (ops@acme.example)")) as fetcher:
        fetcher.fetch(page_at(pageserver, "/p"))
    assert (
        pageserver.hits("/p")[0].headers["User-Agent"] == "AcmeSellerTools/2.0 (ops@acme.example)"
    )


def test_an_unchanged_page_answers_304_and_nothing_is_downloaded(pageserver, fetcher):
    pageserver.route("/help/G1801", fixture("conduct-v1.html"), etag=True)
    page = page_at(pageserver, "/help/G1801")
    first = fetcher.fetch(page)
    assert first.status == "ok" and first.etag

    again = fetcher.fetch(page, etag=first.etag, last_modified="Tue, 03 Mar 2026 10:00:00 GMT")

    assert again.status == "not_modified"
    assert again.text is None and again.raw is None
    assert again.etag == first.etag
    second = pageserver.hits("/help/G1801")[1]
    assert second.status == 304
    assert second.headers["If-None-Match"] == first.etag
    assert second.headers["If-Modified-Since"] == "Tue, 03 Mar 2026 10:00:00 GMT"


def test_a_redirect_is_followed_and_the_final_url_recorded(pageserver, fetcher):
    pageserver.route(
        "/gp/help/external/G1801",
        "",
        status=301,
        headers={"Location": "/help/hub/reference/external/G1801"},
    )
    pageserver.route("/help/hub/reference/external/G1801", fixture("conduct-v1.html"))

    result = fetcher.fetch(page_at(pageserver, "/gp/help/external/G1801"))

    assert result.status == "ok"
    assert result.final_url == pageserver.url("/help/hub/reference/external/G1801")


SECRETS = {"Cookie": "session=seller-login", "X-Api-Key": "key-of-the-seller"}


def test_a_pages_cookie_and_keys_follow_its_redirects_on_its_own_site_only(pageserver, fetcher):
    """A hostile redirect cannot collect the login a seller configured for the page; the
    page's pinned language still goes along, and the login again once back on its site."""
    elsewhere = pageserver.url("/collect").replace("127.0.0.1", "localhost")  # another host
    pageserver.route("/help/old", "", status=301, headers={"Location": "/help/moved"})
    pageserver.route("/help/moved", "", status=302, headers={"Location": elsewhere})
    back = pageserver.url("/help/back")
    pageserver.route("/collect", "", status=302, headers={"Location": back})
    pageserver.route("/help/back", fixture("conduct-v1.html"))
    headers = {**SECRETS, "Accept-Language": "de-DE"}

    result = fetcher.fetch(page_at(pageserver, "/help/old", headers=headers))

    assert result.status == "ok", result.reason
    for own in ("/help/old", "/help/moved", "/help/back"):  # the page's own site gets them
        assert pageserver.hits(own)[0].headers["X-Api-Key"] == SECRETS["X-Api-Key"]
    collected = pageserver.hits("/collect")[0].headers
    assert "Cookie" not in collected and "X-Api-Key" not in collected
    assert collected["Accept-Language"] == "de-DE"


def test_pages_go_through_the_proxy_the_environment_names_except_no_proxy_hosts(
    pageserver, monkeypatch
):
    """A seller behind a corporate proxy: HTTP_PROXY is honoured on every poll, NO_PROXY too."""
    proxy = PageServer().start()
    try:
        remote = "http://sellercentral.amazon.com/help/hub/reference/external/G1801"
        proxy.route(remote, fixture("conduct-v1.html"))  # a proxy sees the absolute URL
        pageserver.route("/local", "<html><body><p>intranet copy</p></body></html>")
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url())
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1")
        remote_page = PageSpec(id="conduct", url=remote)
        local_page = page_at(pageserver, "/local")

        with Fetcher(FAST, backoff=0.01) as fetcher:
            results = [fetcher.fetch(page) for page in (remote_page, local_page) * 2]

        assert [r.status for r in results] == ["ok"] * 4
        assert all("Seller Code of Conduct" in r.text for r in results[::2])
        assert all("intranet copy" in r.text for r in results[1::2])
        assert len(proxy.hits(remote)) == 2
        assert len(pageserver.hits("/local")) == 2
        assert proxy.hits("/local") == []
    finally:
        proxy.stop()


def test_a_gzipped_page_is_decompressed(pageserver, fetcher):
    pageserver.route("/p", fixture("conduct-v1.html"), gzip=True)
    result = fetcher.fetch(page_at(pageserver, "/p"))
    assert result.status == "ok"
    assert "Marketing communications are prohibited" in result.text


# ----------------------------------------------------------------- retries


def test_a_503_then_200_is_retried_and_succeeds(pageserver, fetcher):
    route = pageserver.route("/p")
    arrivals = answers(route, (503, {}, "busy"), (200, {}, "<p>the policy</p>"))

    result = fetcher.fetch(page_at(pageserver, "/p"))

    assert result.status == "ok"
    assert result.text == "<p>the policy</p>"
    assert len(arrivals) == 2


def test_a_429_with_retry_after_is_honoured(pageserver, fetcher):
    route = pageserver.route("/p")
    arrivals = answers(
        route, (429, {"Retry-After": "1"}, "slow down"), (200, {}, "<p>the policy</p>")
    )

    result = fetcher.fetch(page_at(pageserver, "/p"))

    assert result.status == "ok"
    assert 0.9 <= arrivals[1] - arrivals[0] < 5  # backoff alone would be ~0.01 s


def test_a_retry_after_longer_than_a_poll_can_wait_gives_up_at_once(pageserver, fetcher):
    pageserver.route("/p", "slow down", status=429, headers={"Retry-After": "3600"})

    started = time.monotonic()
    result = fetcher.fetch(page_at(pageserver, "/p"))

    assert time.monotonic() - started < 2
    assert result.status == "error" and result.http_status == 429
    assert "3600 s" in result.reason and "next poll" in result.reason
    assert len(pageserver.hits("/p")) == 1


def test_a_500_forever_is_an_error_after_the_configured_attempts(pageserver, fetcher):
    pageserver.route("/p", "<h1>Internal Server Error</h1>", status=500)

    result = fetcher.fetch(page_at(pageserver, "/p"))

    assert result.status == "error"
    assert result.http_status == 500
    assert "HTTP 500" in result.reason and "after 3 attempts" in result.reason
    assert len(pageserver.hits("/p")) == FAST.retries


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 11, 29, 22, 40, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sun, 29 Nov 2026 22:40:30 GMT", now) == 30
    assert parse_retry_after("Sun, 29 Nov 2026 22:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# ----------------------------------------------------------------- failures a user must fix


def test_a_404_is_an_error_that_says_to_check_the_url(pageserver, fetcher):
    result = fetcher.fetch(page_at(pageserver, "/help/hub/reference/external/GONE"))

    assert result.status == "error"
    assert result.http_status == 404
    assert "moved or was removed; check the URL" in result.reason
    assert len(pageserver.hits("/help/hub/reference/external/GONE")) == 1  # never retried


def test_a_refused_connection_is_an_error_not_an_exception(fetcher):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the fetch: nobody listens
    page = PageSpec(id="down", url=f"http://127.0.0.1:{port}/help", allow_private=True)

    result = fetcher.fetch(page)

    assert result.status == "error"
    assert "could not connect to 127.0.0.1" in result.reason
    assert "refused" in result.reason.lower()


def test_a_server_that_never_answers_times_out(pageserver):
    pageserver.route("/slow", "<p>late</p>", delay=3)
    with Fetcher(Defaults(retries=1)) as fetcher:
        started = time.monotonic()
        result = fetcher.fetch(page_at(pageserver, "/slow", timeout=0.3))
    assert time.monotonic() - started < 2
    assert result.status == "error"
    assert "no answer" in result.reason and "timeout" in result.reason


def test_a_page_timing_out_after_a_redirect_never_cuts_another_pages_answer(pageserver):
    """A's redirect hop pools its connection, which then serves B: A's deadline is A's alone."""
    peer = SlowPeer("body", every=0.3).start()
    pageserver.route("/a", "", status=302, headers={"Location": peer.url})
    pageserver.route("/b", "<p>Sellers may not contact buyers.</p>", delay=1.5)
    results: dict[str, FetchResult] = {}
    try:
        with Fetcher(Defaults(retries=1, workers=4, per_host=4)) as fetcher:
            slow = threading.Thread(
                target=lambda: results.update(a=fetcher.fetch(page_at(pageserver, "/a", timeout=1)))
            )
            slow.start()
            waited = time.monotonic() + 10
            while peer.connections == 0 and time.monotonic() < waited:  # A is at its second hop
                time.sleep(0.01)
            results["b"] = fetcher.fetch(page_at(pageserver, "/b", timeout=10))
            slow.join()
    finally:
        peer.stop()
    assert results["a"].status == "error" and results["a"].reason.startswith("timed out after 1 s")
    assert results["b"].status == "ok", results["b"].reason


def test_a_short_timeout_cuts_on_time_while_a_longer_one_is_running():
    """One thread keeps every deadline and sleeps until the first is due: a sooner one wakes it."""
    peer = SlowPeer("body").start()
    results: dict[str, FetchResult] = {}
    with Fetcher(Defaults(retries=1, workers=4, per_host=4)) as fetcher:
        long = PageSpec(id="long", url=peer.url, timeout=60, allow_private=True)
        slow = threading.Thread(target=lambda: results.update(long=fetcher.fetch(long)))
        slow.start()
        try:
            waited = time.monotonic() + 10
            while peer.connections == 0 and time.monotonic() < waited:  # its deadline is set
                time.sleep(0.01)
            started = time.monotonic()
            short = PageSpec(id="short", url=peer.url, timeout=1, allow_private=True)
            results["short"] = fetcher.fetch(short)
            took = time.monotonic() - started
        finally:
            peer.stop()  # the long page's answer breaks off
            slow.join()
    assert results["short"].reason.startswith("timed out after 1 s")
    assert took < 30  # not at the 60 s deadline that was due first
    assert results["long"].status == "error"


@pytest.mark.parametrize("trickle", ["headers", "body", "chunked"])
def test_a_site_trickling_one_byte_a_second_times_out_at_the_pages_timeout(trickle):
    peer = SlowPeer(trickle).start()
    try:
        with Fetcher(Defaults(retries=3), backoff=0.01) as fetcher:
            started = time.monotonic()
            result = fetcher.fetch(PageSpec(id="slow", url=peer.url, timeout=1, allow_private=True))
            took = time.monotonic() - started
    finally:
        peer.stop()
    assert took < 20  # before: 100 000 bytes at one a second, or never for the endless body
    assert result.status == "error"
    assert result.reason.startswith("timed out after 1 s")
    assert peer.connections == 1  # a trickling site trickles again: no retry


def test_a_pdf_is_not_read_as_a_web_page(pageserver, fetcher):
    pageserver.route("/policy.pdf", b"%PDF-1.7 ...", content_type="application/pdf")
    result = fetcher.fetch(page_at(pageserver, "/policy.pdf"))
    assert result.status == "error"
    assert "application/pdf" in result.reason


# ----------------------------------------------------------------- size caps


def test_an_oversized_page_is_an_error_naming_the_setting(pageserver, fetcher):
    pageserver.route("/huge", "<p>" + "x" * (2 * 1024 * 1024) + "</p>")

    result = fetcher.fetch(page_at(pageserver, "/huge"))

    assert result.status == "error"
    assert result.reason.startswith(f"page larger than {FAST.max_bytes} bytes")
    assert "defaults.max_bytes" in result.reason


def test_a_gzip_bomb_is_stopped_without_blowing_up_memory(pageserver, fetcher):
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush()  # 64 MiB inflated
    assert len(bomb) < 100 * 1024
    pageserver.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})

    tracemalloc.start()
    try:
        result = fetcher.fetch(page_at(pageserver, "/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.status == "error"
    assert "page larger than" in result.reason
    assert peak < 8 * FAST.max_bytes  # a few chunks over the cap, never the 64 MiB


# ----------------------------------------------------------------- text decoding


def test_a_windows_1252_page_with_its_charset_only_in_meta_decodes_curly_quotes(
    pageserver, fetcher
):
    raw = (FIXTURES / "fetch-windows-1252.html").read_bytes()
    pageserver.route("/cp1252", raw, content_type="text/html")

    result = fetcher.fetch(page_at(pageserver, "/cp1252"))

    assert "when it’s necessary" in result.text
    assert "“marketing” messages – they’re prohibited" in result.text
    assert result.raw == raw


def test_a_page_that_declares_no_charset_is_detected(pageserver, fetcher):
    declared = (FIXTURES / "fetch-windows-1252.html").read_bytes()
    raw = declared.replace(
        b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">\n', b""
    )
    assert b"charset" not in raw
    pageserver.route("/undeclared", raw, content_type="text/html")

    result = fetcher.fetch(page_at(pageserver, "/undeclared"))

    assert "Don’t send “marketing” messages" in result.text
    assert "Café owners and résumé writers" in result.text


def test_the_http_charset_wins_over_meta_and_detection():
    page = '<meta charset="utf-8"><p>Don’t</p>'.encode("cp1252")
    assert "Don’t" in decode_html(page, "text/html; charset=windows-1252")
    assert "Don’t" in decode_html(page, "text/html; charset=ISO-8859-1")  # as browsers do


def test_an_undeclared_utf8_page_and_a_bom_are_read_as_utf8():
    text = "<p>Seller’s “Code” – déjà</p>"
    assert decode_html(text.encode("utf-8")) == text
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "text/html; charset=cp1252") == text


# ----------------------------------------------------------------- many pages at once


def test_a_seller_with_many_pages_never_has_more_than_per_host_requests_on_one_host(pageserver):
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    overall = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_page(host: str) -> str:
        with lock:
            in_flight[host] += 1
            overall["now"] += 1
            most[host] = max(most[host], in_flight[host])
            overall["most"] = max(overall["most"], overall["now"])
        time.sleep(0.15)
        with lock:
            in_flight[host] -= 1
            overall["now"] -= 1
        return f"<p>policy on {host}</p>"

    for i in range(6):
        pageserver.route(f"/a{i}", lambda: slow_page("127.0.0.1"))
    for i in range(2):
        pageserver.route(f"/b{i}", lambda: slow_page("localhost"))
    pages = [page_at(pageserver, f"/a{i}") for i in range(6)]
    other = f"http://localhost:{pageserver.port}"
    pages += [PageSpec(id=f"b{i}", url=f"{other}/b{i}", allow_private=True) for i in range(2)]

    with Fetcher(Defaults(workers=8, per_host=2)) as fetcher:
        results = dict(
            (page.id, result)
            for page, result in fetcher.fetch_each(((page, None, None) for page in pages), as_is)
        )

    assert {r.status for r in results.values()} == {"ok"}
    assert len(results) == 8
    assert most["127.0.0.1"] == 2  # the limit, and it is used
    assert most["localhost"] <= 2
    assert overall["most"] >= 3  # the other host was served meanwhile


def test_results_come_in_completion_order_and_one_broken_page_does_not_stop_the_others(
    pageserver, fetcher
):
    pageserver.route("/slow", "<p>slow policy</p>", delay=0.3)
    pageserver.route("/quick", "<p>quick policy</p>")
    broken = page_at(pageserver, "/quick", timeout=-1)  # a bad value deep in the stack
    jobs = [
        (page_at(pageserver, "/slow"), None, None),
        (broken, None, None),
        (page_at(pageserver, "/quick"), None, None),
    ]

    order = [(page.url, result) for page, result in fetcher.fetch_each(jobs, as_is)]

    assert order[-1][0].endswith("/slow") and order[-1][1].status == "ok"
    statuses = sorted(result.status for _, result in order)
    assert statuses == ["error", "ok", "ok"]
    crashed = next(result for _, result in order if result.status == "error")
    assert "internal error while fetching" in crashed.reason
