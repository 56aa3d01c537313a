"""Stories about watchlist.yaml: the shipped example, profiles, marketplaces, and bad input.

Every bad watchlist must be rejected at load time with the file, the line and the
key to fix, so nothing is fetched or written on a typo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import apprise
import pytest

from policywatch.errors import ConfigError
from policywatch.models import Severity
from policywatch.watchlist.checks import format_interval, parse_interval
from policywatch.watchlist.describe import describe
from policywatch.watchlist.load import load_config

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "watchlist.yaml"
SC = "https://sellercentral.amazon.com/help/hub/reference/external"
G1801 = "/help/hub/reference/external/G1801"
SECRETS = {
    "SMTP_USER": "seller@gmail.com",
    "SMTP_PASSWORD": "hunter2:with/odd@chars",
    "ALERT_EMAIL": "team@example.com",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0AAAA/B0BBBB/s3cretSlackToken",
    "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/123456789/s3cretDiscordToken",
}


def write(tmp_path: Path, text: str, name: str = "watchlist.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    return load_config(write(tmp_path, text), env={} if env is None else env)


def page(page_id: str, url: str, extra: str = "") -> str:
    """A one-page watchlist; `extra` lines are indented into the page entry."""
    lines = "".join(f"    {line}\n" for line in textwrap.dedent(extra).strip().splitlines())
    return f"pages:\n  - id: {page_id}\n    url: {url}\n{lines}"


# --------------------------------------------------------------------------- the shipped file


def test_the_shipped_watchlist_validates_on_a_machine_with_no_secrets_set():
    config = load_config(SHIPPED, env={})

    assert [p.id for p in config.pages] == [
        "seller-code-of-conduct@US",
        "seller-code-of-conduct@UK",
        "seller-code-of-conduct@DE",
        "communication-guidelines",
        "customer-product-reviews-policies",
        "prohibited-seller-activities",
        "business-solutions-agreement",
    ]
    assert config.routes == ()
    skipped = "\n".join(route.said for route in config.skipped_routes)
    assert "'email' skipped" in skipped and "SMTP_PASSWORD" in skipped
    assert "'slack' skipped" in skipped and "'discord' skipped" in skipped


def test_every_shipped_page_gets_the_seller_central_profile():
    config = load_config(SHIPPED, env={})

    for spec in config.pages:
        assert spec.profile == "seller-central", spec.id
        assert spec.select == "#full-help-page"
        assert {"[hidden]", ".hh-scroll-to-top-box", "kat-breadcrumb"} <= set(spec.remove)
        assert spec.fetch == "auto"
        assert spec.validity.min_length >= 200 and spec.validity.h1
        assert spec.url.startswith("https://sellercentral.amazon.")
    guidelines = config.page("communication-guidelines")
    assert guidelines.url == f"{SC}/G1701?locale=en-US"
    assert guidelines.validity.country == "United States"
    assert guidelines.interval == 3600
    assert config.page("prohibited-seller-activities").interval == 6 * 3600


def test_the_shipped_rules_keep_the_built_in_ones_and_add_an_example_of_ones_own():
    from policywatch.watchlist.rules import DEFAULT_RULES

    config = load_config(SHIPPED, env={})

    assert config.rules_from == "added"
    assert config.rules[: len(DEFAULT_RULES)] == tuple(DEFAULT_RULES)
    [own] = config.rules[len(DEFAULT_RULES) :]
    assert (own.name, own.severity, own.language) == ("account-health", Severity.MAJOR, "en")
    critical = {t for r in config.rules if r.severity is Severity.CRITICAL for t in r.terms}
    assert {"unsolicited", "marketing communications", "incentiv*", "request a review"} <= critical


def test_the_shipped_notify_routes_activate_once_the_env_vars_are_set():
    config = load_config(SHIPPED, env=SECRETS)

    routes = {route.name: route for route in config.routes}
    assert list(routes) == ["email", "slack", "discord"]
    assert routes["slack"].url == SECRETS["SLACK_WEBHOOK_URL"]
    assert routes["slack"].min_severity is Severity.MAJOR
    assert routes["discord"].min_severity is Severity.CRITICAL
    # A Gmail address and a password with @ : / still reach the mail server intact.
    mail = apprise.Apprise()
    assert mail.add(routes["email"].url)
    assert mail[0].user == SECRETS["SMTP_USER"]
    assert mail[0].password == SECRETS["SMTP_PASSWORD"]


# --------------------------------------------------------------------------- marketplaces


def test_marketplaces_expand_into_one_watch_per_marketplace_with_its_host_and_banner():
    config = load_config(SHIPPED, env={})

    uk = config.page("seller-code-of-conduct@UK")
    de = config.page("seller-code-of-conduct@DE")
    assert uk.url == f"https://sellercentral.amazon.co.uk{G1801}?locale=en-US"
    assert de.url == f"https://sellercentral.amazon.de{G1801}?locale=en-US"
    assert (uk.marketplace, uk.validity.country) == ("UK", "United Kingdom")
    assert (de.marketplace, de.validity.country) == ("DE", "Germany")
    assert de.headers["Accept-Language"] == "en-US,en;q=0.9"
    assert config.page("seller-code-of-conduct@US").validity.country == "United States"


def test_without_a_locale_each_marketplace_gets_its_english_page(tmp_path):
    config = load(tmp_path, page("conduct", f"{SC}/G1801", "marketplaces: [uk, jp, fr]"))

    by_code = {p.marketplace: p for p in config.pages}
    assert by_code["UK"].url == f"https://sellercentral.amazon.co.uk{G1801}?locale=en-GB"
    assert by_code["FR"].url == f"https://sellercentral.amazon.fr{G1801}?locale=en-GB"
    assert by_code["JP"].url.startswith("https://sellercentral.amazon.co.jp/")
    assert by_code["JP"].headers == {"Accept-Language": "en-US,en;q=0.9"}
    assert by_code["FR"].validity.country == "France"


def test_a_locale_key_pins_the_language_the_seller_reads(tmp_path):
    config = load(
        tmp_path,
        page("conduct", f"{SC}/G1801?locale=en-US&ref=x", "marketplace: DE\nlocale: de_de"),
    )

    (spec,) = config.pages
    assert spec.id == "conduct"  # a single marketplace keeps the id as written
    assert spec.marketplace == "DE"
    assert spec.url == f"https://sellercentral.amazon.de{G1801}?ref=x&locale=de-DE"
    assert spec.headers == {"Accept-Language": "de-DE,de;q=0.9"}


def test_marketplaces_keep_a_non_seller_central_host_and_the_sellers_own_headers(tmp_path):
    config = load(
        tmp_path,
        page(
            "mirror",
            "http://127.0.0.1:8080/G1801",
            "marketplaces: [US, UK]\nheaders: {accept-language: fr, X-Team: policy}\n"
            "allow_private: true",
        ),
    )

    us, uk = config.pages
    assert us.url == "http://127.0.0.1:8080/G1801?locale=en-US"
    assert uk.url == "http://127.0.0.1:8080/G1801?locale=en-GB"
    assert uk.headers == {"accept-language": "fr", "X-Team": "policy"}
    assert uk.profile is None and uk.validity.country == "United Kingdom"


def test_a_rule_limited_to_a_page_covers_all_its_marketplaces(tmp_path):
    config = load(
        tmp_path,
        page("conduct", f"{SC}/G1801", "marketplaces: [US, UK]")
        + "rules:\n  - {name: contact, terms: [unsolicited], pages: [conduct]}\n",
    )

    for spec in config.pages:
        assert [r.name for r in config.rules_for(spec)] == ["contact"]


# --------------------------------------------------------------------------- profiles


def test_explicit_select_replaces_and_remove_adds_to_the_profile(tmp_path):
    config = load(
        tmp_path,
        page("conduct", f"{SC}/G1801", 'select: "#help-content"\nremove: [".promo", "[hidden]"]'),
    )

    (spec,) = config.pages
    assert spec.select == "#help-content"
    assert spec.remove[:2] == ("[hidden]", ".hh-scroll-to-top-box")
    assert spec.remove[-1] == ".promo"
    assert spec.remove.count("[hidden]") == 1


def test_the_profile_is_applied_on_the_unified_european_host_and_can_be_turned_off(tmp_path):
    eu = "https://sellercentral-europe.amazon.com/help/hub/reference/external/G1801"
    config = load(
        tmp_path,
        f"""
        pages:
          - {{id: eu, url: "{eu}"}}
          - {{id: raw, url: "{eu}", profile: none}}
          - {{id: other, url: "https://www.example.com/terms"}}
          - {{id: forced, url: "https://www.example.com/terms", profile: seller-central}}
        """,
    )

    eu_page, raw, other, forced = config.pages
    assert eu_page.profile == "seller-central" and eu_page.select == "#full-help-page"
    assert eu_page.validity.country is None  # the unified host serves several countries
    assert raw.profile is None and raw.select is None and raw.remove == ()
    assert other.profile is None and other.validity.min_length == 0
    assert forced.select == "#full-help-page"


def test_allow_private_under_defaults_covers_every_intranet_page_unless_one_says_no(tmp_path):
    config = load(
        tmp_path,
        """
        defaults:
          allow_private: true
        pages:
          - id: handbook
            url: http://10.1.2.3/handbook
          - id: public-terms
            url: https://example.com/terms
            allow_private: false
        """,
    )

    handbook, terms = config.pages
    assert (handbook.allow_private, terms.allow_private) == (True, False)
    assert "private addresses allowed" in describe(config).split("public-terms")[0]


def test_defaults_apply_to_every_page_and_a_page_can_override_them(tmp_path):
    config = load(
        tmp_path,
        """
        defaults:
          interval: 30m
          timeout: 10
          workers: 4
          alert_on_cosmetic: true
          fetch: http
          remove: [".ads"]
          ignore: ['Request ID: \\w+']
        pages:
          - id: a
            url: https://example.com/a
          - id: b
            url: https://sellercentral.amazon.com/help/hub/reference/external/G1701
            interval: 2s
            fetch: browser
            ignore: ['session \\d+']
            validity: {min_length: 50, required_headings: [Guidelines]}
        """,
    )

    a, b = config.pages
    assert config.defaults.interval == 1800 and config.defaults.workers == 4
    assert config.defaults.alert_on_cosmetic is True
    assert (a.interval, a.timeout, a.fetch, a.remove) == (1800, 10, "http", (".ads",))
    assert (b.interval, b.fetch) == (2, "browser")
    assert b.ignore == (r"Request ID: \w+", r"session \d+")
    assert ".ads" in b.remove and "[hidden]" in b.remove
    assert b.validity.min_length == 50 and b.validity.required_headings == ("Guidelines",)
    assert b.validity.h1 == "\\w"  # the profile's own checks stay


def test_shared_settings_can_use_yaml_anchors(tmp_path):
    config = load(
        tmp_path,
        """
        pages:
          - &sc {id: one, url: "https://example.com/1", select: main, interval: 1h}
          - {<<: *sc, id: two, url: "https://example.com/2"}
        """,
    )

    assert [(p.id, p.select, p.interval) for p in config.pages] == [
        ("one", "main", 3600),
        ("two", "main", 3600),
    ]


def test_the_built_in_rules_apply_unless_the_file_sets_its_own(tmp_path):
    from policywatch.watchlist.rules import DEFAULT_RULES

    assert load(tmp_path, page("a", "https://example.com/a")).rules == tuple(DEFAULT_RULES)
    assert load(tmp_path, page("a", "https://example.com/a") + "rules: []\n").rules == ()


def test_page_rules_stay_with_their_page(tmp_path):
    config = load(
        tmp_path,
        page(
            "a",
            "https://example.com/a",
            "rules:\n  - {name: fees, patterns: ['\\d+%'], severity: critical}",
        ),
    )

    (spec,) = config.pages
    assert spec.rules[0].name == "fees" and spec.rules[0].severity is Severity.CRITICAL
    assert spec.rules[0].patterns == (r"\d+%",)


# --------------------------------------------------------------------------- bad input

BAD = [
    pytest.param(
        page("a", "https://example.com/a", "selct: main"),
        4, "pages[0].selct", "did you mean 'select'?", id="typo-in-page-key",
    ),
    pytest.param(
        "page:\n  - id: a\n", 1, "page", "did you mean 'pages'?", id="typo-in-top-key",
    ),
    pytest.param(
        "pages:\n  - id: a\n     url: https://example.com\n", 3, None, "invalid YAML",
        id="yaml-syntax",
    ),
    pytest.param("pages:\n  - url: https://example.com/a\n", 2, "pages[0]", "needs an `id`",
                 id="missing-id"),
    pytest.param("pages:\n  - id: a\n", 2, "pages[0]", "needs an `url`", id="missing-url"),
    pytest.param(
        page("a", "https://example.com/a") + "  - id: b\n    url: https://example.com/b\n"
        "  - id: a\n    url: https://example.com/c\n",
        6, "pages[2].id", "used twice (lines 2 and 6)", id="duplicate-id",
    ),
    pytest.param(page("a", "ftp://example.com/a"), 3, "pages[0].url", "not an http(s) URL",
                 id="ftp-url"),
    pytest.param(page("a", "example.com/a"), 3, "pages[0].url", "not an http(s) URL",
                 id="url-without-scheme"),
    pytest.param(page("a", "'https://exa mple.com/a'"), 3, "pages[0].url", "space in its host",
                 id="space-in-host"),
    pytest.param(page("a", "https://example.com:99999/a"), 3, "pages[0].url", "no valid port",
                 id="port-out-of-range"),
    pytest.param(page("a@UK", "https://example.com/a"), 2, "pages[0].id", "may only use",
                 id="at-sign-in-id"),
    pytest.param(page("a", "https://example.com/a", "select: 'div['"), 4, "pages[0].select",
                 "invalid CSS selector", id="bad-selector"),
    pytest.param(page("a", "https://example.com/a", "remove: [nav, 'p:::x']"), 4,
                 "pages[0].remove[1]", "invalid CSS selector", id="bad-remove-selector"),
    pytest.param(page("a", "https://example.com/a", "ignore: ['(unclosed']"), 4,
                 "pages[0].ignore[0]", "invalid regular expression", id="bad-ignore-regex"),
    pytest.param(
        page("a", "https://example.com/a") + "rules:\n  - name: r\n    patterns: ['[a-']\n",
        6, "rules[0].patterns[0]", "invalid regular expression", id="bad-rule-regex",
    ),
    pytest.param(page("a", "https://example.com/a", "ignore: ['Updated', '.*']"), 4,
                 "pages[0].ignore[1]", "matches empty text", id="ignore-that-erases-everything"),
    pytest.param(
        page("a", "https://example.com/a") + "rules:\n  - name: r\n    terms: [x]\n"
        "    severity: Critcal\n",
        7, "rules[0].severity", "did you mean 'critical'?", id="unknown-severity",
    ),
    pytest.param(
        page("a", "https://example.com/a") + "rules:\n  - {name: r, terms: [x], pages: [b]}\n",
        5, "rules[0]", "names page 'b'", id="rule-for-unknown-page",
    ),
    pytest.param(page("a", "https://example.com/a", "interval: 6 hours"), 4, "pages[0].interval",
                 "not a duration", id="bad-interval"),
    pytest.param("defaults:\n  interval: 0s\n" + page("a", "https://example.com/a"), 2,
                 "defaults.interval", "more than zero", id="zero-interval"),
    pytest.param("defaults:\n  workers: many\n" + page("a", "https://example.com/a"), 2,
                 "defaults.workers", "expected a whole number, got text", id="wrong-type"),
    pytest.param("pages:\n  id: a\n  url: https://example.com/a\n", 1, "pages",
                 "expected a list of pages, got a mapping", id="pages-not-a-list"),
    pytest.param(page("a", f"{SC}/G1801", "marketplaces: [US, GB]"), 4,
                 "pages[0].marketplaces[1]", "unknown marketplace 'GB'", id="unknown-marketplace"),
    pytest.param(page("a", f"{SC}/G1801", "marketplace: US\nmarketplaces: [UK]"), 5,
                 "pages[0].marketplaces", "not both", id="marketplace-and-marketplaces"),
    pytest.param(page("a", f"{SC}/G1801", "profile: seller-centrl"), 4, "pages[0].profile",
                 "did you mean 'seller-central'?", id="unknown-profile"),
    pytest.param(page("a", "https://example.com/a", "fetch: chrome"), 4, "pages[0].fetch",
                 "unknown fetch 'chrome'", id="unknown-fetch-mode"),
    pytest.param(page("a", "https://example.com/a", "title: A\ntitle: B"), 5, "title",
                 "appears twice", id="duplicate-yaml-key"),
    pytest.param(
        page("a", "https://example.com/a") + "notify:\n  - url: slack://${SLACK_TOKEN}\n",
        5, "notify[0].url", "SLACK_TOKEN is not set", id="unset-env-var",
    ),
    pytest.param(page("a", "https://example.com/a") + "notify:\n  - nosuch://host/x\n", 5,
                 "notify[0]", "apprise cannot use", id="unknown-notify-scheme"),
    pytest.param(page("a", "https://example.com/a") + "notify:\n  - url: json://localhost/a\n"
                 "    timeout: soon\n", 6, "notify[0].timeout", "not a duration",
                 id="bad-route-timeout"),
    pytest.param("defaults:\n  settle: {polls: 0}\n" + page("a", "https://example.com/a"), 2,
                 "defaults.settle.polls", "must be at least 1", id="settle-no-polls"),
    pytest.param(page("a", "https://example.com/a", "settle: {polls: 2, four: 1h}"), 4,
                 "pages[0].settle.four", "did you mean 'for'?", id="settle-typo"),
    pytest.param(page("a", "https://example.com/a", "settle: a while"), 4, "pages[0].settle",
                 "not a duration", id="settle-not-a-duration"),
    pytest.param(page("a", f"{SC}/G1801", "locale: [en-GB, de-DE]\ntranslation_lag: a fortnight"),
                 5, "pages[0].translation_lag", "not a duration", id="lag-not-a-duration"),
    pytest.param("defaults:\n  translation_lag: 0d\n" + page("a", "https://example.com/a"), 2,
                 "defaults.translation_lag", "more than zero", id="zero-translation-lag"),
    pytest.param("", 1, None, "is empty", id="empty-file"),
    pytest.param(page("a", "http://10.1.2.3/handbook"), 3, "pages[0].url",
                 "10.1.2.3 is a private (non-public) address; set `allow_private: true`",
                 id="intranet-url-without-allow-private"),
    pytest.param(page("a", "http://169.254.169.254/latest/", "allow_private: true"), 3,
                 "pages[0].url", "cloud metadata address", id="metadata-url-even-if-allowed"),
    pytest.param(page("a", "https://example.com/a", "allow_private: yes please"), 4,
                 "pages[0].allow_private", "expected true or false", id="allow-private-not-bool"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "key", "message"), BAD)
def test_a_bad_watchlist_names_the_file_line_and_key(tmp_path, text, line, key, message):
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})

    error = caught.value
    assert error.exit_code == 2
    assert (error.file, error.line, error.key) == (str(path), line, key)
    where = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    assert str(error).startswith(where)
    assert message in str(error)


def test_an_unset_variable_tells_the_seller_what_to_export(tmp_path):
    text = page("a", "https://example.com/a") + "notify:\n  - url: ${SLACK_WEBHOOK_URL}\n"

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)

    assert caught.value.hint.startswith("export SLACK_WEBHOOK_URL=...")
    assert "optional: true" in caught.value.hint


def test_a_missing_watchlist_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", env={})

    assert str(caught.value).startswith(f"{tmp_path / 'nope.yaml'}: no such file")
    assert "-c PATH" in caught.value.hint


def test_an_unusable_secret_is_never_echoed_in_the_error(tmp_path, caplog):
    secret = "xoxb-Sup3rS3cret"
    text = page("a", "https://example.com/a") + "notify:\n  - url: 'nosuch://${TOKEN}@host'\n"

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env={"TOKEN": secret})

    assert "TOKEN" in str(caught.value)
    assert secret not in str(caught.value) and secret not in caplog.text


# --------------------------------------------------------------------------- notify routes


def test_route_names_are_stable_readable_and_free_of_secrets(tmp_path):
    env = {"U": "me", "P": "pa55word", "HOOK": "https://hooks.slack.com/services/T/B/tok3n"}
    text = page("a", "https://example.com/a") + textwrap.dedent(
        """
        notify:
          - mailtos://${U}:${P}@smtp.example.com?to=ops@example.com
          - ${HOOK}
          - discord://4242/t0ken
          - discord://4343/t0ken2
          - {url: "json://localhost:8080/hook", name: ops-hook, min_severity: major}
        """
    )

    config = load(tmp_path, text, env=env)

    names = [route.name for route in config.routes]
    assert names == ["mailtos:smtp.example.com", "hook", "discord", "discord-2", "ops-hook"]
    assert config.routes[1].url == env["HOOK"]
    assert config.routes[4].min_severity is Severity.MAJOR
    assert not any("pa55word" in n or "t0ken" in n or "4242" in n for n in names)


def test_a_route_waits_long_enough_for_a_real_webhook_unless_the_seller_says_otherwise(tmp_path):
    config = load(
        tmp_path,
        page("a", "https://example.com/a")
        + "notify:\n  - json://localhost:8080/a\n"
        + "  - {url: 'json://localhost:8080/b', timeout: 45s}\n",
    )
    assert config.routes[0].timeout >= 20  # apprise's own 4 s cuts off slow receivers
    assert config.routes[1].timeout == 45


def test_settle_defaults_to_two_polls_and_an_hour_and_a_page_can_change_part_of_it(tmp_path):
    config = load(
        tmp_path,
        "defaults:\n  settle: {polls: 3}\n"
        + page("a", "https://example.com/a")
        + "  - id: b\n    url: https://example.com/b\n    settle: 2h\n",
    )
    assert [(p.settle.polls, p.settle.seconds) for p in config.pages] == [(3, 3600), (3, 7200)]
    assert load(tmp_path, page("a", "https://example.com/a")).pages[0].settle.polls == 2


def test_an_optional_route_skips_quietly_only_while_its_variables_are_missing(tmp_path):
    text = page("a", "https://example.com/a") + textwrap.dedent(
        """
        notify:
          - {url: "discord://${DISCORD_ID}/${DISCORD_TOKEN}", optional: true}
        """
    )

    waiting = load(tmp_path, text, env={"DISCORD_ID": "42"})
    assert waiting.routes == ()
    assert "DISCORD_TOKEN not set" in waiting.skipped_routes[0].said
    routes = load(tmp_path, text, env={"DISCORD_ID": "42", "DISCORD_TOKEN": "abc"}).routes
    assert [r.url for r in routes] == ["discord://42/abc"]


def _loads_asking_apprise(watchlist: Path, cache: Path, env: dict[str, str]) -> bool:
    """Load the watchlist as a fresh `policywatch` process does; whether it imported apprise."""
    probe = (
        "import sys\n"
        "from policywatch.watchlist.load import load_config\n"
        f"load_config({str(watchlist)!r})\n"
        "print('apprise' in sys.modules)\n"
    )
    env = {**os.environ, **env, "XDG_CACHE_HOME": str(cache)}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip() == "True"


def test_a_notify_url_apprise_accepted_is_not_asked_again_on_the_next_run(tmp_path):
    """Asking apprise loads all its plugins; a cron `check` paid that on every run."""
    watchlist = write(
        tmp_path,
        page("a", "https://example.com/a")
        + ("notify:\n  - ${SLACK_WEBHOOK_URL}\n  - json://127.0.0.1:9/hook\n"),
    )
    cache, env = tmp_path / "cache", {"SLACK_WEBHOOK_URL": SECRETS["SLACK_WEBHOOK_URL"]}
    assert _loads_asking_apprise(watchlist, cache, env)
    assert not _loads_asking_apprise(watchlist, cache, env)
    remembered = (cache / "policywatch" / "accepted-notify-urls.json").read_text()
    assert "s3cretSlackToken" not in remembered and "hooks.slack.com" not in remembered
    # A new secret is a new URL: apprise is asked about it.
    assert _loads_asking_apprise(
        watchlist, cache, {"SLACK_WEBHOOK_URL": SECRETS["SLACK_WEBHOOK_URL"][:-5] + "Other"}
    )


def test_another_apprise_install_asks_again(tmp_path):
    watchlist = write(tmp_path, page("a", "https://example.com/a") + "notify:\n  - json://h/x\n")
    cache = tmp_path / "cache"
    assert _loads_asking_apprise(watchlist, cache, {})
    path = cache / "policywatch" / "accepted-notify-urls.json"
    remembered = json.loads(path.read_text())
    path.write_text(json.dumps({**remembered, "apprise": "/elsewhere/apprise/__init__.py:1:2"}))
    assert _loads_asking_apprise(watchlist, cache, {})


def test_a_notify_url_apprise_refused_is_refused_on_every_load(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = page("a", "https://example.com/a") + "notify:\n  - nosuch://host/x\n"
    for _ in range(2):
        with pytest.raises(ConfigError, match="apprise cannot use"):
            load(tmp_path, text)
    assert not (tmp_path / "cache" / "policywatch" / "accepted-notify-urls.json").exists()


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    config = load(tmp_path, page("a", "https://example.com/a") + "notify:\n  - json://h/x\n")
    assert [r.url for r in config.routes] == ["json://h/x"]


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6h", 21600), ("30m", 1800), ("2s", 2), ("1d", 86400), ("90", 90), (90, 90),
     ("1h30m", 5400), (" 1.5h ", 5400), ("0.5s", 0.5)],
)  # fmt: skip
def test_intervals_read_like_a_person_writes_them(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "6 hours", "h", "-5m", "0", True, "1w", float("inf")])
def test_nonsense_intervals_are_refused(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_intervals_print_back_in_their_shortest_form():
    assert [format_interval(s) for s in (21600, 1800, 2, 86400, 5400, 0.5)] == [
        "6h", "30m", "2s", "1d", "90m", "0.5s",
    ]  # fmt: skip


# --------------------------------------------------------------------------- validate output


def test_validate_lists_every_watch_without_revealing_secrets():
    config = load_config(SHIPPED, env=SECRETS)

    text = describe(config)

    for spec in config.pages:
        assert spec.id in text and spec.url in text
    assert "marketplace UK" in text and "every 6h" in text and "#full-help-page" in text
    assert "email" in text and "slack" in text and "discord" in text
    for secret in ("hunter2", "s3cretSlackToken", "s3cretDiscordToken"):
        assert secret not in text
