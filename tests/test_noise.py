"""Issue 12: no alert on any policy page for a version in which no word of the policy changed.

Help-centre articles and legal pages of other marketplaces, in English, French and
German, are served on the loopback page server and checked by the real pipeline
with an injected clock; every story counts the alerts the seller would get.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from policywatch.alerts.compose import Alert
from policywatch.cli import main
from policywatch.diff.markdown import markdown_escape
from policywatch.errors import ConfigError
from policywatch.fetch.http import Fetcher
from policywatch.history.store import Store
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from tests import realcorpus
from tests.pageserver import PageServer, fixture, fresh_noise
from tests.test_real_pages import EXPECTED

INBOX = {"url": "json://127.0.0.1:9/", "name": "seller-inbox"}
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
LANGUAGES = ("en", "fr", "de")


def steady(html: str) -> str:
    """The page with its per-request markers filled in once, as if every fetch sent the same."""
    return (
        html.replace("{{request_id}}", "R1")
        .replace("{{session_id}}", "S1")
        .replace("{{timestamp}}", "1")
    )


class Watch:
    """One page on the loopback server, checked through the real pipeline on a fake clock."""

    def __init__(
        self,
        tmp_path: Path,
        server: PageServer,
        page_id: str,
        notify: list[dict[str, str]] | None = None,
        rules: list[dict[str, Any]] | None = None,
        **page: Any,
    ) -> None:
        self.server, self.path, self.page_id = server, f"/{page_id}", page_id
        entry = {"id": page_id, "url": server.url(self.path), "fetch": "http", **page}
        config = {
            "defaults": {"retries": 1, "timeout": 5, "allow_private": True},  # on loopback
            "pages": [entry],
            "rules": rules or [],
            "notify": notify or [INBOX],
        }
        self.config_path = tmp_path / f"{page_id}.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.config = load_config(self.config_path)
        self.data = tmp_path / f"{page_id}-data"
        self.store = Store(self.data)
        self.fetcher = Fetcher(self.config.defaults)
        self.at = START

    def check(self, html: str, *, noisy: bool = True) -> str:
        """Serve `html` (fresh per-request tokens on every fetch unless not `noisy`) and poll."""
        self.server.route(self.path, (lambda: fresh_noise(html)) if noisy else steady(html))
        self.at += timedelta(hours=6)
        with self.store.lock():
            report = check_pages(
                self.config, self.store, now=self.at, fetcher=self.fetcher, deliver=False
            )
        [outcome] = report.outcomes
        assert outcome.status not in ("blocked", "error"), outcome.reason
        return outcome.status

    def alerts(self) -> list[dict[str, Any]]:
        return self.store.alerts()

    def alert_texts(self) -> list[str]:
        """The plain-text body of every alert queued, one per change (routes share it)."""
        return list(dict.fromkeys(Alert.from_payload(a["payload"]).text for a in self.alerts()))

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> str:
        """What `policywatch -c watchlist -d data ARGS` prints, as the seller would type it."""
        self.store.flush()
        capsys.readouterr()
        code = main(["-c", str(self.config_path), "-d", str(self.data), *args])
        out, err = capsys.readouterr()
        assert code in (0, 1), err
        return out

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()


@pytest.fixture
def watch(tmp_path, pageserver):
    made: list[Watch] = []

    def make(page_id: str, **page: Any) -> Watch:
        made.append(Watch(tmp_path, pageserver, page_id, **page))
        return made[-1]

    yield make
    for w in made:
        w.close()


def help_article(language: str) -> str:
    return fixture(f"help-returns-{language}.html")


def contract(language: str) -> str:
    return fixture(f"contract-seller-{language}.html")


# --------------------------------------------------------------------------- dates

DATE_BUMPS = {
    "help-returns-en.html": ("Last updated: March 16, 2023", "Last updated: July 3, 2023"),
    "help-returns-fr.html": (
        "Dernière mise à jour&nbsp;: 3 mars 2025",
        "Dernière mise à jour&nbsp;: 14 avr. 2025",
    ),
    "help-returns-de.html": (
        "Zuletzt aktualisiert am 3. März 2025",
        "Zuletzt aktualisiert am 14. Apr. 2025",
    ),
    "contract-seller-en.html": ("Last updated on Oct 20, 2022", "Last updated on Nov 2nd, 2022"),
    "contract-seller-fr.html": (
        "Dernière mise à jour : 1er mars 2025",
        "Dernière mise à jour : 2 juin 2025",
    ),
    "contract-seller-de.html": ("Stand: 3. März 2025", "Stand: 01.06.2025"),
}


@pytest.mark.parametrize("name", sorted(DATE_BUMPS))
def test_a_version_that_only_bumps_its_date_line_alerts_no_one_and_keeps_the_new_date(watch, name):
    before, after = DATE_BUMPS[name]
    page = fixture(name)
    seen = watch("page", select="article" if name.startswith("help") else "#legal-document")
    assert seen.check(page, noisy=False) == "new"
    assert seen.check(page.replace(before, after), noisy=False) == "unchanged"
    assert seen.alerts() == []
    shown = seen.store.page_state("page")["last_updated"]
    assert after.replace("&nbsp;", " ").split()[-1] in shown


@pytest.mark.parametrize(
    "line",
    [
        "Effective from 1 June 2025",
        "Updated 2025-06-01",
        "Última actualización: 3 de marzo de 2025",
        "Ultimo aggiornamento: 3 marzo 2025",
        "最終更新日：2025年3月3日",
        "Mis à jour le 3 févr. 2025",
    ],
)
def test_every_common_spelling_of_a_date_line_is_the_page_date_not_policy_text(watch, line):
    page = contract("en")
    seen = watch("page", select="#legal-document")
    seen.check(page, noisy=False)
    assert seen.check(page.replace("Last updated on Oct 20, 2022", line), noisy=False) == (
        "unchanged"
    )
    assert seen.alerts() == []


def test_a_new_date_line_is_the_page_date_but_a_take_effect_sentence_is_policy_text(watch):
    page = contract("de")
    seen = watch("page", select="#legal-document")
    seen.check(page, noisy=False)
    assert seen.check(page.replace("Stand: 3. März 2025", "Stand: 1. Juni 2025")) == "unchanged"
    effect = "<p>This policy will take effect on December 1, 2022.</p>"
    assert seen.check(page.replace("<p><em>", f"{effect}<p><em>"), noisy=False) == "changed"
    [text] = seen.alert_texts()
    assert "take effect on December 1, 2022" in text


# --------------------------------------------------------------------------- per-request tokens


@pytest.mark.parametrize("language", LANGUAGES)
def test_session_ids_in_hidden_text_and_tokens_in_links_are_never_a_change(watch, language):
    """Every fetch renders a new session id in a display:none element, a signed token in the
    returns-form link and a cache buster in the fee-schedule link."""
    article = watch("article", select="article")
    legal = watch("legal", select="#legal-document")
    assert [article.check(help_article(language)) for _ in range(3)] == [
        "new",
        "unchanged",
        "unchanged",
    ]
    assert [legal.check(contract(language)) for _ in range(3)] == ["new", "unchanged", "unchanged"]
    assert article.alerts() == legal.alerts() == []


def test_signed_url_parameters_and_aria_hidden_text_do_not_change_the_page(watch):
    page = (
        contract("en")
        .replace(
            "?v={{timestamp}}",
            "?X-Amz-Signature={{request_id}}&X-Amz-Expires=300&Expires={{timestamp}}",
        )
        .replace("<h2>3.", '<span aria-hidden="true">{{session_id}}</span><h2>3.')
    )
    legal = watch("legal", select="#legal-document")
    assert [legal.check(page) for _ in range(2)] == ["new", "unchanged"]
    assert legal.alerts() == []


# --------------------------------------------------------------------------- widgets

# Per language: the related-articles heading, a teaser swapped for another, and the
# feedback widget after a vote, as the help centre serves them on a later visit.
WIDGET_DRIFT = {
    "en": [
        ("<h3>Related articles</h3>", "<h3>You might also be interested in</h3>"),
        (
            "Buying postage labels</a><p>How to print a label from an order.</p>"
            "<span>5 min article</span>",
            "Selling fees explained</a><p>What you pay when an item sells.</p>"
            "<span>15 min article</span>",
        ),
        (
            "Was this article helpful?</span>",
            "Was this page helpful?</span><span>12 out of 15 found this helpful</span>",
        ),
    ],
    "fr": [
        ("<h3>Articles connexes</h3>", "<h3>Vous pourriez aussi être intéressé par</h3>"),
        (
            "Acheter des étiquettes d’expédition</a><p>Comment imprimer une étiquette depuis une "
            "commande.</p><span>Article de 5 min</span>",
            "Comprendre les frais de vente</a><p>Ce que vous payez quand un article est vendu."
            "</p><span>Article de 15 min</span>",
        ),
        ("Cet article vous a-t-il été utile&nbsp;?", "Cette réponse vous a-t-elle aidé ?"),
    ],
    "de": [
        ("<h3>Ähnliche Artikel</h3>", "<h3>Das könnte Sie auch interessieren</h3>"),
        (
            "Versandetiketten kaufen</a><p>So drucken Sie ein Etikett aus einer Bestellung.</p>"
            "<span>5 Min. Lesezeit</span>",
            "Verkaufsgebühren erklärt</a><p>Was Sie zahlen, wenn ein Artikel verkauft wird.</p>"
            "<span>15 Min. Lesezeit</span>",
        ),
        (
            "War dieser Artikel hilfreich?</span>",
            "War diese Seite hilfreich?</span><p>Danke für Ihr Feedback!</p>",
        ),
    ],
}
# One real wording change per language, in the refunds sentence, and words the alert quotes.
REWORDS = {
    "en": ("within 14 days of receiving", "within 7 days of receiving", "receiving the returned"),
    "fr": ("dans un délai de 14 jours", "dans un délai de 7 jours", "après réception"),
    "de": ("innerhalb von 14 Tagen", "innerhalb von 7 Tagen", "nach Erhalt"),
}
# Words of the drifted widgets that must never reach an alert.
CHROME_WORDS = {
    "en": ("Selling fees explained", "interested", "helpful"),
    "fr": ("Comprendre les frais", "intéressé", "aidé"),
    "de": ("Verkaufsgebühren erklärt", "interessieren", "hilfreich"),
}


def drifted(html: str, language: str, skip: int = 0) -> str:
    for old, new in WIDGET_DRIFT[language][skip:]:
        assert old in html, old
        html = html.replace(old, new)
    return html


@pytest.mark.parametrize("language", LANGUAGES)
def test_feedback_widgets_and_related_teasers_inside_the_article_never_alert(watch, language):
    page = help_article(language)
    without_widgets = page.replace('<div class="article-votes">', '<div class="article-votes" x>')
    without_widgets = (
        without_widgets[: without_widgets.index('<div class="article-votes" x>')]
        + (without_widgets[without_widgets.index("</section>") + len("</section>") :])
    )
    seen = watch("article", select="article")
    statuses = [seen.check(v) for v in (page, drifted(page, language), without_widgets, page)]
    assert statuses == ["new", "unchanged", "unchanged", "unchanged"]
    assert seen.alerts() == []
    [snapshot] = seen.store.snapshots("article")
    assert "Related" in snapshot.metadata["chrome"] or ":" in snapshot.metadata["chrome"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_real_edit_next_to_drifting_widgets_alerts_with_its_sentence_only(watch, language):
    page = help_article(language)
    old, new, quoted = REWORDS[language]
    seen = watch("article", select="article")
    seen.check(page)
    assert seen.check(drifted(page, language).replace(old, new)) == "changed"
    [text] = seen.alert_texts()
    assert quoted in text
    for chrome in CHROME_WORDS[language]:
        assert chrome not in text


def test_a_teaser_list_marked_by_reading_times_alone_is_chrome_unless_the_user_selects_it(
    watch,
):
    page = help_article("en").replace("<h3>Related articles</h3>", "")
    seen = watch("article", select="article")
    seen.check(page)
    assert seen.check(drifted(page, "en", skip=1)) == "unchanged"
    assert seen.alerts() == []
    related = watch("related", select=".article-relatives")
    related.check(page)
    assert related.check(drifted(page, "en", skip=1)) == "changed"
    [text] = related.alert_texts()
    assert "Selling fees explained" in text


# --------------------------------------------------------------------------- links

# The returns-policy form moved (a new path and locale segment); the words around it did not.
FORM_MOVES = {
    "en": ("/en-gb/forms/returns-policy", "/en/seller-forms/returns"),
    "fr": ("/fr/formulaires/politique-retour", "/fr-fr/formulaires/retours-v2"),
    "de": ("/de/formulare/ruecknahme", "/de-de/formulare/ruecknahme-neu"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_link_that_now_leads_elsewhere_under_the_same_words_is_shown_but_never_alerts(
    watch, capsys, language
):
    old, new = FORM_MOVES[language]
    page = help_article(language)
    seen = watch("article", select="article")
    seen.check(page)
    assert seen.check(page.replace(old, new)) == "changed"
    assert seen.alerts() == []
    shown = seen.cli(capsys, "diff", "article", "--no-color")
    assert f"link changed: https://help.example-market.com{old} -> " in shown
    assert f"https://help.example-market.com{new}" in shown


def test_a_punctuation_fix_in_the_sentence_whose_link_moved_is_still_only_a_link_change(
    watch, capsys
):
    old, new = FORM_MOVES["en"]
    page = help_article("en")
    seen = watch("article", select="article")
    seen.check(page)
    edited = page.replace(old, new).replace("and save your settings.", "and save your settings!")
    edited = edited.replace(
        "the returns policy form</a>", "the \u201creturns policy\u201d form</a>"
    )
    assert seen.check(edited) == "changed"
    assert seen.alerts() == []
    assert "link changed" in seen.cli(
        capsys, "diff", "article", "--no-color", "--format", "markdown"
    )


def test_a_route_or_rule_that_opts_in_to_links_is_told_when_only_a_link_moved(watch):
    old, new = FORM_MOVES["de"]
    page = help_article("de")
    routes = [INBOX, {**INBOX, "name": "links-desk", "url": "json://127.0.0.1:9/links"}]
    routes[1]["links"] = "alert"
    by_route = watch("article", select="article", notify=routes)
    by_route.check(page)
    by_route.check(page.replace(old, new))
    assert [a["route"] for a in by_route.alerts()] == ["links-desk"]
    rule = {"name": "returns-form", "terms": ["Rücknahmebedingungen"], "severity": "major"}
    by_rule = watch("ruled", select="article", rules=[{**rule, "links": "alert"}])
    by_rule.check(page)
    by_rule.check(page.replace(old, new))
    [alert] = by_rule.alerts()
    assert (alert["route"], alert["severity"]) == ("seller-inbox", "major")


def test_a_mistyped_links_setting_names_the_line(tmp_path):
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "pages:\n  - id: a\n    url: https://example.com/a\n"
        "notify:\n  - url: json://127.0.0.1:9/\n    links: alarm\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert (caught.value.line, caught.value.key) == (6, "notify[0].links")
    assert "unknown links 'alarm'" in str(caught.value)


# --------------------------------------------------------------------------- enumerators


def renumbered(html: str) -> str:
    """The contract after a CMS migration: the <ol> becomes "1." paragraphs, "(a)" becomes
    "a." and the headings lose their numbers."""
    html = html.replace("<ol>\n    <li>", "<p>1. ", 1).replace("</li>\n    <li>", "</p>\n<p>2. ", 1)
    html = html.replace("</li>\n  </ol>", "</p>", 1)
    html = re.sub(r"<h2>\d+\. ", "<h2>", html)
    return html.replace("<p>(a) ", "<p>a. ").replace("<p>(b) ", "<p>b. ")


def swapped_clauses(html: str) -> str:
    """The renumbered contract with its two enrolment clauses in the other order."""
    first, second = re.findall(r"<p>\d\. (.*?)</p>", html)[:2]
    return html.replace(
        f"<p>1. {first}</p>\n<p>2. {second}</p>", f"<p>1. {second}</p>\n<p>2. {first}</p>"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_list_numbering_moving_between_markup_and_text_is_recorded_but_never_alerts(
    watch, capsys, language
):
    page = contract(language)
    seen = watch("contract", select="#legal-document")
    seen.check(page)
    assert seen.check(renumbered(page)) == "changed"
    assert seen.check(page) == "changed"  # and back again
    assert seen.alerts() == []
    shown = seen.cli(capsys, "diff", "contract", "--no-color")
    assert "No changes (7 cosmetic change(s) not shown)." in shown.splitlines()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_clause_that_really_moved_is_still_a_move_after_renumbering(watch, capsys, language):
    page = renumbered(contract(language))
    seen = watch("contract", select="#legal-document")
    seen.check(page)
    assert seen.check(swapped_clauses(page)) == "changed"
    [alert] = seen.alerts()
    assert alert["severity"] == "minor"  # a move, not a changed number: "2." -> "1." is no amount
    shown = seen.cli(capsys, "diff", "contract", "--no-color")
    assert shown.count("[moved]") == 2 and "[number]" not in shown


# --------------------------------------------------------------------------- punctuation


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_heading_retyped_in_capitals_with_a_full_stop_is_still_its_section(watch, language):
    """The refunds heading is restyled ("REFUNDS.") in the version that changes its sentence:
    the seller is told about the sentence, not about a section removed and another added."""
    page = help_article(language)
    heading = re.search(r"<h2>([^<]*)</h2>\s*<p>[^<]*(?:Refund|Rembours|Erstatt)", page)[1]
    old, new, quoted = REFUND_EDITS[language]
    seen = watch("article", select="article")
    seen.check(page)
    edited = page.replace(f"<h2>{heading}</h2>", f"<h2>{heading.upper()}.</h2>").replace(old, new)
    assert seen.check(edited) == "changed"
    [text] = seen.alert_texts()
    assert quoted in text and "section removed" not in text and "section added" not in text


REFUND_EDITS = {
    "en": ("original postage when", "original postage and return postage when", "return postage"),
    "fr": ("frais de port initiaux", "frais de port initiaux et de retour", "et de retour"),
    "de": (
        "ursprünglichen Versandkosten",
        "ursprünglichen Versand- und Rücksendekosten",
        "Rücksendekosten",
    ),
}


# --------------------------------------------------------------------------- the page's own date

# (date line before, date line after, what the seller reads, as the page wrote it)
DATED = {
    "en": (
        "Last updated: March 16, 2023",
        "Last updated: July 3, 2023",
        "Last updated: July 3, 2023 (was March 16, 2023)",
    ),
    "fr": (
        "Dernière mise à jour&nbsp;: 3 mars 2025",
        "Dernière mise à jour&nbsp;: 14 avr. 2025",
        "Dernière mise à jour : 14 avr. 2025 (was 3 mars 2025)",
    ),
    "de": (
        "Zuletzt aktualisiert am 3. März 2025",
        "Zuletzt aktualisiert am 14. Apr. 2025",
        "Zuletzt aktualisiert am 14. Apr. 2025 (was 3. März 2025)",
    ),
}


STATED_DATES = {
    "en": ("March 16, 2023", "July 3, 2023"),
    "fr": ("3 mars 2025", "14 avr. 2025"),
    "de": ("3. März 2025", "14. Apr. 2025"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_alert_every_diff_format_and_history_show_the_pages_own_date_old_and_new(
    watch, capsys, language
):
    before, after, quoted = DATED[language]
    old, new, _ = REWORDS[language]
    page = help_article(language)
    seen = watch("article", select="article")
    seen.check(page)
    assert seen.check(page.replace(old, new).replace(before, after)) == "changed"
    [alert] = {a["key"]: a for a in seen.alerts()}.values()
    shown = Alert.from_payload(alert["payload"])
    assert quoted in shown.text and quoted in shown.html
    assert markdown_escape(quoted) in shown.markdown
    for fmt in ("text", "markdown", "html"):
        out = seen.cli(capsys, "diff", "article", "--no-color", "--format", fmt)
        assert (html.escape(quoted) if fmt == "html" else quoted) in out
    as_json = json.loads(seen.cli(capsys, "diff", "article", "--format", "json"))
    assert as_json["meta"]["page_date"] == quoted
    history = seen.cli(capsys, "history", "article")
    old_date, new_date = STATED_DATES[language]
    assert old_date in history and new_date in history
    dates = [
        s["page_date"]
        for s in json.loads(seen.cli(capsys, "history", "article", "--format", "json"))["snapshots"]
    ]
    assert dates == [new_date, old_date]  # newest first


def test_history_says_when_only_the_date_moved_since_the_latest_version(watch, capsys):
    before, after, quoted = DATED["en"]
    page = help_article("en")
    seen = watch("article", select="article")
    seen.check(page)
    seen.server.route(seen.path, steady(page.replace(before, after)))
    checked = seen.cli(capsys, "check", "--no-deliver")
    assert f"unchanged (date bumped): {quoted}" in checked
    assert len(seen.store.snapshots("article")) == 1 and seen.alerts() == []
    history = seen.cli(capsys, "history", "article").splitlines()
    assert f"date bumped since, no new wording: {quoted}" in history
    assert any(line.endswith(f"  {quoted}") for line in history)


# --------------------------------------------------------------------------- fidelity

# A version of a history: its page, and the words an alert about it must quote (none: noise).
Version = tuple[str, tuple[str, ...]]
_MARKS = re.compile(r"\[-|-\]|\{\+|\+\}")


def help_history(language: str) -> list[Version]:
    """A help-centre article: widgets drift, its date moves, a form moves, one real edit."""
    page = help_article(language)
    before, after, _ = DATED[language]
    old, new, quoted = REWORDS[language]
    form_old, form_new = FORM_MOVES[language]
    bumped = page.replace(before, after)
    edited = drifted(bumped.replace(form_old, form_new), language).replace(old, new)
    return [
        (page, ()),
        (drifted(page, language), ()),
        (bumped, ()),
        (bumped.replace(form_old, form_new), ()),
        (edited, (new, quoted)),
        (edited.replace("’", "'").replace('role="button">', 'role="button">&nbsp;'), ()),
    ]


CONTRACT_EDITS = {
    "en": ("due within 7 days", "due within 14 days"),
    "fr": ("exigibles dans les 7 jours", "exigibles dans les 14 jours"),
    "de": ("innerhalb von 7 Tagen", "innerhalb von 14 Tagen"),
}
FOOTER_DATES = {
    "en": ("Last updated on Oct 20, 2022", "Last updated on November 2nd, 2022"),
    "fr": ("Dernière mise à jour : 1er mars 2025", "Dernière mise à jour : 2 juin 2025"),
    "de": ("Stand: 3. März 2025", "Stand: 2. Juni 2025"),
}


def contract_history(language: str) -> list[Version]:
    """A legal page with a dated footer: renumbered by a CMS move and back, one real edit."""
    page = contract(language)
    old, new = CONTRACT_EDITS[language]
    before, after = FOOTER_DATES[language]
    edited = renumbered(page).replace(old, new).replace(before, after)
    return [
        (page, ()),
        (renumbered(page), ()),
        (renumbered(page).replace(before, after), ()),
        (page.replace(before, after), ()),
        (edited, (new,)),
        (edited.replace("'", "’"), ()),
    ]


def replay(seen: Watch, history: list[Version]) -> tuple[int, int, list[str]]:
    """(real changes alerted with their words, alerts, what went wrong) over one history."""
    alerted, total, wrong = 0, 0, []
    for k, (page, quoted) in enumerate(history):
        before = len(seen.alert_texts())
        seen.check(page)
        texts = [_MARKS.sub("", text) for text in seen.alert_texts()[before:]]
        total += len(texts)
        if not quoted and texts:
            wrong.append(f"{seen.page_id} v{k}: noise alerted: {texts[0][:400]}")
        elif quoted and not any(all(q in text for q in quoted) for text in texts):
            wrong.append(f"{seen.page_id} v{k}: {quoted} not alerted: {texts}")
        elif quoted:
            alerted += 1
    return alerted, total, wrong


@pytest.mark.realpages
def test_every_real_change_alerts_with_its_words_and_no_noise_version_alerts(real_pages, watch):
    """Real Seller Central history (each version also refetched with French chrome and fresh
    ids) and help-centre and legal histories in three languages: precision and recall 1."""
    histories: list[tuple[Watch, list[Version]]] = []
    for language in LANGUAGES:
        histories.append((watch(f"help-{language}", select="article"), help_history(language)))
        histories.append(
            (watch(f"legal-{language}", select="#legal-document"), contract_history(language))
        )
    for slug, expected in sorted(EXPECTED.items()):
        history = realcorpus.versions(real_pages, slug)
        versions: list[Version] = []
        for version in history:
            excerpt = realcorpus.excerpt_for(version, history)
            words = tuple(w for _, w, _ in expected.get(version.name, []))
            versions += [
                (realcorpus.serve(excerpt, chrome="en", year=2023), words),
                (realcorpus.serve(excerpt, chrome="fr", year=2024), ()),
            ]
        histories.append((watch(slug, profile="seller-central"), versions))
    alerted = total = 0
    wrong: list[str] = []
    for seen, versions in histories:
        hit, count, bad = replay(seen, versions)
        alerted, total, wrong = alerted + hit, total + count, wrong + bad
    real = sum(1 for _, versions in histories for _, quoted in versions if quoted)
    print(
        f"\nfidelity: precision {alerted}/{total} (real changes alerted / all alerts), "
        f"recall {alerted}/{real}"
    )
    assert wrong == []
    assert alerted == total == real
