"""Alerts reaching sellers: real SMTP and HTTP receivers on loopback, the real outbox.

Only Slack's and Discord's own hosts are intercepted (with `responses`): they are
third-party services a test must not call. Everything else goes over TCP to
127.0.0.1 exactly as it would to a mail provider or a webhook.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

from policywatch.alerts import notify
from policywatch.alerts.changes import change_alert
from policywatch.alerts.compose import Alert, outbox_items
from policywatch.alerts.deliver import deliver_pending, notify_test
from policywatch.alerts.notify import send
from policywatch.diff.markdown import markdown_escape
from policywatch.errors import UsageError
from policywatch.history.store import Store
from policywatch.models import Route, Severity
from policywatch.redact import redact
from tests.notify_receivers import HttpReceiver, SmtpReceiver, free_port
from tests.notify_scenes import UNSOLICITED, Scene, conduct_change, many_changes

PROMOTIONAL = "You may not send unsolicited, promotional or &lt;script&gt; messages."
SLACK_TOKEN = "xoxSlackSecretToken123"
SLACK_URL = f"https://hooks.slack.com/services/T0POLICY1/B0WATCH22/{SLACK_TOKEN}"
DISCORD_TOKEN = "DiscordSecretToken-abc_XYZ"
DISCORD_URL = f"https://discord.com/api/webhooks/112233445566778899/{DISCORD_TOKEN}"
T0 = datetime(2026, 11, 29, 22, 40, tzinfo=UTC)

# The loopback SMTP server takes a password without TLS on purpose: it proves apprise logs in.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "data") as opened:
        yield opened


def no_wait(seconds: float) -> None:
    """Within-run retry pauses, skipped: the tests move `now` instead."""


def alert_for(scene: Scene) -> Alert:
    return change_alert(scene.diff, scene.page, scene.severity, scene.old, scene.new)


def critical_alert() -> Alert:
    return alert_for(conduct_change((UNSOLICITED, PROMOTIONAL)))


def queue(store: Store, alert: Alert, routes: list[Route], at: datetime = T0) -> None:
    store.enqueue_alerts(outbox_items(alert, routes, at))


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("url", "secrets", "kept"),
    [
        (
            "mailtos://alerts:Pa55-word!@smtp.example.com:465?from=pw@example.com&to=me@example.com",
            ["Pa55-word!"],
            ["mailtos://", "smtp.example.com:465", "to=me@example.com"],
        ),
        (SLACK_URL, [SLACK_TOKEN, "T0POLICY1", "B0WATCH22"], ["https://hooks.slack.com"]),
        (
            "slack://T0POLICY1/B0WATCH22/abcdefghijklmnopqrstuvwx/#policy",
            ["abcdefghij"],
            ["slack://"],
        ),
        ("discord://112233445566778899/shorttoken", ["112233445566778899", "shorttoken"], []),
        (DISCORD_URL, [DISCORD_TOKEN, "112233445566778899"], ["https://discord.com/api/webhooks/"]),
        (
            "json://user:hunter2@127.0.0.1:8080/hook?token=t0k&pass=abc",
            ["hunter2", "t0k", "abc"],
            [],
        ),
        (
            "tgram://123456789:AAHbotTokenbotToken/-100123",
            ["AAHbotToken", "123456789"],
            ["tgram://"],
        ),
        ("ntfy://ntfy.sh/policy-alerts", ["policy-alerts"], ["ntfy://ntfy.sh/"]),  # the key
    ],
)
def test_a_redacted_route_keeps_scheme_and_host_and_hides_every_secret(url, secrets, kept):
    shown = redact(url)
    for secret in secrets:
        assert secret not in shown
    for part in kept:
        assert part in shown


# --------------------------------------------------------------------------- channels


def test_a_critical_change_arrives_by_email_naming_severity_term_and_sentence(mailbox):
    ok, reason = send(Route(mailbox.url(), "email"), critical_alert().to_payload())
    assert (ok, reason) == (True, None)
    (message,) = mailbox.messages
    assert message["Subject"] == '[critical] Seller Code of Conduct changed — "unsolicited"'
    assert message["To"] == "seller@example.com"
    html_part = message.get_body(("html",)).get_content()
    assert "promotional" in html_part
    assert "&lt;script&gt;" in html_part
    assert "<script>" not in html_part  # page text can never run in the reader's mail client
    text_part = message.get_body(("plain",)).get_content()
    assert "unsolicited" in text_part and "promotional" in text_part


def test_a_webhook_gets_the_title_and_the_plain_text_with_the_change_marked(webhook):
    alert = critical_alert()
    assert send(Route(webhook.url(), "hook"), alert.to_payload()) == (True, None)
    (post,) = webhook.posts
    assert post["path"] == "/alerts"
    assert post["json"]["title"] == alert.title
    message = post["json"]["message"]
    assert "before: You may not send unsolicited [-or inappropriate-] messages." in message
    assert "now:    You may not send unsolicited{+, promotional or <script>+} messages." in message
    assert alert.command in message


@responses.activate
def test_slack_gets_markdown_cut_to_a_readable_length_with_a_note_naming_the_diff():
    responses.add(responses.POST, SLACK_URL, body="ok")
    alert = alert_for(many_changes(40))
    assert send(Route(SLACK_URL, "slack"), alert.to_payload()) == (True, None)
    payload = json.loads(responses.calls[0].request.body)
    assert payload["mrkdwn"] is True
    attachment = payload["attachments"][0]
    assert attachment["title"] == alert.title
    text = attachment["text"]
    assert len(text) <= notify.CHAT_LIMIT
    assert "Added: Rule 1: you may not send unsolicited messages" in text
    assert f"more changes — run `{alert.command}`" in text


@responses.activate
def test_slack_strikes_deleted_words_with_its_own_single_tilde():
    responses.add(responses.POST, SLACK_URL, body="ok")
    alert = alert_for(conduct_change(("You may not attempt", "You may attempt")))
    assert send(Route(SLACK_URL, "slack"), alert.to_payload())[0]
    text = json.loads(responses.calls[0].request.body)["attachments"][0]["text"]
    assert "You may ~not~ attempt" in text


@responses.activate
def test_discord_gets_title_and_markdown_within_its_2000_characters():
    responses.add(responses.POST, DISCORD_URL, status=204)
    alert = alert_for(many_changes(40))
    assert send(Route(DISCORD_URL, "discord"), alert.to_payload()) == (True, None)
    content = json.loads(responses.calls[0].request.body)["content"]
    assert len(content) <= 2000
    assert content.startswith(markdown_escape(alert.title))  # Discord shows it as Markdown
    assert "**Seller Code of Conduct**" in content
    assert content.count("**") % 2 == 0
    assert f"more changes — run `{alert.command}`" in content


def test_a_failed_send_says_why_without_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    dead = Route(f"json://user:hunter2-secret@127.0.0.1:{free_port()}/alerts", "dead-hook")
    ok, reason = send(dead, critical_alert().to_payload())
    assert not ok
    assert reason and "127.0.0.1" in reason
    assert "hunter2-secret" not in reason + caplog.text


def test_an_url_apprise_cannot_use_is_a_failure_with_a_hint_not_a_crash():
    ok, reason = send(Route("nosuchscheme://token-abc123/x", "typo"), critical_alert().to_payload())
    assert not ok
    assert "apprise cannot use the URL nosuchscheme://" in reason
    assert "token-abc123" not in reason


# --------------------------------------------------------------------------- the outbox


def test_a_route_for_critical_alerts_only_never_gets_a_minor_change(store, webhook):
    loud = HttpReceiver().start()
    try:
        routes = [
            Route(webhook.url(), "everything"),
            Route(loud.url(), "critical-only", Severity.CRITICAL),
        ]
        minor = alert_for(conduct_change(("Always provide accurate", "Always provide complete")))
        queue(store, minor, routes)
        report = deliver_pending(store, routes, T0, sleep=no_wait)
        assert (report.sent, report.failed, report.pending) == (1, 0, 0)
        assert len(webhook.posts) == 1 and webhook.posts[0]["json"]["title"].startswith("[minor]")
        assert loud.posts == []
    finally:
        loud.stop()


def test_mail_server_down_for_two_runs_then_up_delivers_exactly_one_email(store):
    receiver = SmtpReceiver()  # not started: connections are refused
    route = Route(receiver.url(), "email")
    queue(store, critical_alert(), [route])
    try:
        first = deliver_pending(store, [route], T0, sleep=no_wait)
        assert (first.sent, first.failed, first.pending) == (0, 1, 1)
        (entry,) = store.alerts("pending")
        assert entry["attempts"] == 1 and entry["last_error"]
        assert deliver_pending(store, [route], T0 + timedelta(seconds=30)).failed == 0  # not due
        second = deliver_pending(store, [route], T0 + timedelta(minutes=1), sleep=no_wait)
        assert second.failed == 1
        receiver.start()
        assert deliver_pending(store, [route], T0 + timedelta(minutes=2)).sent == 0  # backing off
        third = deliver_pending(store, [route], T0 + timedelta(minutes=3), sleep=no_wait)
        assert (third.sent, third.failed, third.pending) == (1, 0, 0)
        assert deliver_pending(store, [route], T0 + timedelta(hours=2)).sent == 0
        assert len(receiver.messages) == 1
        (sent,) = store.alerts("sent")
        assert sent["attempts"] == 3
    finally:
        receiver.stop()


def test_a_brief_hiccup_is_retried_within_the_same_run(store, webhook):
    webhook.status = 503
    pauses: list[float] = []

    def pause_then_recover(seconds: float) -> None:
        pauses.append(seconds)
        webhook.status = 200

    route = Route(webhook.url(), "hook")
    queue(store, critical_alert(), [route])
    report = deliver_pending(store, [route], T0, sleep=pause_then_recover)
    assert report.sent == 1
    assert pauses == [1.0]
    assert len(webhook.posts) == 2  # the failed post and the good one


def test_an_alert_failing_for_a_day_is_parked_as_failed_and_retry_sends_it(store, webhook):
    webhook.status = 500
    route = Route(webhook.url(), "hook")
    queue(store, critical_alert(), [route])
    now, runs = T0, 0
    while store.alerts("pending"):
        report = deliver_pending(
            store, [route], now, max_attempts_per_run=1, give_up_after=timedelta(minutes=10)
        )
        runs += 1
        now += timedelta(hours=1)
    assert runs == 4 and report.gave_up == 1  # waits of 1 + 2 + 4 + 8 minutes reach 10
    (parked,) = store.alerts("failed")
    assert "500" in parked["last_error"] or "Internal Server Error" in parked["last_error"]
    webhook.status = 200
    assert store.retry_failed(now) == 1
    assert deliver_pending(store, [route], now + timedelta(hours=1)).sent == 1
    assert webhook.posts[-1]["json"]["title"].startswith("[critical]")


def test_alerts_for_a_route_no_longer_configured_stay_queued_and_warn_once(store, caplog):
    gone = Route("json://127.0.0.1:9/old", "old-team-channel")
    queue(store, critical_alert(), [gone])
    with caplog.at_level(logging.WARNING, logger="policywatch.notify"):
        for minutes in (0, 60, 120):
            report = deliver_pending(store, [], T0 + timedelta(minutes=minutes))
            assert (report.sent, report.failed, report.pending) == (0, 0, 1)
    (entry,) = store.alerts("pending")
    assert entry["attempts"] == 0
    warnings = [r for r in caplog.records if "old-team-channel" in r.getMessage()]
    assert len(warnings) == 1


@responses.activate
def test_no_secret_reaches_the_logs_or_the_outbox_when_every_route_fails(store, webhook, caplog):
    responses.add(responses.POST, SLACK_URL, status=500, body="internal_error")
    responses.add(responses.POST, DISCORD_URL, status=401, body='{"message": "401: Unauthorized"}')
    responses.add_passthru(f"http://127.0.0.1:{webhook.port}")
    webhook.status = 500
    password, path_token = "Mail-Pa55word-42", "PathToken0f1a2b3c"
    routes = [
        Route(SLACK_URL, "slack"),
        Route(DISCORD_URL, "discord"),
        Route(f"mailto://alerts:{password}@127.0.0.1:{free_port()}?to=a@example.com", "email"),
        Route(f"json://bot:{password}@127.0.0.1:{free_port()}/hook?token={SLACK_TOKEN}", "hook"),
        Route(webhook.url(f"/hooks/{path_token}"), "live-hook"),  # urllib3 logs request paths
    ]
    queue(store, critical_alert(), routes)
    caplog.set_level(logging.DEBUG)
    report = deliver_pending(store, routes, T0, sleep=no_wait)
    assert report.failed == 5 and len(webhook.posts) == 3
    assert "hooks.slack.com" in caplog.text and '"POST /hooks/' in caplog.text  # logged ...
    errors = " ".join(e["last_error"] for e in store.alerts())
    for secret in (SLACK_TOKEN, DISCORD_TOKEN, "112233445566778899", password, path_token):
        assert secret not in caplog.text  # ... with every secret masked
        assert secret not in errors


def test_notify_test_reports_each_route_and_rejects_an_unknown_name(webhook):
    routes = [Route(webhook.url(), "hook"), Route(f"json://127.0.0.1:{free_port()}/", "dead")]
    results = notify_test(routes)
    assert [(route.name, ok) for route, ok, _ in results] == [("hook", True), ("dead", False)]
    assert webhook.posts[0]["json"]["title"] == "[test] policywatch can reach this channel"
    assert [r.name for r, _, _ in notify_test(routes, "hook")] == ["hook"]
    with pytest.raises(UsageError, match="no notify route named 'hok'"):
        notify_test(routes, "hok")
