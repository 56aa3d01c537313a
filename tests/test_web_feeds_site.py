"""Feeds a feed reader accepts, a static copy that rebuilds only what changed, and alerts that
link to the change's page. The store is filled by the real `check` on loopback pages."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import feedparser
import requests
from lxml import etree

from policywatch.cli import main
from policywatch.history.store import Store
from policywatch.web.site import MANIFEST, build_site
from tests.pageserver import PageServer
from tests.seller import CONDUCT, INBOX, Seller, write_watchlist
from tests.webdesk import (
    EDITS,
    HELP_PATH,
    SCRIPT_SENTENCE,
    UK_PAGE,
    Serving,
    check,
    desk_watchlist,
    fill_desk,
)

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://desk.example.com/policywatch/"


def atom_entries(document: bytes) -> list[etree._Element]:
    root = etree.fromstring(document)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None, required
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for required in ("id", "title", "updated", "link", "content"):
            assert entry.find(f"{ATOM}{required}") is not None, required
    return entries


def test_the_feeds_are_valid_atom_with_stable_ids_and_each_entry_links_its_change(
    tmp_path: Path, pageserver: PageServer
):
    config, data = fill_desk(tmp_path, pageserver)
    serving = Serving(config, data)
    try:
        first = serving.get("/feeds/changes.atom")
        again = serving.get("/feeds/changes.atom")
        us = serving.get("/feeds/marketplaces/US.atom")
        uk = serving.get("/feeds/marketplaces/UK.atom")
        critical = serving.get("/feeds/severity/critical.atom")
        page = serving.get("/feeds/pages/conduct@US.atom")
        unknown = serving.get("/feeds/pages/returns.atom")
        entries = feedparser.parse(first.content).entries
        permalinks = [requests.get(e.link, timeout=30).status_code for e in entries]
    finally:
        serving.stop()
    assert first.headers["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(first.content)
    assert not parsed.bozo and parsed.version == "atom10"
    assert len(atom_entries(first.content)) == len(EDITS)
    assert [e.id for e in parsed.entries] == [e.id for e in feedparser.parse(again.content).entries]
    times = [e.updated_parsed for e in parsed.entries]
    assert times == sorted(times, reverse=True)  # newest first
    assert parsed.feed.updated_parsed == times[0]
    assert permalinks == [200] * len(EDITS)
    assert all(re.search(r"/changes/conduct@US/\w{10}\.\.\w{10}$", e.link) for e in parsed.entries)
    script = parsed.entries[-1].content[0]
    assert script.type == "text/plain" and SCRIPT_SENTENCE in script.value
    assert len(feedparser.parse(us.content).entries) == len(EDITS)
    assert feedparser.parse(uk.content).entries == []
    assert [e.title for e in feedparser.parse(critical.content).entries] == [
        parsed.entries[-1].title
    ]
    assert len(feedparser.parse(page.content).entries) == len(EDITS)
    assert unknown.status_code == 404 and "feeds/pages/conduct@UK.atom" in unknown.text


def test_a_static_site_links_only_to_files_it_wrote(tmp_path: Path, pageserver: PageServer):
    config, data = fill_desk(tmp_path, pageserver)
    out = tmp_path / "site"
    assert main(["-c", str(config), "-d", str(data), "site", str(out)]) == 0
    pages = list(out.rglob("*.html"))
    assert len(pages) == 1 + 1 + 1 + 2 + len(EDITS)  # overview, timeline, health, 2 pages
    for page in pages:
        for link in re.findall(r'(?:href|src)="([^"#]+)', page.read_text("utf-8")):
            if link.startswith("http"):
                continue
            assert (page.parent / unquote(link.split("?")[0])).resolve().is_file(), (page, link)
    for name in names_of(out):
        assert not feedparser.parse((out / "feeds" / name).read_bytes()).bozo


def names_of(out: Path) -> list[str]:
    return [str(p.relative_to(out / "feeds")) for p in (out / "feeds").rglob("*.atom")]


def test_a_site_rebuild_rewrites_only_the_pages_with_new_versions(
    tmp_path: Path, pageserver: PageServer
):
    config, data = fill_desk(tmp_path, pageserver, edits=2)
    out = tmp_path / "site"
    build_site(data, out, None)
    old = 1_000_000_000  # every file marked as written long ago: a rewrite shows
    for path in out.rglob("*"):
        os.utime(path, ns=(old, old))
    page = pageserver.routes[f"{HELP_PATH}?locale=en-US"].body
    pageserver.route(f"{HELP_PATH}?locale=en-US", page.replace(*EDITS[2]))
    check(config, data)

    report = build_site(data, out, None)

    rewritten = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.stat().st_mtime_ns != old and p.name != MANIFEST
    )
    assert rewritten == sorted(report.files)
    changes = sorted(f for f in rewritten if f.startswith("changes/"))
    assert len(changes) == 2  # the new change, and the one before it (it gained a "next" link)
    assert not any(f.startswith(("pages/conduct@UK", "snapshots/conduct@UK")) for f in rewritten)
    assert "pages/conduct@US/index.html" in rewritten
    assert "feeds/pages/conduct@UK.atom" not in rewritten
    assert "feeds/pages/conduct@US.atom" in rewritten
    assert len([f for f in rewritten if f.startswith("snapshots/")]) == 1


def test_a_change_alert_links_to_its_page_in_the_web_view(tmp_path: Path, pageserver, capsys):
    config = desk_watchlist(tmp_path, pageserver, base_url=BASE, notify=(INBOX,))
    data = tmp_path / "data"
    pageserver.route(f"{HELP_PATH}?locale=en-US", CONDUCT)
    pageserver.route(f"{HELP_PATH}?locale=en-GB", UK_PAGE)
    check(config, data)
    pageserver.route(f"{HELP_PATH}?locale=en-US", CONDUCT.replace(*EDITS[1]))
    check(config, data)

    [alert] = [a for a in Seller(tmp_path, config).alerts(capsys) if a["kind"] == "change"]

    view = re.search(r"^View: (\S+)$", alert["text"], re.M)
    assert view is not None
    assert re.fullmatch(BASE + r"changes/conduct@US/\w{10}\.\.\w{10}", view.group(1))
    permalink = view.group(1)
    with Store(data) as store:
        [payload] = [a["payload"] for a in store.alerts() if a["payload"]["kind"] == "change"]
    assert f"View: {permalink}" in payload["markdown"]["head"]
    assert f'<a href="{permalink}">' in payload["html"]


def test_a_base_url_that_is_not_a_web_address_is_refused_with_its_line(
    tmp_path: Path, pageserver: PageServer, capsys
):
    config = desk_watchlist(tmp_path, pageserver, base_url="desk.example.com/policywatch")

    code = main(["-c", str(config), "-d", str(tmp_path / "data"), "validate"])

    assert code == 2
    error = capsys.readouterr().err.splitlines()[0]
    assert re.fullmatch(
        rf"policywatch: {re.escape(str(config))}:\d+: defaults\.base_url: "
        r"'desk\.example\.com/policywatch' is not an http\(s\) URL",
        error,
    )


def test_a_page_in_one_marketplace_has_its_feed_and_filter_whatever_its_id(
    tmp_path: Path, pageserver: PageServer
):
    """`marketplace: US` keeps the id as written ("conduct"): the marketplace comes from the
    stored versions, not from an "@US" in the id."""
    entry = {"id": "conduct", "url": pageserver.url(HELP_PATH), "fetch": "http"}
    config = write_watchlist(tmp_path / "watchlist.yaml", [{**entry, "marketplace": "US"}])
    data = tmp_path / "data"
    pageserver.route(f"{HELP_PATH}?locale=en-US", CONDUCT)
    check(config, data)
    pageserver.route(f"{HELP_PATH}?locale=en-US", CONDUCT.replace(*EDITS[1]))
    check(config, data)
    serving = Serving(config, data)
    try:
        feed = serving.get("/feeds/marketplaces/US.atom")
        missing = serving.get("/feeds/marketplaces/XX.atom")
        timeline = serving.get("/timeline?marketplace=US")
    finally:
        serving.stop()

    assert feed.status_code == 200 and len(atom_entries(feed.content)) == 1
    assert missing.status_code == 404 and "feeds/marketplaces/US.atom" in missing.text
    assert "<option selected>US</option>" in timeline.text
    assert "changes/conduct/" in timeline.text  # the change is listed under its filter
