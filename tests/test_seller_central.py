"""Seller Central as it really behaves, checked through the `policywatch` command on loopback.

Client-rendered help pages, one policy per marketplace, error pages inside the
article, half-rendered fetches, "Last updated" dates and pages that flip back:
each story runs the CLI a seller types against the page server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policywatch.fetch import chromium
from tests.pageserver import PageServer, Seen, fixture
from tests.seller import (
    CONDUCT,
    REWORDED,
    SELLER_CENTRAL_PARTS,
    Seller,
    conduct_seller,
    write_watchlist,
)

DATE_BUMPED = CONDUCT.replace("Last updated: March 3, 2026", "Last updated: April 9, 2026")
HELP_PATH = "/help/hub/reference/external/G1801"


@pytest.fixture
def seller(tmp_path: Path, pageserver: PageServer) -> Seller:
    pageserver.route("/conduct", CONDUCT)
    return conduct_seller(tmp_path, pageserver)


def from_browser(seen: Seen) -> bool:
    """Chromium sends fetch metadata headers; requests never does."""
    return any(name.lower() == "sec-fetch-mode" for name in seen.headers)


# --------------------------------------------------------------------------- browser


def serve_app_shell(server: PageServer) -> str:
    """The client-rendered help page: a shell whose script builds the policy."""
    server.route(HELP_PATH, fixture("browser-shell.html"))
    server.route(
        "/static/help-app.js", fixture("browser-help-app.js"), content_type="application/javascript"
    )
    return server.url(HELP_PATH)


@pytest.mark.browser
@pytest.mark.skipif(
    chromium.available() is not None, reason=f"needs the browser: {chromium.available()}"
)
def test_an_app_shell_is_read_through_the_browser_and_the_next_check_goes_straight_there(
    tmp_path: Path, pageserver: PageServer, capsys, monkeypatch
):
    url = serve_app_shell(pageserver)
    entry = {"id": "conduct", "url": url, **SELLER_CENTRAL_PARTS}  # fetch: auto by default
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry]))

    [first] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert (first["status"], first["via"]) == ("new", "browser"), first["reason"]
    first_check = pageserver.hits(HELP_PATH)
    assert [from_browser(hit) for hit in first_check] == [False, True]  # plain GET, then Chromium
    with seller.store() as store:
        assert store.page_state("conduct")["fetch_path"] == "browser"
        [snapshot] = store.snapshots("conduct")
        document = store.document(snapshot)
    assert "Not send unsolicited or inappropriate communications" in document.sections[0].text

    # Next check: no plain GET first. With Chromium gone it says so and stores nothing.
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "chromium-was-removed"))
    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert code == 1
    assert out.startswith("conduct  blocked: Chromium not found at ")
    assert pageserver.hits(HELP_PATH) == first_check
    assert len(seller.snapshots("conduct")) == 1


def test_fetch_http_on_an_app_shell_is_blocked_as_needing_javascript(
    tmp_path: Path, pageserver: PageServer, capsys
):
    url = serve_app_shell(pageserver)
    entry = {"id": "conduct", "url": url, **SELLER_CENTRAL_PARTS, "fetch": "http"}
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry]))

    code, out, _ = seller(capsys, "check")

    assert code == 1
    assert out.startswith("conduct  blocked: needs JavaScript: ")
    assert "fetch: browser" in out
    assert seller.snapshots("conduct") == []
    assert not any(from_browser(hit) for hit in pageserver.requests)


def test_without_chromium_an_app_shell_is_blocked_with_the_fix_never_stored(
    tmp_path: Path, pageserver: PageServer, capsys, monkeypatch
):
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    url = serve_app_shell(pageserver)
    seller = Seller(
        tmp_path,
        write_watchlist(
            tmp_path / "watchlist.yaml", [{"id": "conduct", "url": url, **SELLER_CENTRAL_PARTS}]
        ),
    )

    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert page["status"] == "blocked"
    assert page["reason"] == chromium.available()
    assert "apt-get install chromium" in page["reason"]
    assert seller.snapshots("conduct") == []


# --------------------------------------------------------------------------- marketplaces


def banner(page: str, country: str) -> str:
    return page.replace("<b>United States</b>", f"<b>{country}</b>")


US_PAGE = CONDUCT
UK_PAGE = banner(CONDUCT, "United Kingdom").replace(" Marketing communications are prohibited.", "")


def marketplace_seller(tmp_path: Path, server: PageServer) -> Seller:
    entry = {
        "id": "conduct",
        "url": server.url(HELP_PATH),
        **SELLER_CENTRAL_PARTS,
        "fetch": "http",
        "marketplaces": ["US", "UK"],
    }
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry]))


def serve_marketplace(server: PageServer, locale: str, page: str) -> None:
    server.route(f"{HELP_PATH}?locale={locale}", page)


def test_each_marketplace_is_its_own_watch_with_its_own_locale(
    tmp_path: Path, pageserver: PageServer, capsys
):
    serve_marketplace(pageserver, "en-US", US_PAGE)
    serve_marketplace(pageserver, "en-GB", UK_PAGE)
    seller = marketplace_seller(tmp_path, pageserver)

    report = seller.json(capsys, "check", "--no-deliver")

    assert [(p["page"], p["status"], p["marketplace"]) for p in report["pages"]] == [
        ("conduct@US", "new", "US"),
        ("conduct@UK", "new", "UK"),
    ]
    languages = {hit.path: hit.headers.get("Accept-Language") for hit in pageserver.requests}
    assert languages == {
        f"{HELP_PATH}?locale=en-US": "en-US,en;q=0.9",
        f"{HELP_PATH}?locale=en-GB": "en-GB,en;q=0.9",
    }
    history = seller.json(capsys, "history", "conduct@UK")
    assert [s["marketplace"] for s in history["snapshots"]] == ["UK"]
    shown = seller.json(capsys, "show", "conduct@UK")
    assert shown["snapshot"]["marketplace"] == "UK"
    assert shown["metadata"]["country"] == "United Kingdom"

    serve_marketplace(pageserver, "en-GB", UK_PAGE.replace("30 days", "45 days"))
    [us, uk] = seller.json(capsys, "check", "--no-deliver")["pages"]
    assert (us["status"], uk["status"]) == ("unchanged", "changed")
    [alert] = seller.alerts(capsys)
    assert alert["page_id"] == "conduct@UK"
    assert "(UK)" in alert["title"]
    assert "Marketplace: UK" in alert["text"]


def test_a_uk_watch_served_the_us_article_is_blocked_as_wrong_marketplace(
    tmp_path: Path, pageserver: PageServer, capsys
):
    serve_marketplace(pageserver, "en-US", US_PAGE)
    serve_marketplace(pageserver, "en-GB", UK_PAGE)
    seller = marketplace_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")

    serve_marketplace(pageserver, "en-GB", US_PAGE)
    code, out, _ = seller(capsys, "check", "conduct@UK", "--no-deliver")

    assert code == 1
    assert out.startswith(
        "conduct@UK  blocked: wrong marketplace: page is for United States, expected United Kingdom"
    )
    assert len(seller.snapshots("conduct@UK")) == 1


def test_compare_shows_what_the_us_policy_says_that_the_uk_one_does_not(
    tmp_path: Path, pageserver: PageServer, capsys
):
    serve_marketplace(pageserver, "en-US", US_PAGE)
    serve_marketplace(pageserver, "en-GB", UK_PAGE)
    seller = marketplace_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")

    code, out, _ = seller(capsys, "compare", "conduct", "US", "UK")

    assert code == 0
    assert "conduct@US" in out and "conduct@UK" in out
    assert "Seller Code of Conduct > Communications" in out
    assert "Marketing communications are prohibited." in out
    assert "Ratings, Feedback, and Reviews" not in out  # the same in both

    compared = seller.json(capsys, "compare", "conduct", "us", "uk")
    assert [s["label"] for s in compared["sections"]] == ["Seller Code of Conduct > Communications"]
    [change] = compared["changes"]
    assert (change["kind"], change["old"], change["new"]) == (
        "removed",
        "Marketing communications are prohibited.",
        None,
    )
    assert (compared["meta"]["old_label"], compared["meta"]["new_label"]) == (
        "conduct@US",
        "conduct@UK",
    )


def test_compare_says_which_marketplace_has_no_snapshot_yet(
    tmp_path: Path, pageserver: PageServer, capsys
):
    serve_marketplace(pageserver, "en-US", US_PAGE)
    serve_marketplace(pageserver, "en-GB", US_PAGE)  # the UK watch is blocked from the start
    seller = marketplace_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")

    code, out, err = seller(capsys, "compare", "conduct", "US", "UK")

    assert code == 2
    assert out == ""
    assert "conduct@UK has no snapshot yet" in err
    assert "wrong marketplace" in err  # why: its last check
    assert "policywatch check conduct@UK" in err


# --------------------------------------------------------------------------- validity


SORRY = (
    '<div class="hh-error-page"><p><b>We’re Sorry.</b> We can’t find the page you’re looking'
    " for.</p><p>The page may have moved, or the link you followed may be out of date. Try"
    ' searching <a href="/help/hub/reference/external/G2">Seller Central Help</a>.</p></div>'
)


def sorry_page() -> str:
    """The conduct page as served when the article is gone: same chrome, no h1, no policy."""
    article = re.compile(r'(<div id="help-content">).*?(</div>\s*<kat-button)', re.S)
    page = article.sub(lambda m: m.group(1) + SORRY + m.group(2), CONDUCT)
    assert SORRY in page
    return page.replace("<h1>Seller Code of Conduct</h1>", "<h1></h1>")


def test_an_error_page_inside_the_article_container_is_blocked_not_a_version(
    tmp_path: Path, pageserver: PageServer, capsys
):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver, profile="seller-central")
    seller(capsys, "check", "--no-deliver")

    pageserver.route("/conduct", sorry_page())
    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert code == 1
    assert out.startswith('conduct  blocked: error page instead of the policy ("we can')
    assert len(seller.snapshots("conduct")) == 1
    assert seller.alerts(capsys) == []
    code, out, _ = seller(capsys, "history", "conduct")
    assert "recent polls that stored nothing" in out and "error page" in out


def sections_cut(page: str) -> str:
    """The page as a half-rendered fetch gives it: only the first two sections."""
    return re.sub(r"<h2>Communications</h2>.*?(?=<p>Last updated)", "", page, flags=re.S)


def test_a_fetch_that_loses_most_sections_is_fetched_again_and_a_glitch_records_nothing(
    seller: Seller, pageserver: PageServer, capsys
):
    seller(capsys, "check", "--no-deliver")
    pageserver.route_in_turn("/conduct", sections_cut(CONDUCT), CONDUCT)

    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert (code, out.split()[:2]) == (0, ["conduct", "unchanged"])
    assert len(pageserver.hits("/conduct")) == 3  # baseline, the glitch, the confirming fetch
    assert len(seller.snapshots("conduct")) == 1
    with seller.store() as store:
        assert store.outcomes("conduct") == []
        assert store.page_state("conduct")["consecutive_failures"] == 0
    assert seller.alerts(capsys) == []


def test_a_confirmed_loss_of_sections_is_recorded_as_a_change(
    seller: Seller, pageserver: PageServer, capsys
):
    seller(capsys, "check", "--no-deliver")
    pageserver.route("/conduct", sections_cut(CONDUCT))

    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert (page["status"], page["changed_sections"]) == ("changed", 4)
    assert len(pageserver.hits("/conduct")) == 3
    assert len(seller.snapshots("conduct")) == 2
    [alert] = seller.alerts(capsys)
    assert "Customer information" in alert["text"]


def test_a_loss_the_second_fetch_neither_confirms_nor_undoes_is_blocked(
    seller: Seller, pageserver: PageServer, capsys
):
    seller(capsys, "check", "--no-deliver")
    pageserver.route_in_turn("/conduct", sections_cut(CONDUCT), sections_cut(REWORDED))

    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert code == 1
    assert out.startswith("conduct  blocked: unconfirmed change: the page lost sections")
    assert len(seller.snapshots("conduct")) == 1


# --------------------------------------------------------------------------- dates and reverts


def test_a_last_updated_bump_alone_is_no_change(seller: Seller, pageserver: PageServer, capsys):
    seller(capsys, "check", "--no-deliver")
    pageserver.route("/conduct", DATE_BUMPED)

    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert (code, out.split()[:2]) == (0, ["conduct", "unchanged"])
    assert len(seller.snapshots("conduct")) == 1
    assert seller.alerts(capsys) == []

    # The wording changes later under the date already shown: that edit is silent.
    pageserver.route("/conduct", DATE_BUMPED.replace("30 days", "60 days"))
    code, out, _ = seller(capsys, "check", "--no-deliver")
    assert 'changed (1 section) [major]: silent edit, the "Last updated" date did not move' in out
    [alert] = seller.alerts(capsys)
    assert "Silent edit" in alert["text"]


def test_a_reworded_policy_with_the_same_last_updated_date_is_flagged_as_a_silent_edit(
    seller: Seller, pageserver: PageServer, capsys
):
    seller(capsys, "check", "--no-deliver")
    pageserver.route("/conduct", REWORDED)

    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert (page["status"], page["silent_edit"]) == ("changed", True)
    [alert] = seller.alerts(capsys)
    assert (
        'Silent edit: the wording changed but the page\'s "Last updated" date did not.'
        in (alert["text"])
    )

    pageserver.route(
        "/conduct", REWORDED.replace("March 3, 2026", "May 1, 2026").replace("30 days", "60 days")
    )
    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]
    assert (page["status"], page["silent_edit"]) == ("changed", False)
    dated = [a for a in seller.alerts(capsys) if "Request a Review" in a["text"]]
    assert dated and "Silent edit" not in dated[0]["text"]


def test_a_page_back_to_an_earlier_version_is_reported_as_a_revert(
    seller: Seller, pageserver: PageServer, capsys, wall_clock
):
    seller(capsys, "check", "--no-deliver")
    [original] = seller.snapshots("conduct")
    pageserver.route("/conduct", REWORDED)
    seller(capsys, "check", "--no-deliver")
    wall_clock.advance(hours=2)
    seller(capsys, "check", "--no-deliver")  # the reword stayed: no flapping
    pageserver.route("/conduct", CONDUCT)

    code, out, _ = seller(capsys, "check", "--no-deliver")

    first_seen = original.captured_at[:16].replace("T", " ")
    assert code == 0
    assert f"back to the version first seen on {first_seen} UTC ({original.id[:10]})" in out
    reverted = [a for a in seller.alerts(capsys) if "reverted" in a["title"]]
    assert len(reverted) == 1
    assert (
        "This is a revert: the page is back to the version first seen on" in (reverted[0]["text"])
    )
    assert seller.json(capsys, "check", "--no-deliver")["pages"][0]["status"] == "unchanged"


def test_a_page_flapping_between_two_versions_alerts_for_the_change_and_once_that_it_flaps(
    seller: Seller, pageserver: PageServer, capsys
):
    seller(capsys, "check", "--no-deliver")
    for body in (REWORDED, CONDUCT) * 3:
        pageserver.route("/conduct", body)
        seller(capsys, "check", "--no-deliver")

    titles = [a["title"] for a in seller.alerts(capsys)]

    assert len(seller.snapshots("conduct")) == 7  # every version is kept
    assert len(titles) == 2, titles  # not one per flip
    assert "changed" in titles[0] and "is flipping between two versions" in titles[1]
