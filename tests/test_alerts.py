"""What a seller reads in an alert: built from real diffs of the Seller Central-like page."""

from __future__ import annotations

import json
import re

from policywatch.alerts.changes import change_alert
from policywatch.alerts.compose import Alert, Body, clip, outbox_items
from policywatch.alerts.health import recovered_alert, unreachable_alert
from policywatch.models import Route, Severity
from tests.notify_scenes import (
    CONDUCT,
    UNSOLICITED,
    conduct_change,
    in_marketplace,
    many_changes,
)

PROMOTIONAL = "You may not send unsolicited, promotional or inappropriate messages."
ROUTES = (
    Route("mailto://u:p@mail.example.com", "email"),
    Route("slack://T0AAAAAA1/B0BBBBBB2/cccccccccccccccccccc3", "slack", Severity.CRITICAL),
)


def alert_for(scene, **kwargs) -> Alert:
    return change_alert(scene.diff, scene.page, scene.severity, scene.old, scene.new, **kwargs)


def test_the_title_names_severity_page_and_the_watched_term_that_matters_most():
    scene = conduct_change(
        ("You may request feedback", "You must not request feedback"), (UNSOLICITED, PROMOTIONAL)
    )
    alert = alert_for(scene)
    assert scene.severity is Severity.CRITICAL
    assert alert.title == '[critical] Seller Code of Conduct changed — "unsolicited"'


def test_without_a_watched_term_the_title_says_what_kind_of_wording_or_where():
    obligation = alert_for(
        conduct_change(("you can contact a buyer only", "you can always contact a buyer only"))
    )
    assert obligation.title == "[major] Seller Code of Conduct changed — obligation wording"
    plain = alert_for(
        conduct_change(
            ("Always provide accurate information", "Always provide complete information")
        )
    )
    assert plain.title == '[minor] Seller Code of Conduct changed — "Seller Code of Conduct"'


def test_the_body_shows_the_section_both_sentences_with_the_change_marked_and_the_rules():
    alert = alert_for(conduct_change((UNSOLICITED, PROMOTIONAL)))
    text = alert.text
    assert "Seller Code of Conduct > Communications" in text
    assert f"before: {UNSOLICITED}" in text
    assert "now:    You may not send unsolicited{+, promotional+} or inappropriate" in text
    assert 'buyer-messaging "unsolicited" (critical)' in text
    assert CONDUCT.url in text
    markdown = alert.markdown
    assert "**Seller Code of Conduct \\> Communications**" in markdown
    assert "Now: You may not send unsolicited**, promotional** or inappropriate" in markdown


def test_deleted_words_are_struck_through_in_chat_and_bracketed_in_text():
    alert = alert_for(
        conduct_change(("You may not attempt to influence", "You may attempt to influence"))
    )
    assert "You may [-not-] attempt to influence" in alert.text
    assert "You may ~~not~~ attempt to influence" in alert.markdown


def test_the_alert_gives_short_snapshot_ids_and_the_exact_diff_command():
    scene = conduct_change((UNSOLICITED, PROMOTIONAL))
    old8, new8 = scene.old.id[:10], scene.new.id[:10]
    default = alert_for(scene, config_path="./watchlist.yaml")
    assert default.command == f"policywatch diff seller-code-of-conduct {old8} {new8}"
    assert f"Full diff: {default.command}" in default.text
    assert f"`{default.command}`" in default.markdown
    custom = alert_for(scene, config_path="/etc/policy watch.yaml", data_dir="/data")
    assert custom.command == (
        "policywatch -c '/etc/policy watch.yaml' -d /data "
        f"diff seller-code-of-conduct {old8} {new8}"
    )


def test_a_marketplace_watch_names_its_marketplace_in_title_and_body():
    alert = alert_for(conduct_change((UNSOLICITED, PROMOTIONAL), page=in_marketplace("UK")))
    assert alert.title.startswith("[critical] Seller Code of Conduct (UK) changed")
    assert "Marketplace: UK" in alert.text
    assert "seller-code-of-conduct@UK" in alert.command


def test_a_revert_and_a_silent_edit_are_said_in_plain_words():
    scene = conduct_change((UNSOLICITED, PROMOTIONAL))
    alert = alert_for(scene, revert_of=scene.old, silent_edit=True)
    assert alert.title.startswith("[critical] Seller Code of Conduct reverted")
    assert "back to the version first seen on 2026-11-01 08:00 UTC" in alert.text
    assert 'the page\'s "Last updated" date did not' in alert.text


def test_the_email_body_escapes_page_text_so_markup_in_a_policy_stays_text():
    alert = alert_for(
        conduct_change(
            (UNSOLICITED, "You may not send &lt;script&gt;alert(1)&lt;/script&gt; messages.")
        )
    )
    assert "&lt;script&gt;" in alert.html
    assert "<script>" not in alert.html
    assert "\\<script\\>" in alert.markdown  # literal in chat too


def test_a_chat_body_is_cut_between_changes_and_says_how_many_are_left_and_how_to_see_them():
    alert = alert_for(many_changes(40))
    assert len(alert.markdown) > 4000
    fitted = alert.fit("markdown", 1800)
    assert len(fitted) <= 1800
    shown = fitted.count("Added: ")
    assert 3 <= shown < 40
    assert f"… {40 - shown} more changes — run `{alert.command}`" in fitted
    assert fitted.endswith(f"full diff: `{alert.command}`")  # the foot always stays
    assert fitted.count("**") % 2 == 0


def test_a_huge_rewording_is_clipped_on_a_word_boundary_with_its_marks_closed():
    before = "Sellers must " + " ".join(["always reply to buyers quickly and politely"] * 40) + "."
    after = before.replace("quickly", "promptly")
    scene = conduct_change((before, after), setup=[(UNSOLICITED, before)])
    alert = alert_for(scene)
    fitted = alert.fit("markdown", 1200)
    assert len(fitted) <= 1200
    assert "Before: Sellers must always reply to buyers ~~quickly~~ and politely" in fitted
    clipped = fitted.split("Before: ")[1].split("\n")[0]
    assert clipped.endswith("…")
    assert re.search(r"(?:\b\w+|~~)…$", clipped)  # after a whole word (or its closing mark)
    for marker in ("**", "~~", "`"):
        assert fitted.count(marker) % 2 == 0, marker
    assert f"`{alert.command}`" in fitted


def test_clipping_backs_off_rather_than_leave_bold_or_a_link_open():
    text = "plain words then **a bold phrase that runs on** and [a link](https://x.example/p) end"
    for limit in range(10, len(text)):
        cut = clip(text, limit)
        assert len(cut) <= limit
        assert cut.count("**") % 2 == 0 and cut.count("[") == cut.count("]"), cut


def test_a_body_that_fits_is_sent_whole():
    body = Body("head", ("one", "two"), "foot")
    assert body.fit(100, lambda n: f"{n} more") == "head\n\none\n\ntwo\n\nfoot"


def test_each_route_gets_the_alert_only_at_or_above_its_severity_floor():
    minor = alert_for(conduct_change(("Always provide accurate", "Always provide complete")))
    critical = alert_for(conduct_change((UNSOLICITED, PROMOTIONAL)))
    assert [i["route"] for i in outbox_items(minor, ROUTES, "2026-11-29T22:40:00Z")] == ["email"]
    items = outbox_items(critical, ROUTES, "2026-11-29T22:40:00Z")
    assert [i["route"] for i in items] == ["email", "slack"]
    assert all(i["status"] == "pending" and i["severity"] == "critical" for i in items)


def test_the_same_change_gets_the_same_outbox_keys_so_it_is_announced_once_per_route():
    def keys(new_text: str, at: str) -> list[str]:
        alert = alert_for(conduct_change((UNSOLICITED, new_text)))
        return [item["key"] for item in outbox_items(alert, ROUTES, at)]

    first, again = keys(PROMOTIONAL, "2026-11-29"), keys(PROMOTIONAL, "2026-11-30")
    other = keys("You may not send messages.", "2026-11-30")
    assert first == again
    assert len(set(first)) == 2
    assert not set(first) & set(other)


def test_a_queued_alert_survives_the_outbox_as_json_unchanged():
    alert = alert_for(many_changes(3))
    (item,) = outbox_items(alert, ROUTES[:1], "2026-11-29T22:40:00Z")
    assert Alert.from_payload(json.loads(json.dumps(item["payload"]))) == alert


def test_an_unreachable_page_alert_says_since_when_why_and_what_to_do_once_per_episode():
    alert = unreachable_alert(CONDUCT, 3, "blocked: robot check (captcha)", "2026-11-29T20:00:00Z")
    assert alert.kind == "unreachable"
    assert alert.title == (
        "[unreachable] Seller Code of Conduct could not be checked (3 failures in a row)"
    )
    assert "Failing since: 2026-11-29 20:00 UTC" in alert.text
    assert "robot check (captcha)" in alert.text
    assert "policywatch -v check seller-code-of-conduct" in alert.text
    later = unreachable_alert(CONDUCT, 9, "timeout", "2026-11-29T20:00:00Z")
    next_episode = unreachable_alert(CONDUCT, 3, "timeout", "2026-12-05T20:00:00Z")
    assert later.key == alert.key != next_episode.key


def test_a_recovered_page_alert_reaches_the_routes_that_heard_it_was_down():
    down = unreachable_alert(CONDUCT, 3, "timeout", "2026-11-29T20:00:00Z")
    up = recovered_alert(CONDUCT, "2026-11-29T20:00:00Z")
    assert up.title == "[recovered] Seller Code of Conduct can be checked again"
    assert "Failing since: 2026-11-29 20:00 UTC" in up.text
    routes = [r["route"] for r in outbox_items(up, ROUTES, "2026-11-30T08:00:00Z")]
    assert routes == [r["route"] for r in outbox_items(down, ROUTES, "2026-11-29T21:00:00Z")]
    assert up.key != down.key


def test_a_page_nobody_can_check_is_announced_even_on_routes_kept_for_critical_changes():
    down = unreachable_alert(CONDUCT, 3, "timeout", "2026-11-29T20:00:00Z")
    up = recovered_alert(CONDUCT, "2026-11-29T20:00:00Z")
    critical_only = [Route("https://example.invalid/hook", "pager", Severity.CRITICAL)]
    assert [i["route"] for i in outbox_items(down, critical_only, "2026-11-29T21:00:00Z")] == [
        "pager"
    ]
    assert [i["route"] for i in outbox_items(up, critical_only, "2026-11-30T08:00:00Z")] == [
        "pager"
    ]


def test_a_mention_in_the_page_text_never_pings_the_chat_channel():
    scene = conduct_change(
        ("Marketing communications are prohibited.", "Ask @everyone in the team. @here too.")
    )
    markdown = alert_for(scene).markdown
    assert "@everyone" not in markdown and "@here" not in markdown
    assert "@\u200beveryone" in markdown
