"""Issue 4 end to end: a seller's alerts, through the real `policywatch` command and pipeline.

Every story drives `policywatch.cli.main` (or `python -m policywatch` where a
process must die) against a watchlist in tmp_path, pages on the loopback page
server, a real SMTP server (aiosmtpd) and a real HTTP `json://` receiver.
Slack and Discord are third-party hosts, so only they are intercepted, with
`responses`; loopback traffic passes through it untouched.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml

from policywatch.alerts import notify
from policywatch.alerts.compose import when
from policywatch.cli import main
from policywatch.history.store import Store
from tests.notify_receivers import HttpReceiver, SmtpReceiver, free_port
from tests.pageserver import PageServer, fixture

# The loopback SMTP server asks for a password without TLS on purpose: it proves apprise logs in.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PAGE_ID = "conduct"
TITLE = "Seller Code of Conduct"
A = fixture("conduct-v1.html")
COMMUNICATIONS = "Marketing communications are prohibited."
NEW_SENTENCE = "Sellers must not send unsolicited messages about &lt;promotions&gt; &amp; coupons."
NEW_SENTENCE_TEXT = "Sellers must not send unsolicited messages about <promotions> & coupons."
B = A.replace(COMMUNICATIONS, f"{COMMUNICATIONS} {NEW_SENTENCE}")
SERVER_ERROR = "<html><body><h1>Internal Server Error</h1></body></html>"
MINOR = A.replace("Always provide accurate information", "Always provide complete information")
CRITICAL_TITLE = f'[critical] {TITLE} changed — "unsolicited"'
SECTION = f"{TITLE} > Communications"

SLACK_TOKEN = "xoxSlackSecretToken123"
SLACK_URL = f"https://hooks.slack.com/services/T0POLICY1/B0WATCH22/{SLACK_TOKEN}"
DISCORD_TOKEN = "DiscordSecretToken-abc_XYZ"
DISCORD_URL = f"https://discord.com/api/webhooks/112233445566778899/{DISCORD_TOKEN}"
HOOK_TOKEN = "PathToken0f1a2b3c"
HOOK_PASSWORD = "Hook-Pa55word-42"
SECRETS = (SmtpReceiver.PASSWORD, SLACK_TOKEN, DISCORD_TOKEN, HOOK_TOKEN, HOOK_PASSWORD)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Seller:
    """One seller's watchlist and data dir; runs `policywatch` the way they type it."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], page_url: str) -> None:
        self.config = tmp_path / "watchlist.yaml"
        self.data = tmp_path / "data"
        self.capsys = capsys
        self.page_url = page_url

    def watch(self, *routes: dict[str, str], **defaults: Any) -> None:
        """Write the watchlist: the conduct page, the shipped rules, these notify routes."""
        document = {
            "defaults": {"timeout": "5s", "retries": 0, "allow_private": True, **defaults},
            "pages": [
                {
                    "id": PAGE_ID,
                    "title": TITLE,
                    "url": self.page_url,
                    "select": "#full-help-page",
                    "remove": ["[hidden]", ".hh-scroll-to-top-box"],
                    "fetch": "http",
                }
            ],
            "notify": list(routes),
        }
        self.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def argv(self, *args: str) -> list[str]:
        return ["-c", str(self.config), "-d", str(self.data), *args]

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(self.argv(*args))
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def check(self, *args: str, code: int = 0) -> Result:
        result = self("check", *args)
        assert result.code == code, result.out + result.err
        return result

    def alerts(self, *args: str) -> list[dict[str, Any]]:
        result = self("alerts", "--format", "json", *args)
        assert result.code == 0, result.err
        return json.loads(result.out)

    def snapshots(self) -> list:
        with Store(self.data) as store:
            return store.snapshots(PAGE_ID)


def email_route(mailbox: SmtpReceiver) -> dict[str, str]:
    """The mail route as a seller writes it: the password comes from $SMTP_PASSWORD."""
    url = (
        f"mailto://{SmtpReceiver.USER}:${{SMTP_PASSWORD}}@127.0.0.1:{mailbox.port}"
        "?from=policywatch@example.com&to=seller@example.com&mode=insecure"
    )
    return {"name": "email", "url": url}


def hook_route(receiver: HttpReceiver, name: str = "hook", **options: str) -> dict[str, str]:
    return {"name": name, "url": receiver.url(), **options}


CHAT_ROUTES = (
    {"name": "slack", "url": SLACK_URL.replace(SLACK_TOKEN, "${SLACK_TOKEN}")},
    {"name": "discord", "url": DISCORD_URL.replace(DISCORD_TOKEN, "${DISCORD_TOKEN}")},
)


@pytest.fixture(autouse=True)
def route_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets reach the watchlist the way a seller keeps them: in the environment."""
    monkeypatch.setenv("SMTP_PASSWORD", SmtpReceiver.PASSWORD)
    monkeypatch.setenv("SLACK_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)
    monkeypatch.setenv("HOOK_TOKEN", HOOK_TOKEN)
    monkeypatch.setenv("HOOK_PASSWORD", HOOK_PASSWORD)


@pytest.fixture
def chat() -> Iterator[responses.RequestsMock]:
    """Slack's and Discord's webhooks intercepted; everything on loopback goes through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.add(responses.POST, SLACK_URL, body="ok")
        mock.add(responses.POST, DISCORD_URL, status=204)
        yield mock


@pytest.fixture
def site(pageserver: PageServer) -> PageServer:
    pageserver.route("/conduct", A)
    return pageserver


@pytest.fixture
def seller(tmp_path: Path, capsys: pytest.CaptureFixture[str], site: PageServer) -> Seller:
    return Seller(tmp_path, capsys, site.url("/conduct"))


def posted(mock: responses.RequestsMock, host: str) -> list[dict[str, Any]]:
    """The JSON bodies that would have gone to a third-party host."""
    return [json.loads(call.request.body) for call in mock.calls if host in call.request.url]


def titles(receiver: HttpReceiver) -> list[str]:
    return [post["json"]["title"] for post in receiver.posts]


# --------------------------------------------------------------------------- what is sent


def test_the_first_check_of_a_page_is_its_baseline_and_alerts_no_one(
    seller, mailbox, webhook, chat
):
    seller.watch(email_route(mailbox), hook_route(webhook), *CHAT_ROUTES)
    result = seller.check()
    assert result.out.split()[:2] == [PAGE_ID, "new"]
    assert len(seller.snapshots()) == 1
    assert mailbox.messages == [] and webhook.posts == [] and list(chat.calls) == []
    assert seller("alerts").out.strip() == "no alerts"


def test_a_new_unsolicited_sentence_alerts_critical_on_every_route(
    seller, site, mailbox, webhook, chat
):
    seller.watch(email_route(mailbox), hook_route(webhook), *CHAT_ROUTES)
    seller.check()
    site.route("/conduct", B)
    result = seller.check()
    assert "changed (1 section) [critical]" in result.out
    assert "alerts: 4 sent, 0 failed, 0 pending" in result.out
    old, new = seller.snapshots()
    versions = f"{old.id[:10]} {new.id[:10]}"

    keys = {e["route"]: e["key"] for e in seller.alerts()}
    (message,) = mailbox.messages
    assert message["Subject"] == CRITICAL_TITLE
    assert message["To"] == "seller@example.com"
    assert message[notify.IDEMPOTENCY_HEADER] == keys["email"]  # a repeat can be told apart
    html = message.get_body(("html",)).get_content()
    assert "Seller Code of Conduct &gt; Communications" in html
    assert "<ins>Sellers must not send unsolicited messages about &lt;promotions&gt; &amp;" in html
    assert "<promotions>" not in html  # the page's text can never become markup in a mail client
    assert f"diff {PAGE_ID} {versions}</code>" in html

    (post,) = webhook.posts
    assert post["json"]["title"] == CRITICAL_TITLE
    text = post["json"]["message"]
    assert f"{SECTION}\n  added: {NEW_SENTENCE_TEXT}" in text
    assert 'Rules: buyer-messaging "unsolicited" (critical)' in text
    command = text.split("Full diff: ", 1)[1].strip()
    assert command.endswith(f"diff {PAGE_ID} {versions}")

    (slack,) = posted(chat, "hooks.slack.com")
    attachment = slack["attachments"][0]
    assert attachment["title"] == CRITICAL_TITLE
    assert f"*{TITLE} &gt; Communications*" in attachment["text"]  # Slack's own escaping
    assert "about &lt;promotions&gt; &amp; coupons." in attachment["text"]
    assert f"full diff: `{command}`" in attachment["text"]
    assert len(attachment["text"]) <= notify.CHAT_LIMIT

    (discord,) = posted(chat, "discord.com")
    content = discord["content"]
    assert content.startswith(CRITICAL_TITLE.replace("[critical]", "\\[critical\\]"))
    assert f"**{TITLE} \\> Communications**" in content
    assert "about \\<promotions\\> & coupons." in content
    assert f"full diff: `{command}`" in content
    assert len(content) <= 2000 and content.count("**") % 2 == 0

    shown = seller(*shlex.split(command)[1:])  # the command in the alert works as written
    assert shown.code == 0, shown.err
    assert NEW_SENTENCE_TEXT in shown.out
    assert [e["status"] for e in seller.alerts()] == ["sent"] * 4 and len(set(keys.values())) == 4


def test_a_change_too_long_for_chat_is_cut_with_a_note_naming_the_diff_command(seller, site, chat):
    seller.watch(*CHAT_ROUTES)
    seller.check()
    rules = "".join(
        f"<li>Rule {n}: you may not send unsolicited messages offering incentive number {n} "
        "to buyers who have not asked for it, whatever the channel.</li>"
        for n in range(1, 41)
    )
    anchor = "<li>Not contact customers except through Buyer-Seller Messaging</li>"
    site.route("/conduct", A.replace(anchor, anchor + rules))
    seller.check()
    (slack,) = posted(chat, "hooks.slack.com")
    text = slack["attachments"][0]["text"]
    (discord,) = posted(chat, "discord.com")
    content = discord["content"]
    assert len(text) <= notify.CHAT_LIMIT and len(content) <= 2000
    for body in (text, content):
        assert "Added: Rule 1: you may not send unsolicited messages" in body
        assert "Rule 40:" not in body
        assert "more changes — run `policywatch -c " in body
        assert body.rstrip().endswith("`") and body.count("`") % 2 == 0


def test_cosmetic_edits_and_a_reshuffled_footer_alert_no_one_and_store_nothing(
    seller, site, mailbox, webhook, chat
):
    seller.watch(email_route(mailbox), hook_route(webhook), *CHAT_ROUTES)
    seller.check()
    cosmetic = (
        A.replace("Amazon’s features", "Amazon's features")
        .replace(
            "customers’ ratings, feedback, and reviews. You",
            "customers' ratings,  feedback,\n and reviews. You",
        )
        .replace("<li>Always provide", "<li>\n      Always\u00a0provide")
    )
    related = (
        '<ul><li><a href="/help/hub/reference/external/G1701">Communication guidelines</a></li>\n'
        '  <li><a href="/help/hub/reference/external/GYRKB5RU3FS5TURN">'
        "Customer product reviews policies</a></li></ul>"
    )
    assert related in A
    reshuffled = A.replace(
        related,
        '<ul><li><a href="/help/hub/reference/external/GYRKB5RU3FS5TURN">'
        "Customer product reviews policies</a></li>\n"
        '  <li><a href="/help/hub/reference/external/G200386250">Prohibited activities</a></li>'
        '<li><a href="/help/hub/reference/external/G1701">Communication guidelines</a></li></ul>',
    ).replace("© 1999-2026", "© 1999-2027")
    for version in (cosmetic, reshuffled):
        assert version != A
        site.route("/conduct", version)
        assert seller.check().out.split()[:2] == [PAGE_ID, "unchanged"]
    assert len(seller.snapshots()) == 1
    assert mailbox.messages == [] and webhook.posts == [] and list(chat.calls) == []
    assert seller.alerts() == []


def test_a_critical_only_route_does_not_get_a_minor_reword(seller, site, mailbox, webhook):
    seller.watch(
        email_route(mailbox), hook_route(webhook, "critical-only", min_severity="critical")
    )
    seller.check()
    site.route("/conduct", MINOR)
    assert "[minor]" in seller.check().out
    (message,) = mailbox.messages
    assert message["Subject"].startswith(f"[minor] {TITLE} changed")
    assert webhook.posts == []
    assert [e["route"] for e in seller.alerts()] == ["email"]
    site.route("/conduct", MINOR.replace(COMMUNICATIONS, f"{COMMUNICATIONS} {NEW_SENTENCE}"))
    seller.check()
    assert titles(webhook) == [CRITICAL_TITLE]  # the route works: it only waits for critical
    assert len(mailbox.messages) == 2


# ------------------------------------------------------------------ nothing lost, nothing twice


def test_a_mail_server_down_for_two_runs_then_up_gets_exactly_one_email(seller, site, wall_clock):
    mailbox = SmtpReceiver()  # not started: connections are refused
    seller.watch(email_route(mailbox))
    try:
        seller.check()
        site.route("/conduct", B)
        wall_clock.advance(hours=1)
        first = seller.check()
        assert "alerts: 0 sent, 1 failed, 1 pending" in first.out
        (pending,) = seller.alerts("--pending")
        assert (pending["route"], pending["attempts"]) == ("email", 1)
        listed = seller("alerts", "--pending").out
        assert CRITICAL_TITLE in listed and "pending (1 attempts, last error:" in listed
        assert SmtpReceiver.PASSWORD not in listed + first.out + first.err

        wall_clock.advance(hours=1)
        retried = json.loads(seller.check("--format", "json").out)["alerts"]  # for a script too
        assert retried == {"sent": 0, "failed": 1, "pending": 1, "gave_up": 0}
        mailbox.start()
        wall_clock.advance(hours=1)
        assert "alerts: 1 sent, 0 failed, 0 pending" in seller.check().out
        wall_clock.advance(hours=1)
        seller.check()
        (message,) = mailbox.messages
        assert message["Subject"] == CRITICAL_TITLE
        assert seller.alerts("--pending") == []
        (sent,) = seller.alerts()
        assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 3, None)
        (line,) = seller("alerts").out.splitlines()
        assert line.split()[1:3] == ["email", "sent"] and line.endswith(CRITICAL_TITLE)
    finally:
        mailbox.stop()


def test_a_run_stopped_after_storing_the_change_delivers_it_exactly_once_on_the_next(
    seller, site, mailbox
):
    seller.watch(email_route(mailbox))
    seller.check()
    site.route("/conduct", B)
    queued = seller.check("--no-deliver")
    assert "changed (1 section) [critical]" in queued.out
    assert len(seller.snapshots()) == 2 and mailbox.messages == []
    assert [e["title"] for e in seller.alerts("--pending")] == [CRITICAL_TITLE]
    assert seller.check().out.split()[:2] == [PAGE_ID, "unchanged"]
    seller.check()
    (message,) = mailbox.messages
    assert message["Subject"] == CRITICAL_TITLE
    assert [e["status"] for e in seller.alerts()] == ["sent"]


class StallingReceiver(HttpReceiver):
    """A webhook that takes a post and then hangs before answering, until `release` is set.

    It also records each post's Idempotency-Key header, the key a receiver uses
    to drop a repeat of a message it already has.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.keys: list[str | None] = []
        receiver = self

        class Stalling(self.httpd.RequestHandlerClass):  # type: ignore[name-defined]
            def do_POST(self) -> None:
                receiver.keys.append(self.headers.get(notify.IDEMPOTENCY_HEADER))
                super().do_POST()

            def send_response(self, code: int, message: str | None = None) -> None:
                receiver.arrived.set()
                receiver.release.wait(30)
                super().send_response(code, message)

        self.httpd.RequestHandlerClass = Stalling
        self.httpd.handle_error = lambda request, address: None  # the client is dead: no reply


def test_a_check_killed_while_a_webhook_hangs_delivers_again_flagged_as_possibly_twice(
    seller, site, mailbox
):
    """What SIGKILL in the middle of a send guarantees: at least once, never silently lost.

    The email went out and was marked sent before the kill: it is never repeated.
    The webhook had the post but had not answered: policywatch cannot know it
    arrived, so the next run sends it again, with the same Idempotency-Key header
    and the same words, for the receiver to drop the repeat; `alerts` says so.
    """
    hook = StallingReceiver().start()
    try:
        seller.watch(email_route(mailbox), hook_route(hook))
        seller.check()
        site.route("/conduct", B)
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYWATCH_")}
        child = subprocess.Popen(
            [sys.executable, "-m", "policywatch", *seller.argv("check")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert hook.arrived.wait(30), "the check never reached the webhook"
        finally:
            child.send_signal(signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        hook.release.set()
        assert len(seller.snapshots()) == 2
        assert len(mailbox.messages) == 1
        by_route = {e["route"]: e for e in seller.alerts()}
        assert by_route["email"]["status"] == "sent"
        assert by_route["hook"]["status"] == "pending"

        assert "alerts: 1 sent, 0 failed, 0 pending" in seller.check().out
        seller.check()
        assert len(mailbox.messages) == 1
        first, again = hook.posts
        assert first["json"] == again["json"] and first["json"]["title"] == CRITICAL_TITLE
        assert hook.keys == [by_route["hook"]["key"]] * 2
        listed = seller.alerts()
        assert [e["status"] for e in listed] == ["sent", "sent"]
        assert [e["possibly_delivered_twice"] for e in listed] == [False, True]
        email_line, hook_line = seller("alerts").out.splitlines()
        assert "possibly delivered twice" in hook_line
        assert "possibly delivered twice" not in email_line
    finally:
        hook.stop()


def test_a_slow_webhook_gets_one_delivery_per_run_and_the_repeat_is_flagged(
    seller, site, wall_clock
):
    """A receiver that answers after the route's timeout may well have the alert.

    So the run does not try again (apprise's own 4 s used to cut it off, and three
    quick retries made 7 deliveries over 3 runs): the next run sends it once more
    with the same Idempotency-Key, and `alerts` shows it may have arrived twice.
    """
    slow = StallingReceiver()
    slow.release.set()  # it answers, only late
    slow.delay = 3.0
    slow.start()
    try:
        seller.watch(hook_route(slow, timeout="1s"))
        seller.check()
        site.route("/conduct", B)
        first = seller.check()
        assert "alerts: 0 sent, 1 failed, 1 pending" in first.out
        assert len(slow.posts) == 1
        (entry,) = seller.alerts("--pending")
        assert "no answer within 1s (the alert may have arrived)" in entry["last_error"]
        wall_clock.advance(hours=1)
        seller.check()
        assert len(slow.posts) == 2
        slow.delay = 0
        wall_clock.advance(hours=1)
        assert "alerts: 1 sent, 0 failed, 0 pending" in seller.check().out
        wall_clock.advance(hours=1)
        seller.check()
        assert len(slow.posts) == 3  # one per run, never a burst within one
        assert slow.keys == [entry["key"]] * 3
        (sent,) = seller.alerts()
        assert (sent["status"], sent["possibly_delivered_twice"]) == ("sent", True)
        assert "possibly delivered twice" in seller("alerts").out
    finally:
        slow.stop()


def test_a_page_that_keeps_failing_raises_one_unreachable_alert_and_one_recovered(
    seller, site, webhook
):
    seller.watch(hook_route(webhook), failures_before_alert=2)
    seller.check()
    site.route("/conduct", SERVER_ERROR, status=500)
    assert "error" in seller.check(code=1).out
    assert webhook.posts == []
    for _ in range(3):
        seller.check(code=1)
    (down,) = webhook.posts
    assert (
        down["json"]["title"] == f"[unreachable] {TITLE} could not be checked (2 failures in a row)"
    )
    message = down["json"]["message"]
    assert message.startswith(f"Page: {TITLE}\nURL: {seller.page_url}")  # the title is not repeated
    assert "Last reason: HTTP 500" in message
    site.route("/conduct", A)
    assert seller.check().out.split()[:2] == [PAGE_ID, "unchanged"]
    seller.check()
    assert titles(webhook)[1:] == [f"[recovered] {TITLE} can be checked again"]
    assert len(seller.snapshots()) == 1
    site.route("/conduct", SERVER_ERROR, status=500)  # a later outage is a new episode
    for _ in range(3):
        seller.check(code=1)
    assert [t.split()[0] for t in titles(webhook)] == [
        "[unreachable]",
        "[recovered]",
        "[unreachable]",
    ]


def test_the_unreachable_alert_names_the_check_command_for_this_watchlist(seller, site, webhook):
    seller.watch(hook_route(webhook), failures_before_alert=1)
    site.route("/conduct", SERVER_ERROR, status=500)
    seller.check(code=1)
    (down,) = webhook.posts
    command = shlex.join(["policywatch", *seller.argv("-v", "check", PAGE_ID)])
    assert f"then run {command}" in down["json"]["message"]


EXTRA_SECTIONS = "".join(
    f"<h2>{heading}</h2><p>{text}</p>"
    for heading, text in (
        ("Account health", "You must keep your order defect rate below one percent."),
        ("Shipping", "You must ship every order within the handling time you set."),
        ("Returns", "You must accept returns under the Amazon return policy."),
        ("Listings", "You must list each product once, in the correct category."),
    )
)
NINE = A.replace("<p>Last updated", EXTRA_SECTIONS + "<p>Last updated")
# One bad request: the five sections from "Request a Review" on are missing. It keeps
# five of the ten sections, so "lost most of its sections" never fired on it.
HALF_RENDERED = re.sub(r"<h3>Request a Review</h3>.*?(?=<p>Last updated)", "", NINE, flags=re.S)


def test_a_page_half_rendered_for_one_request_records_nothing_and_alerts_no_one(
    seller, site, webhook
):
    assert HALF_RENDERED.count("<h2>") == NINE.count("<h2>") - 4
    site.route("/conduct", NINE)
    seller.watch(hook_route(webhook))
    seller.check()
    served = [HALF_RENDERED, NINE]
    site.route("/conduct", lambda: served.pop(0) if len(served) > 1 else served[0])
    first = seller.check()
    assert first.out.split()[:2] == [PAGE_ID, "unchanged"]  # the second fetch had it all
    seller.check()
    assert len(seller.snapshots()) == 1
    assert webhook.posts == [] and seller.alerts() == []


FLAPPING_TITLE = f"[flapping] {TITLE} is flipping between two versions"


def queued_per_log(result: Result) -> int:
    """What the `-v` log says each page queued (`alerts=N`), added up."""
    return sum(int(n) for n in re.findall(r" alerts=(\d+)", result.err))


def test_a_page_flipping_a_b_a_b_alerts_once_flaps_once_and_ends_on_an_alert_about_b(
    seller, site, webhook, wall_clock
):
    seller.watch(hook_route(webhook))
    logged = 0
    for version in (A, B, A, B):
        site.route("/conduct", version)
        result = seller("-v", "check")
        logged += queued_per_log(result)
        wall_clock.advance(minutes=10)
    assert "flapping, kept without an alert until it settles" in result.out
    assert titles(webhook) == [CRITICAL_TITLE, FLAPPING_TITLE]
    flapping = webhook.posts[1]["json"]["message"]
    assert "one alert will say which version the page settled on" in flapping
    assert len(seller.snapshots()) == 4  # every flip is kept

    seller("-v", "check")  # B a second time, but not yet for an hour
    assert len(webhook.posts) == 2
    wall_clock.advance(hours=1)
    result = seller("-v", "check")
    logged += queued_per_log(result)
    first_b, last_b = seller.snapshots()[1], seller.snapshots()[3]
    assert titles(webhook)[2:] == [
        f"[settled] {TITLE} settled on the version of the last change alert"
    ]
    settled = webhook.posts[2]["json"]["message"]
    assert f"{last_b.id[:10]}: the same wording as {first_b.id[:10]}" in settled
    assert logged == len(seller.alerts()) == 3  # the log counts exactly what was queued
    wall_clock.advance(hours=6)
    seller.check()
    assert len(webhook.posts) == 3


def test_a_flapping_page_that_settles_on_the_old_wording_gets_that_diff_once(
    seller, site, webhook, wall_clock
):
    seller.watch(hook_route(webhook))
    for version in (A, B, A, B, A):
        site.route("/conduct", version)
        seller.check()
        wall_clock.advance(minutes=10)
    wall_clock.advance(hours=1)
    seller.check()
    assert titles(webhook) == [
        CRITICAL_TITLE,
        FLAPPING_TITLE,
        f'[critical] {TITLE} settled — "unsolicited"',
    ]
    settled = webhook.posts[2]["json"]["message"]
    assert "compared here with the version of the last change alert" in settled
    assert f"removed: {NEW_SENTENCE_TEXT}" in settled  # against B, what the seller was told


def test_a_change_withdrawn_and_later_reinstated_is_announced_again(
    seller, site, webhook, wall_clock
):
    seller.watch(hook_route(webhook))
    for version in (A, B, A, B):
        site.route("/conduct", version)
        seller.check()
        wall_clock.advance(hours=1)
        seller.check()  # it stays a while: each version settles before the next
        wall_clock.advance(hours=1)
    _, first_b, withdrawn, _ = seller.snapshots()
    assert titles(webhook) == [
        CRITICAL_TITLE,
        f'[critical] {TITLE} reverted — "unsolicited"',
        f'[critical] {TITLE} reinstated — "unsolicited"',
    ]
    reinstated = webhook.posts[2]["json"]["message"]
    assert (
        f"Reinstated: this wording was first seen on {when(first_b.captured_at)} "
        f"(snapshot {first_b.id[:10]}), withdrawn on {when(withdrawn.captured_at)}, and is back."
    ) in reinstated
    assert f"added: {NEW_SENTENCE_TEXT}" in reinstated
    assert len({e["key"] for e in seller.alerts()}) == 3


# --------------------------------------------------------------------------- secrets and routes


def test_route_secrets_never_reach_logs_alert_lists_validate_or_notify_test(
    seller, site, mailbox, webhook, chat
):
    live = {"name": "hook", "url": webhook.url("/hooks/${HOOK_TOKEN}")}  # urllib3 logs paths
    dead = {"name": "dead", "url": f"json://bot:${{HOOK_PASSWORD}}@127.0.0.1:{free_port()}/a"}
    seller.watch(email_route(mailbox), live, dead, *CHAT_ROUTES)
    seller("-vv", "check")
    site.route("/conduct", B)
    checked = seller("-vv", "check")
    assert (checked.code, len(webhook.posts), len(mailbox.messages)) == (0, 1, 1)
    assert '"POST /hooks/' in checked.err  # the logs tell what happened ...
    assert "route=dead page=conduct alert not delivered" in checked.err
    shown = [
        checked.out + checked.err,
        seller("alerts").out,
        seller("alerts", "--pending").out,
        seller("alerts", "--format", "json").out,
        seller("validate").out,
        seller("-vv", "notify-test", "dead").err,
    ]
    tested = seller("notify-test")
    assert tested.code == 1
    assert [line.split()[:2] for line in tested.out.splitlines() if line[:1] != " "] == [
        ["email", "ok"],
        ["hook", "ok"],
        ["dead", "FAILED"],
        ["slack", "ok"],
        ["discord", "ok"],
    ]
    shown.append(tested.out)
    assert "127.0.0.1" in shown[2]  # ... and so do the failure reasons
    assert "mailto://alerts:****@127.0.0.1" in shown[4]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text  # without a single secret


def test_notify_test_reports_every_route_or_one_and_names_routes_for_a_typo(
    seller, mailbox, webhook, chat
):
    seller.watch(email_route(mailbox), hook_route(webhook), *CHAT_ROUTES)
    every = seller("notify-test")
    assert every.code == 0, every.out + every.err
    lines = every.out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["email", "ok"],
        ["hook", "ok"],
        ["slack", "ok"],
        ["discord", "ok"],
    ]
    assert len(mailbox.messages) == 1
    assert webhook.posts[0]["json"]["message"] == (
        "Policy change alerts for your watched pages will arrive here."
    )
    assert len(posted(chat, "hooks.slack.com")) == 1 and len(posted(chat, "discord.com")) == 1
    one = seller("notify-test", "hook")
    assert (one.code, [line.split()[0] for line in one.out.splitlines()]) == (0, ["hook"])
    assert titles(webhook) == ["[test] policywatch can reach this channel"] * 2
    assert len(mailbox.messages) == 1
    typo = seller("notify-test", "hok")
    assert typo.code == 2
    assert "no notify route named 'hok'" in typo.err
    assert "routes in the watchlist: email, hook, slack, discord" in typo.err


# --------------------------------------------------------------------------- page text in chat

PINGS = (
    "<!channel> <!here> <!everyone> <!subteam^S0TEAM> @all @room @channel @here @everyone "
    "<@UABCDEF> <@&moderators> <#CGENERAL> <https://evil.example/login|Verify your Seller account>"
)
# The sigil or link syntax directly followed by what it names: a ping or a link in some chat.
RAW_PING = re.compile(
    r"[!@#](?:channel|here|everyone|subteam|all|room|UABCDEF|&moderators|CGENERAL)"
    r"|https?://evil\.example/login\\?\|"
)


def test_mentions_and_chat_links_in_page_text_reach_slack_and_discord_inert(seller, site, chat):
    seller.watch(*CHAT_ROUTES)
    seller.check()
    notice = html.escape(f"Notice to {PINGS}")
    site.route(
        "/conduct",
        A.replace(
            "<h2>Customer information</h2>",
            f"<h2>{notice}</h2><p>Read this, {html.escape(PINGS)}.</p>"
            "<h2>Customer information</h2>",
        ),
    )
    seller.check()
    (slack,) = posted(chat, "hooks.slack.com")
    (discord,) = posted(chat, "discord.com")
    sent = [slack["attachments"][0]["title"], slack["attachments"][0]["text"], discord["content"]]
    for text in sent:
        assert "Notice to" in text and "Verify your Seller account" in text  # still readable
        assert RAW_PING.findall(text) == []
