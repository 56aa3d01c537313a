"""A seller learns when changed wording takes effect: next to the change in every diff
format and in the alert, counted in days from the clock policywatch reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import WallClock
from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, hooked_seller, pages_at, write_watchlist

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
    return hooked_seller(tmp_path, "conduct", pageserver.url("/conduct"), webhook.url())


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


@pytest.fixture
def two_pages(tmp_path: Path, pageserver: PageServer) -> Seller:
    """The Code of Conduct in the US and the UK, each announcing its own date."""
    pageserver.route(
        "/us",
        announcing(
            "Starting March 1, 2027, sellers must answer buyers within 24 hours.",
            "The previous rules took effect on December 1, 2022.",
        ),
    )
    pageserver.route("/uk", announcing("These changes will take effect on 26 January 2027."))
    pages = pages_at({"conduct-us": pageserver.url("/us"), "conduct-uk": pageserver.url("/uk")})
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[]))


def test_upcoming_lists_what_takes_effect_within_the_days_asked_soonest_first(
    two_pages: Seller, wall_clock: WallClock, capsys: pytest.CaptureFixture[str]
) -> None:
    two_pages(capsys, "check")
    wall_clock.advance(days=3)  # 2026-12-02

    soon = two_pages.json(capsys, "upcoming", "--days", "60")
    later = two_pages.json(capsys, "upcoming", "--days", "120")
    code, text, _ = two_pages(capsys, "upcoming")

    assert [(e["page"], e["date"], e["days_left"]) for e in soon] == [
        ("conduct-uk", "2027-01-26", 55)
    ]
    assert soon[0]["sentence"] == "These changes will take effect on 26 January 2027."
    assert soon[0]["section"] and soon[0]["url"].endswith("/uk")
    assert [e["date"] for e in later] == ["2027-01-26", "2027-03-01"]
    assert (
        code == 0
        and "2027-01-26 (in 55 days)  Seller Code of Conduct [conduct-uk]" in text
        and "2022" not in text
    )


def test_upcoming_as_json_stays_valid_json_whatever_controls_the_page_writes(
    tmp_path: Path,
    pageserver: PageServer,
    wall_clock: WallClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sentence = "These changes will take effect on 26 January 2027 \u202eevil\u009b31m."
    pageserver.route("/uk", announcing(sentence))
    pages = pages_at({"conduct-uk": pageserver.url("/uk")})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[]))
    seller(capsys, "check")

    code, out, _ = seller(capsys, "upcoming", "--format", "json")

    assert code == 0 and "\u202e" not in out and "\u009b" not in out  # shown as escapes
    [event] = json.loads(out)  # which a script decodes to the page's very sentence
    assert event["sentence"] == sentence


def test_the_calendar_parses_in_date_order_with_uids_stable_across_runs(
    two_pages: Seller, wall_clock: WallClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from icalendar import Calendar

    two_pages(capsys, "check")
    first = _calendar(two_pages)
    wall_clock.advance(days=1)
    two_pages(capsys, "check")
    second = _calendar(two_pages)

    events = Calendar.from_ical(first).walk("VEVENT")
    assert all(str(e["summary"]).endswith(": takes effect") for e in events)
    assert [e.decoded("dtstart").isoformat() for e in events] == ["2027-01-26", "2027-03-01"]
    assert "Starting March 1, 2027" in str(events[1]["description"])
    assert str(events[1]["url"]).endswith("/us")
    assert first == second  # same UIDs and bytes: a calendar app updates, never duplicates
    assert len({str(e["uid"]) for e in events}) == 2


def _calendar(seller: Seller) -> bytes:
    """`policywatch calendar > policies.ics` as a real process writes it."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "policywatch",
            "-c",
            str(seller.config),
            "-d",
            str(seller.data),
            "calendar",
        ],
        capture_output=True,
        check=True,
    )
    return done.stdout


def test_reminders_arrive_once_by_email_and_follow_a_moved_then_withdrawn_date(
    tmp_path: Path,
    pageserver: PageServer,
    mailbox,
    wall_clock: WallClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def states(sentence: str | None) -> None:
        pageserver.route("/conduct", announcing(sentence) if sentence else CONDUCT)

    states("These changes will take effect on December 20, 2026.")
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    route = {"name": "mail", "url": mailbox.url(), "remind": [14, 1]}
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))

    def on(day: str, sentence: str | None = "keep") -> list[str]:
        """Check on `day` (09:00 UTC); the subjects of the mails that arrived."""
        if sentence != "keep":
            states(sentence)
        wall_clock.now = datetime.fromisoformat(f"{day}T09:00:00+00:00")
        before = len(mailbox.messages)
        code, out, err = seller(capsys, "check")
        assert code == 0, out + err
        return [str(m["subject"]) for m in mailbox.messages[before:]]

    assert on("2026-11-29") == []  # the baseline, 21 days ahead
    assert on("2026-12-05") == []
    assert on("2026-12-06") == ["[reminder] Seller Code of Conduct: takes effect on 2026-12-20"]
    assert "2026-12-20 (in 14 days)" in _text(mailbox.messages[-1])
    assert on("2026-12-07") == []  # once

    moved = on("2026-12-10", "These changes will take effect on January 10, 2027.")
    notice = "[reminder] Seller Code of Conduct: effective date moved from 2026-12-20 to 2027-01-10"
    assert notice in moved
    assert len(moved) == 2  # the change alert and the notice
    assert on("2026-12-11") == []
    assert on("2026-12-19") == []  # the old date's 1-day reminder is cancelled
    assert on("2026-12-27") == ["[reminder] Seller Code of Conduct: takes effect on 2027-01-10"]
    assert "in 14 days" in _text(mailbox.messages[-1])

    withdrawn = on("2027-01-02", None)
    assert (
        "[reminder] Seller Code of Conduct: effective date withdrawn (was 2027-01-10)" in withdrawn
    )
    assert on("2027-01-09") == [] and on("2027-01-10") == []


def _text(message) -> str:
    return message.get_body(("plain", "html")).get_content()


def test_validate_shows_the_reminders_and_refuses_one_that_is_not_a_day_count_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = pages_at({"conduct": "http://127.0.0.1:9/conduct"})
    route = {"name": "mail", "url": "json://127.0.0.1:9/", "remind": [1, 14]}
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))
    assert "notify mail (>= minor, remind 14, 1 days before)" in seller(capsys, "validate")[1]

    route["remind"] = [14, -1]
    write_watchlist(seller.config, pages, notify=[route])
    code, _, err = seller(capsys, "validate")
    line = next(
        i
        for i, text in enumerate(seller.config.read_text().splitlines(), 1)
        if text.strip() == "- -1"
    )
    assert code == 2
    assert (
        f"watchlist.yaml:{line}: notify[0].remind[1]: a reminder is a whole number of days" in err
    )


def test_a_run_turn_with_no_page_due_still_sends_the_reminder_once(
    tmp_path: Path,
    pageserver: PageServer,
    mailbox,
    wall_clock: WallClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from policywatch.run.daemon import Work
    from policywatch.watchlist.load import load_config

    pageserver.route("/conduct", announcing("These changes take effect on December 20, 2026."))
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    route = {"name": "mail", "url": mailbox.url(), "remind": [14, 1]}
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))
    seller(capsys, "check")  # 2026-11-29: recorded, nothing due
    config = load_config(seller.config)

    def turn(day: str) -> int:
        """One delivery turn of `policywatch run` on `day`, no page due; mails that arrived."""
        wall_clock.now = datetime.fromisoformat(f"{day}T09:00:00+00:00")
        before = len(mailbox.messages)
        work = Work(config, seller.data, [], deliver=True)
        work.run()  # the loop's worker thread body, run here so the clock is the test's
        return len(mailbox.messages) - before

    assert [turn("2026-12-05"), turn("2026-12-06"), turn("2026-12-06"), turn("2026-12-19")] == [
        0,
        1,
        0,
        1,
    ]
    assert "2026-12-20 (in 1 day)" in _text(mailbox.messages[-1])


DEC_20 = "These changes will take effect on December 20, 2026."
JAN_10 = "These changes will take effect on January 10, 2027."


def _reminding(tmp_path, pageserver, mailbox, wall_clock, capsys):
    """The Code of Conduct watched with `remind: [14, 1]` by email; `on(day, sentence)` checks
    on `day` at the given time (UTC) and returns the subjects of the mails that arrived."""
    pageserver.route("/conduct", announcing(DEC_20))
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    route = {"name": "mail", "url": mailbox.url(), "remind": [14, 1]}
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))

    def on(day: str, sentence: str | None = None, at: str = "09:00") -> list[str]:
        if sentence is not None:
            pageserver.route("/conduct", announcing(sentence))
        wall_clock.now = datetime.fromisoformat(f"{day}T{at}:00+00:00")
        before = len(mailbox.messages)
        code, out, err = seller(capsys, "check")
        assert code == 0, out + err
        return [str(m["subject"]) for m in mailbox.messages[before:]]

    return on


MOVED_OUT = "[reminder] Seller Code of Conduct: effective date moved from 2026-12-20 to 2027-01-10"
MOVED_BACK = "[reminder] Seller Code of Conduct: effective date moved from 2027-01-10 to 2026-12-20"


def test_a_date_moved_back_and_then_moved_again_is_told_each_time(
    tmp_path, pageserver, mailbox, wall_clock, capsys
):
    on = _reminding(tmp_path, pageserver, mailbox, wall_clock, capsys)
    assert on("2026-11-29") == []
    assert MOVED_OUT in on("2026-11-30", JAN_10)
    assert on("2026-12-01") == []
    assert MOVED_BACK in on("2026-12-02", DEC_20)
    assert on("2026-12-03") == []
    assert MOVED_OUT in on("2026-12-04", JAN_10)  # the page's word now: the seller must hear it
    assert on("2026-12-05") == []


def test_a_page_flapping_between_two_dates_sends_no_notice_until_it_settles_then_one(
    tmp_path, pageserver, mailbox, wall_clock, capsys
):
    on = _reminding(tmp_path, pageserver, mailbox, wall_clock, capsys)
    assert on("2026-11-29") == []
    assert MOVED_OUT in on("2026-11-29", JAN_10, at="09:05")  # a first move is told at once
    flips = on("2026-11-29", DEC_20, at="09:10")  # back within minutes: flapping
    flips += on("2026-11-29", JAN_10, at="09:15")
    flips += on("2026-11-29", DEC_20, at="09:20")
    assert not [s for s in flips if "effective date" in s]
    settled = on("2026-11-29", at="10:30") + on("2026-11-29", at="11:00")
    assert [s for s in settled if "effective date" in s] == [MOVED_BACK]


def test_a_reworded_sentence_with_the_same_date_sends_no_second_reminder(
    tmp_path, pageserver, mailbox, wall_clock, capsys
):
    on = _reminding(tmp_path, pageserver, mailbox, wall_clock, capsys)
    assert on("2026-11-29") == []
    assert on("2026-12-06") == ["[reminder] Seller Code of Conduct: takes effect on 2026-12-20"]
    reworded = on("2026-12-07", "The updated rules below take effect on December 20, 2026.")
    assert not [s for s in reworded if s.startswith("[reminder]")]  # the change alert only
    assert on("2026-12-19") == ["[reminder] Seller Code of Conduct: takes effect on 2026-12-20"]


def test_a_watchlist_edit_that_stops_reading_the_dated_sentence_claims_no_withdrawal(
    tmp_path, pageserver, mailbox, wall_clock, capsys
):
    on = _reminding(tmp_path, pageserver, mailbox, wall_clock, capsys)
    assert on("2026-11-29") == []
    watchlist = tmp_path / "watchlist.yaml"
    document = yaml.safe_load(watchlist.read_text(encoding="utf-8"))
    document["pages"][0]["ignore"] = ["These changes will take effect on December 20, 2026"]
    watchlist.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    # Our reading changed, not the page: re-deriving history alerts no one, and says
    # nothing of a date the seller's page still states.
    assert not [s for s in on("2026-11-30") if "withdrawn" in s]
