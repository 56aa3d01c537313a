"""The weekly digest: one message per period per route, through the outbox, into a real
SMTP server on loopback, with time moved by the injected clock (never slept)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from policywatch.alerts.digest import (
    DigestChange,
    Period,
    TakesEffect,
    WatchHealth,
    digest_alert,
    proof_of_life,
)
from policywatch.history.store import Store
from policywatch.models import DigestSchedule, Severity
from policywatch.run.digests import LoopDigests
from policywatch.run.loop import Loop
from policywatch.watchlist.load import load_config
from policywatch.watchlist.schedule import last_period
from tests.notify_receivers import SmtpReceiver
from tests.pageserver import PageServer, fixture
from tests.seller import SELLER_CENTRAL_PARTS, Seller

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

BASE_URL = "https://watch.example.com/policies/"
CONDUCT = fixture("conduct-v1.html")
COMMUNICATIONS = "Marketing communications are prohibited."
NEW_SENTENCE = "Sellers must not send unsolicited messages about coupons."
UNSOLICITED = CONDUCT.replace(COMMUNICATIONS, f"{COMMUNICATIONS} {NEW_SENTENCE}")
HOSTILE = fixture("conduct-hostile-digest.html")
MONDAY_8 = {"every": "weekly", "day": "monday", "hour": 8}


def mail_route(mailbox: SmtpReceiver, **options: Any) -> dict[str, Any]:
    return {"name": "weekly-mail", "url": mailbox.url(), **options}


def watch(tmp_path: Path, site: PageServer, *routes: dict[str, Any], **defaults: Any) -> Seller:
    """The conduct page with the built-in rules, and these routes."""
    document = {
        "defaults": {"timeout": "5s", "retries": 0, "allow_private": True, **defaults},
        "pages": [
            {
                "id": "conduct",
                "title": "Seller Code of Conduct",
                "url": site.url("/conduct"),
                "marketplace": "US",
                "fetch": "http",
                **SELLER_CENTRAL_PARTS,
            }
        ],
        "notify": list(routes),
    }
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return Seller(tmp_path, path)


def check(seller: Seller, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = seller(capsys, "check", *args)
    assert code == 0, out + err
    return out


def html_of(message: Any) -> str:
    return message.get_body(("html",)).get_content()


@pytest.fixture
def site(pageserver: PageServer) -> PageServer:
    pageserver.route("/conduct", CONDUCT)
    return pageserver


# --------------------------------------------------------------------------- the story


def test_a_digest_only_route_gets_one_email_per_week_with_the_change_and_nothing_between(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest=MONDAY_8), base_url=BASE_URL)
    check(seller, capsys)  # Sunday 29 Nov 08:00: the baseline; the week before was not watched
    assert mailbox.messages == []

    wall_clock.advance(hours=25)  # Monday 09:00: the week to 30 Nov 08:00 has ended
    check(seller, capsys)
    (quiet,) = mailbox.messages
    assert quiet["Subject"] == (
        "policywatch weekly digest: no changes, 2026-11-23 08:00 to 2026-11-30 08:00 UTC"
    )
    assert "No watched wording changed in this period." in html_of(quiet)
    assert "1 page watched, all checked within the last 1 h; 0 failing" in html_of(quiet)

    site.route("/conduct", UNSOLICITED)
    wall_clock.advance(days=1)  # Tuesday: a critical change, but this route waits for Monday
    assert "changed" in check(seller, capsys)
    assert len(mailbox.messages) == 1
    (version,) = seller.snapshots("conduct")[1:]
    old = seller.snapshots("conduct")[0]

    wall_clock.advance(days=6)  # Monday 7 Dec 09:00
    check(seller, capsys)
    wall_clock.advance(hours=3)
    check(seller, capsys)  # the same period: nothing more
    assert len(mailbox.messages) == 2
    weekly = mailbox.messages[1]
    assert weekly["Subject"] == (
        "policywatch weekly digest: 1 change, 2026-11-30 08:00 to 2026-12-07 08:00 UTC"
    )
    body = html_of(weekly)
    permalink = f"{BASE_URL}changes/conduct/{old.id[:10]}..{version.id[:10]}"
    assert "critical · US" in body
    assert f'<a href="{permalink}">Seller Code of Conduct (US)</a>' in body
    assert "Seller Code of Conduct &gt; Communications" in body
    assert f"<q>{NEW_SENTENCE}</q>" in body


def test_a_digest_queued_when_the_run_stopped_before_sending_arrives_exactly_once(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest="weekly"))
    check(seller, capsys)
    wall_clock.advance(days=1, hours=1)  # Monday 09:00
    check(seller, capsys, "--no-deliver")  # queued in the outbox, then the process is gone
    assert mailbox.messages == []
    (queued,) = seller.alerts(capsys)
    assert (queued["key"], queued["status"]) == (
        "digest:weekly-mail:2026-11-23T08:00:00Z",
        "pending",
    )

    wall_clock.advance(minutes=5)
    check(seller, capsys)  # the restart delivers it
    check(seller, capsys)
    (message,) = mailbox.messages
    assert message["Subject"].startswith("policywatch weekly digest: no changes")
    assert [a["status"] for a in seller.alerts(capsys)] == ["sent"]


def test_after_weeks_down_one_digest_covers_every_change_since_the_last_one(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest=MONDAY_8))
    check(seller, capsys)
    wall_clock.advance(days=1, hours=1)
    check(seller, capsys)  # the digest of the week to 30 Nov
    site.route("/conduct", UNSOLICITED)
    wall_clock.advance(days=1)
    check(seller, capsys)  # Tuesday 1 Dec: the change; then nothing runs for three weeks
    wall_clock.advance(days=21)
    check(seller, capsys)
    assert [m["Subject"] for m in mailbox.messages[1:]] == [
        "policywatch weekly digest: 1 change, 2026-11-30 08:00 to 2026-12-21 08:00 UTC"
    ]


def test_a_quiet_week_for_a_major_only_route_says_nothing_major_changed_and_lists_no_minor(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest="weekly", min_severity="major"))
    check(seller, capsys)
    site.route("/conduct", CONDUCT.replace("accurate information", "complete information"))
    wall_clock.advance(hours=1)
    assert "[minor]" in check(seller, capsys)
    wall_clock.advance(days=1)
    check(seller, capsys)
    (message,) = mailbox.messages
    assert message["Subject"].startswith("policywatch weekly digest: no changes")
    assert "No watched wording changed at major or louder in this period." in html_of(message)


def test_a_digest_route_with_instant_true_also_gets_each_alert_as_it_happens(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest="weekly", instant=True))
    check(seller, capsys)
    site.route("/conduct", UNSOLICITED)
    wall_clock.advance(hours=1)
    check(seller, capsys)
    (alert,) = mailbox.messages
    assert alert["Subject"].startswith("[critical] Seller Code of Conduct (US) changed")


def test_page_text_with_script_and_markdown_is_escaped_in_the_digest_email(
    tmp_path, pageserver, mailbox, wall_clock, capsys
):
    pageserver.route("/conduct", CONDUCT)
    seller = watch(tmp_path, pageserver, mail_route(mailbox, digest="daily"))
    check(seller, capsys)
    pageserver.route("/conduct", HOSTILE)
    wall_clock.advance(hours=1)
    check(seller, capsys)
    wall_clock.advance(days=1)
    check(seller, capsys)
    (message,) = mailbox.messages
    body = html_of(message)
    assert "<script>" not in body and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_page_text_cannot_open_markdown_links_or_bold_in_a_chat_digest():
    hostile = DigestChange(
        page="Conduct [click](https://evil.example) **now**",
        marketplace="UK",
        severity=Severity.MAJOR,
        section="Rules > <script>x</script>",
        sentence="Send **all** messages to [us](https://evil.example) `now`.",
        captured_at="2026-12-01T10:00:00.000000Z",
        permalink=None,
        command="policywatch diff conduct a b",
    )
    alert = _digest([hostile])
    assert "[click](" not in alert.markdown and "**now**" not in alert.markdown
    assert r"\[us\]" in alert.markdown and r"\*\*all\*\*" in alert.markdown
    assert "<script>" not in alert.html and "&lt;script&gt;" in alert.html


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("digest", "words"),
    [
        ("{every: weekly, day: funday}", "notify[0].digest.day: unknown day 'funday'"),
        ("{every: monthly, day: 31}", "a monthly digest's day is a day of the month from 1 to 28"),
        ("{every: daily, day: monday}", "a daily digest has no `day`"),
        ("{every: fortnightly}", "unknown digest period 'fortnightly'"),
        ("{timezone: Mars/Olympus}", "unknown timezone 'Mars/Olympus'"),
    ],
)
def test_a_bad_digest_setting_is_refused_at_its_line(tmp_path, capsys, digest, words):
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "pages:\n"
        "  - id: conduct\n"
        "    url: https://sellercentral.amazon.com/help/hub/reference/external/G1801\n"
        "notify:\n"
        "  - url: json://127.0.0.1:9/\n"
        f"    digest: {digest}\n",
        encoding="utf-8",
    )
    code, out, err = Seller(tmp_path, path)(capsys, "validate")
    assert code == 2 and out == ""
    assert f"{path}:6: " in err and words in err and "Traceback" not in err


def test_validate_prints_each_routes_digest_schedule(tmp_path, capsys):
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "pages:\n"
        "  - id: conduct\n"
        "    url: https://sellercentral.amazon.com/help/hub/reference/external/G1801\n"
        "notify:\n"
        "  - {url: 'json://127.0.0.1:9/a', name: team, digest: weekly}\n"
        "  - url: json://127.0.0.1:9/b\n"
        "    name: lead\n"
        "    instant: true\n"
        "    digest: {every: monthly, day: 15, hour: 7, timezone: Europe/Berlin}\n",
        encoding="utf-8",
    )
    code, out, _ = Seller(tmp_path, path)(capsys, "validate")
    assert code == 0
    assert "digest weekly, due Mondays at 08:00 UTC; no alerts between digests" in out
    assert "digest monthly, due on day 15 of each month at 07:00 Europe/Berlin; alerts as" in out


# --------------------------------------------------------------------------- the parts


def test_a_berlin_monday_digest_is_due_at_8_local_time_on_both_sides_of_daylight_saving():
    berlin = DigestSchedule(every="weekly", day=0, hour=8, timezone="Europe/Berlin")
    start, end = last_period(berlin, datetime(2026, 11, 4, 12, tzinfo=UTC))
    # Summer time ended on 25 October: the week to 2 November is 169 hours long.
    assert (start, end) == (
        datetime(2026, 10, 26, 7, tzinfo=UTC),
        datetime(2026, 11, 2, 7, tzinfo=UTC),
    )
    summer = last_period(berlin, datetime(2026, 7, 8, tzinfo=UTC))
    assert summer == (datetime(2026, 6, 29, 6, tzinfo=UTC), datetime(2026, 7, 6, 6, tzinfo=UTC))
    monthly = DigestSchedule(every="monthly", day=1, hour=0)
    assert last_period(monthly, datetime(2026, 1, 1, tzinfo=UTC)) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_the_proof_of_life_line_names_pages_failing_or_not_read_for_two_intervals():
    now = datetime(2026, 12, 7, 8, tzinfo=UTC)
    hours_ago = lambda h: (now - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    six = 6 * 3600.0
    fine = [WatchHealth(f"page {n}", hours_ago(n % 5), None, six) for n in range(21)]
    assert (
        proof_of_life(fine, now) == "21 pages watched, all checked within the last 4 h; 0 failing"
    )
    stale = WatchHealth("Returns (DE)", hours_ago(30), None, six)
    never = WatchHealth("Fees (FR)", None, None, six)
    down = WatchHealth("Conduct (UK)", hours_ago(20), hours_ago(19), six)
    assert proof_of_life([*fine, stale, never, down], now) == (
        "24 pages watched, 21 checked within the last 4 h; not checked for longer: "
        "Returns (DE) (last 2026-12-06 02:00 UTC), Fees (FR) (never); "
        "1 failing: Conduct (UK) (since 2026-12-06 13:00 UTC)"
    )


def test_what_takes_effect_soon_is_listed_only_when_it_is_given():
    assert "Takes effect" not in _digest([]).text
    assert "Takes effect soon: nothing the pages state." in _digest([], soon=[]).text
    soon = [TakesEffect("2026-12-15", "Fees [x](y)", "New **fees** apply.", None)]
    alert = _digest([], soon=soon)
    assert '- 2026-12-15: Fees [x](y): "New **fees** apply."' in alert.text
    assert r"Fees \[x\](y)" in alert.markdown and r"\*\*fees\*\*" in alert.markdown


def test_the_loop_queues_a_due_digest_once_and_then_leaves_the_store_alone(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest="daily"))
    check(seller, capsys)
    wall_clock.advance(days=1)
    config = _config(seller)
    turns = LoopDigests()
    assert turns.turn(config, seller.data) is True
    (tmp_path / "data").rename(tmp_path / "moved")  # a second turn must not need the store
    assert turns.turn(config, seller.data) is False
    with Store(tmp_path / "moved") as store:
        (entry,) = store.alerts("pending")
    assert re.fullmatch(r"digest:weekly-mail:2026-11-29T08:00:00Z", entry["key"])
    assert entry["payload"]["title"].startswith("policywatch daily digest: no changes")


def test_a_running_watcher_sends_the_digest_when_the_period_ends_with_no_page_due(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest="daily"))
    check(seller, capsys)
    wall_clock.advance(days=1)
    loop = Loop(seller.config, seller.data, None, threading.Event())
    loop._turn()  # one turn of `policywatch run`, as the period has just ended
    assert loop.work is not None and loop.work.pages == []
    loop.work.join(30)
    (message,) = mailbox.messages
    assert message["Subject"].startswith("policywatch daily digest: no changes, 2026-11-29 08:00")


def _config(seller: Seller) -> Any:
    return load_config(seller.config, {})


def _digest(changes: list[DigestChange], soon: list[TakesEffect] | None = None) -> Any:
    now = datetime(2026, 12, 7, 8, tzinfo=UTC)
    period = Period("weekly", now - timedelta(days=7), now)
    watches = [WatchHealth("Conduct (UK)", "2026-12-07T07:00:00.000000Z", None, 6 * 3600.0)]
    return digest_alert("digest:x:y", period, changes, watches, now, takes_effect_soon=soon)


def test_the_digest_lists_the_date_a_page_says_its_new_wording_takes_effect(
    tmp_path, site, mailbox, wall_clock, capsys
):
    notice = "These changes take effect on December 20, 2026."
    seller = watch(tmp_path, site, mail_route(mailbox, digest=MONDAY_8))
    check(seller, capsys)  # Sunday 29 Nov: the baseline
    site.route("/conduct", CONDUCT.replace(COMMUNICATIONS, f"{COMMUNICATIONS} {notice}"))
    wall_clock.advance(hours=25)  # Monday 30 Nov 09:00: the page now states a date
    check(seller, capsys)
    (weekly,) = mailbox.messages
    text = weekly.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert f'Takes effect\n- 2026-12-20: Seller Code of Conduct (US): "{notice}"' in text


def test_a_berlin_digest_due_in_the_repeated_autumn_hour_ends_at_the_same_moment_whenever_asked():
    two_am = DigestSchedule(every="daily", day=0, hour=2, timezone="Europe/Berlin")
    first_pass = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_pass = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, the hour again
    assert last_period(two_am, first_pass) == last_period(two_am, second_pass)
    day_after = last_period(two_am, datetime(2026, 10, 26, 9, tzinfo=UTC))
    assert day_after[0] == last_period(two_am, second_pass)[1]  # no hour in two periods


def test_a_change_listed_in_a_digest_is_not_listed_again_when_the_digest_hour_moves(
    tmp_path, site, mailbox, wall_clock, capsys
):
    daily_8 = {"every": "daily", "hour": 8}
    seller = watch(tmp_path, site, mail_route(mailbox, digest=daily_8))
    check(seller, capsys)  # Sunday 29 Nov 08:00
    site.route("/conduct", UNSOLICITED)
    wall_clock.advance(hours=5)
    check(seller, capsys)  # Sunday 13:00: the change
    wall_clock.advance(hours=20)
    check(seller, capsys)  # Monday 09:00: the digest to Monday 08:00 lists it
    assert mailbox.messages[0]["Subject"].startswith("policywatch daily digest: 1 change")

    document = yaml.safe_load(seller.config.read_text(encoding="utf-8"))
    document["notify"][0]["digest"] = {"every": "daily", "hour": 12}
    seller.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    wall_clock.advance(hours=4)
    check(seller, capsys)  # Monday 13:00: the day to Monday 12:00, which began at Sunday 12:00
    assert [m["Subject"] for m in mailbox.messages[1:]] == [
        "policywatch daily digest: no changes, 2026-11-30 08:00 to 2026-11-30 12:00 UTC"
    ]


def test_a_clock_stepped_back_across_a_boundary_sends_no_second_digest_for_days_already_covered(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest={"every": "daily", "hour": 8}))
    check(seller, capsys)  # Sunday 29 Nov 08:00
    wall_clock.advance(hours=25)
    check(seller, capsys)  # Monday 09:00: the day to Monday 08:00
    wall_clock.advance(days=3)
    check(seller, capsys)  # the clock runs three days ahead: one digest to Thursday 08:00
    wall_clock.advance(days=-2)
    check(seller, capsys)  # set right, Tuesday 09:00: those days had their digest
    wall_clock.advance(days=3)
    check(seller, capsys)  # Friday 09:00: the day to Friday 08:00, from where the last one ended
    assert [m["Subject"] for m in mailbox.messages] == [
        "policywatch daily digest: no changes, 2026-11-29 08:00 to 2026-11-30 08:00 UTC",
        "policywatch daily digest: no changes, 2026-11-30 08:00 to 2026-12-03 08:00 UTC",
        "policywatch daily digest: no changes, 2026-12-03 08:00 to 2026-12-04 08:00 UTC",
    ]


def test_a_page_failing_when_the_digest_is_written_is_not_counted_as_checked(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest=MONDAY_8))
    check(seller, capsys)  # Sunday 29 Nov 08:00
    wall_clock.advance(hours=23)
    check(seller, capsys)  # Monday 07:00: read fine
    site.route("/conduct", "Service Unavailable", status=503)
    wall_clock.advance(hours=2)
    seller(capsys, "check")  # Monday 09:00: the page fails, then the digest is written
    (digest,) = mailbox.messages
    assert "1 page watched, none checked lately; 1 failing: Seller Code of Conduct" in html_of(
        digest
    )
    assert "all checked" not in html_of(digest)


def test_a_page_flapping_between_two_versions_is_one_change_in_the_digest_not_one_per_flip(
    tmp_path, site, mailbox, wall_clock, capsys
):
    seller = watch(tmp_path, site, mail_route(mailbox, digest={"every": "daily", "hour": 8}))
    check(seller, capsys)  # Sunday 29 Nov 08:00
    for version in [UNSOLICITED, CONDUCT] * 3:  # an A/B test: every poll shows the other one
        site.route("/conduct", version)
        wall_clock.advance(minutes=10)
        check(seller, capsys)
    assert len(seller.snapshots("conduct")) == 7
    wall_clock.advance(days=1)
    check(seller, capsys)  # Monday 09:00
    (digest,) = mailbox.messages
    assert digest["Subject"].startswith("policywatch daily digest: 1 change,")
