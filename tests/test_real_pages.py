"""Fidelity on real Seller Central history: every real wording change found, no noise reported.

Replays each archived version of the real pages in date order through the
loopback server, with per-request noise and the French/English chrome flip
between versions, and checks what a seller would have been told.
"""

from __future__ import annotations

import csv
import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from policywatch.clock import parse_iso
from policywatch.diff.compare import diff_documents
from policywatch.fetch.http import Fetcher
from policywatch.history.store import Store
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from tests import realcorpus

# What a seller must be told, per document and version: (section heading, sentence fragment,
# "added"/"removed"/"modified"). From the corpus README, "What changed, per document".
EXPECTED: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "amazon-eu-fair-pricing-policy": {
        "2023-03-16": [
            ("Amazon Marketplace Fair Pricing Policy", "suspend a shipping option", "new")
        ],
        "2023-09-06": [
            ("Amazon Marketplace Fair Pricing Policy", "shipping regulation for New Books", "new")
        ],
        "2024-03-12": [
            ("Amazon Marketplace Fair Pricing Policy", "suspend a shipping option", "old")
        ],
    },
    "amazon-eu-mediation-policy": {
        "2024-08-01": [("Mediation Policy", "Amazon EU SARL", "new")],
    },
    "amazon-eu-ranking-parameters": {
        "2023-09-26": [
            (
                "How products are given visibility in the Amazon store",
                "shop by voice with Alexa",
                "new",
            ),
            ("Featured Offer", "Prime eligibility", "old"),
            ("Highlighted products", "We may also use customer product reviews as a factor", "new"),
        ],
        "2023-10-24": [
            ("Sponsored Brands and Sponsored Products", "For more on eligibility", "old"),
        ],
    },
}


class Replay:
    """One watched page on the loopback server, checked as often as the archive saw it."""

    def __init__(self, tmp_path: Path, server, slug: str) -> None:
        self.server = server
        self.path = f"/{slug}"
        config = tmp_path / f"{slug}.yaml"
        config.write_text(
            "pages:\n"
            f"  - id: {slug}\n"
            f"    url: {server.url(self.path)}?locale=en-US\n"
            "    profile: seller-central\n"
            "    fetch: http\n"
            "defaults: {retries: 1, timeout: 5, allow_private: true}\n"
            "notify:\n"
            "  - {url: 'json://127.0.0.1:9/', name: seller-inbox}\n",
            encoding="utf-8",
        )
        self.config = load_config(config)
        self.store = Store(tmp_path / f"{slug}-data")
        self.fetcher = Fetcher(self.config.defaults)
        self.slug = slug

    def check(self, page_html: str, at: datetime) -> str:
        self.server.route(self.path, page_html)
        with self.store.lock():
            report = check_pages(
                self.config, self.store, now=at, fetcher=self.fetcher, deliver=False
            )
        [outcome] = report.outcomes
        assert outcome.status not in ("blocked", "error"), outcome.reason
        return outcome.status

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()


@pytest.fixture
def replay(tmp_path, pageserver):
    made: list[Replay] = []

    def make(slug: str) -> Replay:
        made.append(Replay(tmp_path, pageserver, slug))
        return made[-1]

    yield make
    for r in made:
        r.close()


def changes_reported(replay: Replay) -> list[tuple[str, list]]:
    """(version date, substantive changes) for each stored version after the first."""
    snaps = replay.store.snapshots(replay.slug)
    found = []
    for old, new in itertools.pairwise(snaps):
        diff = diff_documents(
            replay.store.document(old),
            replay.store.document(new),
            page_id=replay.slug,
            old_id=old.id,
            new_id=new.id,
            rules=replay.config.rules,
        )
        found.append((new.captured_at[:10], list(diff.substantive)))
    return found


@pytest.mark.realpages
@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_every_real_wording_change_is_reported_in_its_section(real_pages, replay, slug):
    history = realcorpus.versions(real_pages, slug)
    watch = replay(slug)
    for version in history:
        at = parse_iso(version.recorded_at)
        excerpt = realcorpus.excerpt_for(version, history)
        watch.check(realcorpus.serve(excerpt, chrome="en", year=2023), at)
        # Noise between archived versions: new ids, French chrome, another copyright year.
        status = watch.check(
            realcorpus.serve(excerpt, chrome="fr", year=2024), at + timedelta(hours=6)
        )
        assert status == "unchanged", f"{slug} {version.name}: chrome flip reported as {status}"

    reported = changes_reported(watch)
    expected = EXPECTED[slug]
    assert [date for date, _ in reported] == [d[:10] for d in expected], reported
    for date, changes in reported:
        for heading, fragment, side in expected[date]:
            hits = [c for c in changes if fragment in ((c.new if side == "new" else c.old) or "")]
            assert hits, f"{slug} {date}: no change mentions {fragment!r}: {changes}"
            assert heading in hits[0].section, (fragment, hits[0].section)

    alerts = watch.store.alerts()
    assert len({a["payload"]["title"] for a in alerts}) <= len(expected)
    assert all(a["page_id"] == slug for a in alerts)


@pytest.mark.realpages
def test_the_mediation_policy_locale_flapping_stores_nothing(real_pages, replay):
    """498 archived fetches alternated English and French page chrome around one English text."""
    history = {v.name: v for v in realcorpus.versions(real_pages, "amazon-eu-mediation-policy")}
    english = realcorpus.excerpt_for(history["2024-07-20T1832Z"], list(history.values()))
    french = history["2024-07-20T1232Z"].html
    timeline = Path(real_pages, "amazon-eu-mediation-policy", "flapping-timeline.csv")
    rows = list(csv.DictReader(timeline.open(encoding="utf-8")))
    flaps = [r for r in rows if r["entity_in_eligible_dispute"] == "Amazon Services Europe SARL"]
    flaps = [r for r in flaps if r["recorded_at"] >= "2022-09-30"]
    assert len(flaps) > 400

    watch = replay("amazon-eu-mediation-policy")
    statuses = []
    for row in flaps:
        page = french if row["banner"] == "fr" else english
        statuses.append(watch.check(realcorpus.serve(page), parse_iso(row["recorded_at"])))
    assert statuses[0] == "new"
    assert set(statuses[1:]) == {"unchanged"}
    assert len(watch.store.snapshots("amazon-eu-mediation-policy")) == 1
    assert watch.store.alerts() == []

    final = history["2024-08-01"].html
    assert watch.check(realcorpus.serve(final), parse_iso("2024-08-01T12:00:00+00:00")) == "changed"
    [alert] = {a["key"]: a for a in watch.store.alerts()}.values()
    assert "Mediation Policy" in alert["payload"]["title"]
