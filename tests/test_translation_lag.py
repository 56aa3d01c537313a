"""A seller on amazon.de watches the Code of Conduct in English and in German
(`locale: [en-GB, de-DE]`). When the English page changes and the German one has not
followed within the grace days, the seller's webhook hears it once, with both dates and
the `compare` command that shows the difference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from policywatch.clock import parse_iso
from policywatch.history.store import Store
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer, fixture
from tests.seller import CONDUCT, QUICK, REWORDED, pages_at

GERMAN = fixture("lang/kontakt-de.html")
FOLLOWED = GERMAN.replace("48 Stunden", "24 Stunden")


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


class Marketplace:
    """The English and German Code of Conduct served on loopback, polled on given days."""

    def __init__(self, tmp_path: Path, server: PageServer, hook: HttpReceiver, **page) -> None:
        self.server, self.hook, self.data = server, hook, tmp_path / "data"
        self.serve(CONDUCT, GERMAN)
        entry = {"id": "conduct", "url": server.url("/G1801"), "locale": ["en-GB", "de-DE"]}
        [watch] = pages_at({"conduct": entry["url"]})
        watchlist = {
            "defaults": {"allow_private": True, **QUICK},
            "pages": [{**watch, **entry, **page}],
            "rules": [],
            "notify": [{"name": "hook", "url": hook.url()}],
        }
        path = tmp_path / "watchlist.yaml"
        path.write_text(yaml.safe_dump(watchlist, allow_unicode=True), encoding="utf-8")
        self.config = load_config(path)

    def serve(self, english: str, german: str) -> None:
        self.server.route("/G1801?locale=en-GB", english)
        self.server.route("/G1801?locale=de-DE", german)

    def poll(self, day: str) -> list[str]:
        """Check both languages on `day`; the titles of the lag alerts that went out."""
        before = len(self.hook.posts)
        check_pages(self.config, Store(self.data), now=parse_iso(f"{day}T09:00:00Z"))
        titles = [post["json"]["title"] for post in self.hook.posts[before:]]
        return [title for title in titles if title.startswith("[translation lag]")]


def test_a_german_page_that_never_follows_the_english_change_raises_one_lag_alert(
    tmp_path: Path, pageserver: PageServer, webhook: HttpReceiver
) -> None:
    market = Marketplace(tmp_path, pageserver, webhook)
    assert market.poll("2025-11-02") == []
    market.serve(REWORDED, GERMAN)

    polls = {day: market.poll(day) for day in ("2026-03-05", "2026-03-12", "2026-03-20")}
    later = [market.poll(day) for day in ("2026-03-27", "2026-04-30")]

    assert polls["2026-03-05"] == polls["2026-03-12"] == []
    [alert] = polls["2026-03-20"]
    assert "English changed on 2026-03-05; German unchanged since 2025-11-02" in alert
    [sent] = [p["json"] for p in webhook.posts if p["json"]["title"] == alert]
    assert "policywatch -c" in sent["message"] and "compare conduct en-GB de-DE" in sent["message"]
    assert later == [[], []]


def test_a_second_english_change_the_german_page_misses_raises_a_second_lag_alert(
    tmp_path: Path, pageserver: PageServer, webhook: HttpReceiver
) -> None:
    market = Marketplace(tmp_path, pageserver, webhook)
    market.poll("2025-11-02")
    market.serve(REWORDED, GERMAN)
    market.poll("2026-03-05")
    first = market.poll("2026-03-20")
    market.serve(REWORDED.replace("promotional", "marketing"), GERMAN)
    market.poll("2026-05-01")

    second = market.poll("2026-05-20") + market.poll("2026-06-20")

    assert len(first) == 1
    [alert] = second
    assert "English changed on 2026-05-01; German unchanged since 2025-11-02" in alert


@pytest.mark.parametrize(("grace", "expected"), [("14d", 0), ("7d", 1)])
def test_a_german_page_that_follows_within_the_grace_days_raises_no_lag_alert(
    tmp_path: Path, pageserver: PageServer, webhook: HttpReceiver, grace: str, expected: int
) -> None:
    market = Marketplace(tmp_path, pageserver, webhook, translation_lag=grace)
    market.poll("2025-11-02")
    market.serve(REWORDED, GERMAN)
    lags = market.poll("2026-03-05") + market.poll("2026-03-13")
    market.serve(REWORDED, FOLLOWED)
    lags += market.poll("2026-03-16") + market.poll("2026-03-25") + market.poll("2026-05-01")

    told = "English changed on 2026-03-05; German unchanged since 2025-11-02"
    assert len(lags) == expected
    assert all(told in title for title in lags)
