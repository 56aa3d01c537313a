"""A seller learns when changed wording takes effect: next to the change in every diff
format and in the alert, counted in days from the clock policywatch reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WallClock
from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, pages_at, write_watchlist

OLD_LINE = "<li>Not send unsolicited or inappropriate communications</li>"


def announcing(*sentences: str) -> str:
    """The Code of Conduct with new sentences, one saying when its wording takes effect."""
    items = "".join(f"\n<li>{sentence}</li>" for sentence in sentences)
    return CONDUCT.replace(OLD_LINE, OLD_LINE + items)


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def watched(tmp_path: Path, pageserver: PageServer, webhook: HttpReceiver) -> Seller:
    pageserver.route("/conduct", CONDUCT)
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    route = {"name": "hook", "url": webhook.url()}
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))


def test_the_alert_and_every_diff_format_say_when_the_new_wording_takes_effect_and_only_that(
    watched: Seller,
    pageserver: PageServer,
    webhook: HttpReceiver,
    wall_clock: WallClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert watched(capsys, "check")[0] == 0  # 2026-11-29: the baseline
    pageserver.route(
        "/conduct",
        announcing(
            "These changes will take effect on January 26, 2027.",
            "Amazon was founded in 1994; orders placed after 5 pm on December 24 ship later.",
        ),
    )
    wall_clock.advance(hours=1)
    watched(capsys, "check")

    (post,) = webhook.posts
    assert "founded in 1994" in post["json"]["message"]  # the unrelated dates are told...
    assert post["json"]["message"].count("Takes effect") == 1  # ...but govern nothing
    assert "Takes effect: 2027-01-26 (in 58 days)" in post["json"]["message"]

    wall_clock.advance(days=60)  # the seller reads the diff two months later
    outputs = {
        fmt: watched(capsys, "diff", "conduct", "--format", fmt)[1]
        for fmt in ("text", "markdown", "html")
    }
    assert "Takes effect: 2027-01-26 (took effect 2 days ago)" in outputs["text"]
    assert outputs["text"].count("Takes effect") == 1
    assert "**Takes effect: 2027-01-26 (took effect 2 days ago)**" in outputs["markdown"]
    assert (
        '<strong class="effective">Takes effect: 2027-01-26 (took effect 2 days ago)</strong>'
        in outputs["html"]
    )
    changes = json.loads(watched(capsys, "diff", "conduct", "--format", "json")[1])["changes"]
    [effective] = [e for change in changes for e in change["effective"]]
    assert effective == {
        "date": "2027-01-26",
        "period_days": None,
        "days_left": -2,
        "phrase": "January 26, 2027",
        "sentence": "These changes will take effect on January 26, 2027.",
        "section": effective["section"],
    }
    assert effective["section"]
