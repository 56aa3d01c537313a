"""Working with a page's history: re-deriving it, backfilling it, and the CLI edges scripts hit."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from policywatch.errors import UsageError
from policywatch.history.store import Store
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from tests.pageserver import PageServer
from tests.seller import (
    CONDUCT,
    REWORDED,
    SELLER_CENTRAL_PARTS,
    Seller,
    conduct_seller,
    write_watchlist,
)
from tests.test_seller_central import marketplace_seller, serve_marketplace

ANNOUNCEMENT = (
    '<p class="hh-announcement">New: answer buyer messages on the go with the Amazon Seller app.'
    "</p>\n    <ul>"
)
# Amazon starts showing an app announcement inside the article body.
WITH_ANNOUNCEMENT = CONDUCT.replace("\n    <ul>", "\n    " + ANNOUNCEMENT, 1)
REWORDED_WITH_ANNOUNCEMENT = REWORDED.replace("\n    <ul>", "\n    " + ANNOUNCEMENT, 1)
SIXTY_DAYS = REWORDED.replace("between 4 and 30 days", "between 4 and 60 days")


@pytest.fixture
def seller(tmp_path: Path, pageserver: PageServer) -> Seller:
    pageserver.route("/conduct", CONDUCT)
    return conduct_seller(tmp_path, pageserver)


def also_remove(config: Path, selector: str) -> None:
    """The seller edits the watchlist to drop one more part of the page."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["pages"][0]["remove"].append(selector)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- rederive


@pytest.fixture
def announced(tmp_path: Path, pageserver: PageServer, capsys) -> Seller:
    """Two stored versions that both carry the announcement paragraph."""
    pageserver.route("/conduct", WITH_ANNOUNCEMENT)
    seller = conduct_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")
    pageserver.route("/conduct", REWORDED_WITH_ANNOUNCEMENT)
    seller(capsys, "check", "--no-deliver")
    return seller


def test_rederive_after_dropping_a_paragraph_rewrites_history_without_alerting(
    announced: Seller, capsys
):
    seller = announced
    alerts_before = seller.alerts(capsys)
    also_remove(seller.config, ".hh-announcement")

    code, out, _ = seller(capsys, "rederive")

    assert code == 0
    assert out == "conduct: re-derived 2 of 2 version(s) with the current rules (no alert sent)\n"
    assert seller.alerts(capsys) == alerts_before  # no new alert
    history = seller.json(capsys, "history", "conduct")
    assert [s["origin"] for s in history["snapshots"]] == ["fetch", "fetch"]
    assert all(s["rederived_at"] for s in history["snapshots"])
    code, out, _ = seller(capsys, "history", "conduct")
    assert out.count("fetch, re-derived ") == 2
    for ref in ("latest~1", "latest"):
        code, out, _ = seller(capsys, "show", "conduct", ref)
        assert "Seller app" not in out
        assert "Always provide accurate information" in out

    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]
    assert page["status"] == "unchanged"
    assert len(seller.snapshots("conduct")) == 2

    # Old and new versions compare like with like: only the reworded bullet differs.
    code, out, _ = seller(capsys, "diff", "conduct", "--format", "json")
    [change] = json.loads(out)["changes"]
    assert change["new"] == "Not send unsolicited, promotional or inappropriate communications"


def test_editing_what_the_watchlist_removes_is_not_a_policy_change(announced: Seller, capsys):
    """The first check under new rules re-reads the stored versions instead of crying wolf."""
    alerts_before = announced.alerts(capsys)
    also_remove(announced.config, ".hh-announcement")

    [page] = announced.json(capsys, "check", "--no-deliver")["pages"]

    assert page["status"] == "unchanged"
    assert announced.alerts(capsys) == alerts_before
    history = announced.json(capsys, "history", "conduct")
    assert len(history["snapshots"]) == 2
    assert all(s["rederived_at"] for s in history["snapshots"])
    code, out, _ = announced(capsys, "show", "conduct", "latest")
    assert code == 0 and "Seller app" not in out


def test_rederive_that_an_old_version_cannot_satisfy_leaves_history_untouched(
    announced: Seller, capsys
):
    before = announced.snapshots("conduct")
    data = yaml.safe_load(announced.config.read_text(encoding="utf-8"))
    data["pages"][0]["select"] = "#help-content-v2"
    announced.config.write_text(yaml.safe_dump(data), encoding="utf-8")

    code, out, _ = announced(capsys, "rederive", "conduct")

    assert code == 1
    assert out.startswith(f"conduct: nothing re-derived: version {before[0].id[:10]} (")
    assert "no element matches select `#help-content-v2`" in out
    assert announced.snapshots("conduct") == before


# --------------------------------------------------------------------------- import


def save_versions(folder: Path, pages: dict[str, str]) -> list[str]:
    folder.mkdir(exist_ok=True)
    for name, body in pages.items():
        (folder / name).write_text(body, encoding="utf-8")
    return [str(folder / name) for name in pages]


def test_import_backfills_saved_pages_in_date_order_and_the_next_check_continues(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = conduct_seller(tmp_path, pageserver)
    files = save_versions(
        tmp_path / "saved",
        {"2024-06-01.html": SIXTY_DAYS, "2024-01-10.html": CONDUCT, "2024-03-12.html": REWORDED},
    )

    code, out, _ = seller(capsys, "import", "conduct", *files)

    assert code == 0
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()] == [
        "new",
        "changed",
        "changed",
    ]
    history = seller.json(capsys, "history", "conduct")["snapshots"]
    assert [(s["captured_at"][:10], s["origin"]) for s in history] == [  # newest first
        ("2024-06-01", "import"),
        ("2024-03-12", "import"),
        ("2024-01-10", "import"),
    ]
    assert seller.alerts(capsys) == []
    assert pageserver.requests == []  # importing fetches nothing

    pageserver.route("/conduct", SIXTY_DAYS)
    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]
    assert (page["status"], page["snapshot"]) == ("unchanged", history[0]["id"])

    pageserver.route("/conduct", SIXTY_DAYS.replace("Marketing communications", "Advertising"))
    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]
    assert page["status"] == "changed"
    [alert] = seller.alerts(capsys)
    assert f"{history[0]['id'][:10]} (2024-06-01 00:00 UTC)" in alert["text"]


def test_import_takes_capture_dates_from_at_in_file_order(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = conduct_seller(tmp_path, pageserver)
    files = save_versions(tmp_path / "saved", {"newer.html": REWORDED, "older.html": CONDUCT})

    code, _, _ = seller(
        capsys, "import", "conduct", *files, "--at", "2025-02-01T09:30:00Z", "--at", "2025-01-05"
    )

    assert code == 0
    history = seller.json(capsys, "history", "conduct")["snapshots"]
    assert [s["captured_at"] for s in history] == [
        "2025-02-01T09:30:00.000000Z",
        "2025-01-05T00:00:00.000000Z",
    ]
    code, _, err = seller(capsys, "import", "conduct", *files, "--at", "2025-01-05")
    assert code == 2 and "2 file(s) but 1 --at date(s)" in err


def test_an_old_copy_of_wording_stored_later_is_imported_before_it_and_history_still_reads(
    seller: Seller, capsys
):
    """Saved copies rarely come in order: the live page first, then last year's copy of it."""
    assert seller(capsys, "check", "--no-deliver")[0] == 0  # CONDUCT, live, today
    files = save_versions(seller.config.parent / "saved", {"2024-01-01.html": CONDUCT})
    assert seller(capsys, "import", "conduct", *files)[0] == 0
    files = save_versions(
        seller.config.parent / "saved",
        {"2024-02-01.html": REWORDED, "2024-03-01.html": CONDUCT, "2023-06-01.html": REWORDED},
    )
    assert seller(capsys, "import", "conduct", *files)[0] == 0

    history = seller.json(capsys, "history", "conduct")["snapshots"]
    assert [(s["captured_at"][:10], s["origin"]) for s in reversed(history)][:5] == [
        ("2023-06-01", "import"),
        ("2024-01-01", "import"),
        ("2024-02-01", "import"),
        ("2024-03-01", "import"),
        (history[0]["captured_at"][:10], "fetch"),
    ]
    code, out, _ = seller(capsys, "diff", "conduct", "2024-01-15", "2024-02-15")
    assert code == 0 and "promotional" in out  # CONDUCT then REWORDED
    code, out, _ = seller(capsys, "fsck")
    assert code == 0 and "no problems found" in out


def test_a_saved_sign_in_page_is_skipped_not_imported(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = conduct_seller(tmp_path, pageserver)
    wall = "<html><head><title>Amazon Sign-In</title></head><body><form name='signIn'></form>"
    files = save_versions(tmp_path / "saved", {"2024-01-10.html": CONDUCT, "2024-02-01.html": wall})

    code, out, _ = seller(capsys, "import", "conduct", *files)

    assert code == 1
    assert "2024-02-01.html: blocked: sign-in page" in out
    assert len(seller.snapshots("conduct")) == 1


FAIR_PRICING = "amazon-eu-fair-pricing-policy"
FAIR_PRICING_URL = (
    "https://sellercentral.amazon.fr/help/hub/reference/external/G5TUVJKZHUVMN77V?locale=en-US"
)


@pytest.mark.realpages
def test_importing_the_real_fair_pricing_history_shows_the_shipping_option_change(
    tmp_path: Path, real_pages: Path, capsys
):
    config = write_watchlist(
        tmp_path / "watchlist.yaml", [{"id": "fair-pricing", "url": FAIR_PRICING_URL}]
    )
    seller = Seller(tmp_path, config)
    files = sorted(str(p) for p in (real_pages / FAIR_PRICING).glob("*.html"))
    assert len(files) == 4

    code, out, _ = seller(capsys, "import", "fair-pricing", *files)

    assert code == 0, out
    snapshots = seller.snapshots("fair-pricing")
    assert [s.captured_at[:10] for s in snapshots] == [
        "2022-09-15",
        "2023-03-16",
        "2023-09-06",
        "2024-03-12",
    ]
    assert seller.alerts(capsys) == []
    added = seller.json(capsys, "diff", "fair-pricing", "2023-01-01", "2023-06-01")["changes"]
    assert any("suspend a shipping option" in (c["new"] or "") for c in added)
    assert not any("suspend a shipping option" in (c["old"] or "") for c in added)
    removed = seller.json(capsys, "diff", "fair-pricing", "latest~1", "latest")["changes"]
    assert any("suspend a shipping option" in (c["old"] or "") for c in removed)


# --------------------------------------------------------------------------- CLI edges


def two_pages(tmp_path: Path, server: PageServer) -> Seller:
    server.route("/conduct", CONDUCT)
    server.route("/reviews", REWORDED)
    pages = [
        {"id": page_id, "url": server.url(f"/{page_id}"), **SELLER_CENTRAL_PARTS, "fetch": "http"}
        for page_id in ("conduct", "reviews")
    ]
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages))


def test_check_with_a_page_id_checks_only_that_page(tmp_path: Path, pageserver: PageServer, capsys):
    seller = two_pages(tmp_path, pageserver)

    code, out, _ = seller(capsys, "check", "reviews", "--no-deliver")

    assert code == 0
    assert out.split() == ["reviews", "new", seller.snapshots("reviews")[0].id[:10]]
    assert [hit.path for hit in pageserver.requests] == ["/reviews"]


def test_a_bare_id_checks_every_marketplace_and_a_full_id_just_one(
    tmp_path: Path, pageserver: PageServer, capsys
):
    serve_marketplace(pageserver, "en-US", CONDUCT)
    serve_marketplace(pageserver, "en-GB", CONDUCT.replace("United States", "United Kingdom"))
    seller = marketplace_seller(tmp_path, pageserver)

    every = seller.json(capsys, "check", "conduct", "--no-deliver")["pages"]
    just_uk = seller.json(capsys, "check", "conduct@UK", "--no-deliver")["pages"]

    assert [p["page"] for p in every] == ["conduct@US", "conduct@UK"]
    assert [(p["page"], p["status"]) for p in just_uk] == [("conduct@UK", "unchanged")]
    assert len(pageserver.requests) == 3


def test_an_unknown_page_id_is_a_usage_error_naming_the_known_ones(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = two_pages(tmp_path, pageserver)

    code, out, err = seller(capsys, "check", "conduct", "sellr-code")

    assert code == 2
    assert out == ""
    assert "no page 'sellr-code'" in err
    assert "pages in the watchlist: conduct, reviews" in err
    assert pageserver.requests == []
    assert not seller.data.exists()  # nothing fetched or written


def test_json_of_check_history_and_show_keeps_its_shape(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = two_pages(tmp_path, pageserver)
    check = seller.json(capsys, "check", "--no-deliver")
    history = seller.json(capsys, "history", "conduct")
    show = seller.json(capsys, "show", "conduct", "latest", "--section", "Communications")

    assert set(check) == {"exit_code", "pages"}
    assert check["exit_code"] == 0
    assert set(check["pages"][0]) == {
        "page",
        "status",
        "url",
        "changed_sections",
        "severity",
        "snapshot",
        "revert_of",
        "revert_seen_at",
        "silent_edit",
        "date_bumped",
        "reason",
        "via",
        "marketplace",
    }
    assert set(history) == {"page", "snapshots", "outcomes", "page_date_now"}
    assert set(history["snapshots"][0]) == {
        "id",
        "page_id",
        "digest",
        "captured_at",
        "last_seen_at",
        "url",
        "title",
        "metadata",
        "origin",
        "marketplace",
        "rederived_at",
        "sections",
        "page_date",
    }
    assert history["snapshots"][0]["id"] == check["pages"][0]["snapshot"]
    assert set(show) == {"snapshot", "title", "metadata", "sections"}
    [section] = show["sections"]
    assert section["label"] == "Seller Code of Conduct > Communications"
    assert set(section) == {"path", "level", "digest", "blocks", "label"}
    assert section["blocks"][0]["text"].startswith("You may not send unsolicited")


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ((), "conduct has 1 snapshot, so there is no latest~1"),
        (("latest~3", "latest"), "no latest~3"),
        (("fffff", "latest"), "no snapshot of conduct has an id starting with 'fffff'"),
        (("last week", "latest"), "cannot read 'last week' as a snapshot reference"),
        (("1999-01-01", "latest"), "nothing of conduct was stored as of 1999-01-01"),
    ],
    ids=["default old ref", "latest~N", "unknown id", "not a ref", "before history"],
)
def test_a_diff_ref_that_names_no_snapshot_exits_2(
    seller: Seller, capsys, refs: tuple[str, ...], message: str
):
    seller(capsys, "check", "--no-deliver")

    code, out, err = seller(capsys, "diff", "conduct", *refs)

    assert code == 2
    assert out == ""
    assert message in err


def test_a_diff_of_a_page_never_stored_exits_2(seller: Seller, capsys):
    seller(capsys, "check", "--no-deliver")

    code, _, err = seller(capsys, "diff", "reviews")

    assert code == 2
    assert "no snapshots of 'reviews'" in err


# --------------------------------------------------------------------------- the daemon's caller


def test_the_daemon_can_check_a_list_naming_a_page_a_reload_removed(
    tmp_path: Path, pageserver: PageServer, caplog
):
    pageserver.route("/conduct", CONDUCT)
    config = load_config(conduct_seller(tmp_path, pageserver).config)

    with Store(tmp_path / "data") as store, store.lock():
        with pytest.raises(UsageError, match="no page 'vanished'"):
            check_pages(config, store, page_ids=["vanished", "conduct"], deliver=False)
        report = check_pages(
            config, store, page_ids=["vanished", "conduct"], deliver=False, skip_unknown=True
        )

    assert [(o.page_id, o.status) for o in report.outcomes] == [("conduct", "new")]
    [warning] = [r for r in caplog.records if "vanished" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "no longer in" in warning.getMessage()


def test_a_check_after_an_import_downloads_again_instead_of_trusting_the_old_etag(
    tmp_path: Path, pageserver: PageServer, capsys
):
    """The live page's ETag vouches for the live version, not for a later-dated saved copy."""
    pageserver.route("/conduct", CONDUCT, etag=True)
    seller = conduct_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")
    saved = tmp_path / "saved.html"
    saved.write_text(REWORDED, encoding="utf-8")
    at = datetime.now(UTC).isoformat()
    code, _, err = seller(capsys, "import", "conduct", str(saved), "--at", at)
    assert code == 0, err

    [page] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert [hit.status for hit in pageserver.hits("/conduct")] == [200, 200]
    assert page["status"] == "changed"  # the live page differs from the imported copy
