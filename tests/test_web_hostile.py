"""The web view against a hostile policy page and hostile requests: every byte of a fetched
page is attacker-controlled, and so is every request that reaches `serve`."""

from __future__ import annotations

from pathlib import Path

import feedparser

from policywatch.cli import main
from tests.pageserver import PageServer
from tests.seller import CONDUCT, write_watchlist
from tests.webdesk import Serving

GUIDELINES = "All sellers must adhere to the following guidelines:"
# Control characters and XML non-characters written into the page as bytes and as references.
GARBLED = "Sellers must\x0b reply\x01 within 2 days&#xFFFE; or risk\x1b[31m suspension."


def garbled_desk(tmp_path: Path, server: PageServer) -> tuple[Path, Path]:
    pages = [{"id": "conduct", "url": server.url("/conduct"), "fetch": "http"}]
    config = write_watchlist(tmp_path / "watchlist.yaml", pages, notify=())
    data = tmp_path / "data"
    for page in (CONDUCT, CONDUCT.replace(GUIDELINES, f"{GUIDELINES} {GARBLED}")):
        server.route("/conduct", page)
        assert main(["-q", "-c", str(config), "-d", str(data), "check", "--no-deliver"]) == 0
    return config, data


def test_a_page_with_control_characters_still_gives_feeds_a_reader_parses_and_a_site(
    tmp_path: Path, pageserver: PageServer
):
    config, data = garbled_desk(tmp_path, pageserver)
    serving = Serving(config, data)
    try:
        answers = [serving.get(p) for p in ("/feeds/changes.atom", "/feeds/pages/conduct.atom")]
    finally:
        serving.stop()
    for answer in answers:
        assert answer.status_code == 200, answer.url
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, parsed.bozo_exception
        (entry,) = parsed.entries
        assert "reply\\x01 within 2 days\\ufffe or risk\\x1b" in entry.content[0].value
    assert main(["-q", "-c", str(config), "-d", str(data), "site", str(tmp_path / "out")]) == 0
    assert not feedparser.parse((tmp_path / "out/feeds/changes.atom").read_bytes()).bozo
