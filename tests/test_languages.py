"""Obligations, numbers and watched terms read in the page's own language."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from policywatch.content import Document
from policywatch.diff.compare import diff_documents
from policywatch.document.languages import page_language
from policywatch.document.normalize import ascii_runs
from policywatch.errors import ConfigError
from policywatch.models import Change, Rule
from policywatch.watchlist.load import load_config
from policywatch.watchlist.rules import DEFAULT_RULES
from tests.diff_support import document


def page(language: str, text: str) -> Document:
    return replace(document({"Policy": [text]}), metadata={"language": language})


def change(language: str, before: str, after: str) -> Change:
    result = diff_documents(
        page(language, before), page(language, after), page_id="p", old_id="a", new_id="b"
    )
    [only] = result.changes
    return only


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        ("de-DE", "Sie dürfen Käufer kontaktieren.", "Sie dürfen Käufer nicht kontaktieren."),
        ("de", "Gutscheine sind erlaubt.", "Gutscheine sind untersagt."),
        (
            "fr-FR",
            "Vous pouvez contacter les acheteurs.",
            "Vous ne pouvez pas contacter les acheteurs.",
        ),
        (
            "es-ES",
            "Puede contactar con los compradores.",
            "No puede contactar con los compradores.",
        ),
        ("it-IT", "Puoi contattare gli acquirenti.", "Non puoi contattare gli acquirenti."),
        ("nl-NL", "U mag kopers benaderen.", "U mag kopers niet benaderen."),
        (
            "pl-PL",
            "Możesz kontaktować się z kupującymi.",
            "Nie możesz kontaktować się z kupującymi.",
        ),
        ("sv-SE", "Du får kontakta köpare.", "Du får inte kontakta köpare."),
        ("ja-JP", "購入者に連絡することができます。", "購入者に連絡することはできません。"),
        ("ar-SA", "يمكنك التواصل مع المشترين.", "لا يمكنك التواصل مع المشترين."),
    ],
)
def test_permission_turned_prohibition_is_an_obligation_flip_in_the_pages_language(
    language: str, before: str, after: str
):
    assert "obligation" in change(language, before, after).tags


def test_a_german_prohibition_said_more_strongly_is_no_obligation_flip():
    edit = change(
        "de", "Sie dürfen Käufer nicht kontaktieren.", "Sie dürfen Käufer keinesfalls kontaktieren."
    )
    assert edit.substantive and "obligation" not in edit.tags


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        ("de", "Antworten Sie innerhalb von 30 Tagen.", "Antworten Sie innerhalb von 30 Wochen."),
        ("fr", "Remboursement sous 14 jours.", "Remboursement sous 14 jours ouvrables."),
        ("es", "Responda en un plazo de 24 horas.", "Responda en un plazo de 24 días."),
        ("ja", "30日間以内に返信してください。", "14日間以内に返信してください。"),
    ],
)
def test_local_amounts_and_periods_are_number_changes(language: str, before: str, after: str):
    assert "number" in change(language, before, after).tags


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        ("de", "Die Gebühr beträgt 1.000,50 €.", "Die Gebühr beträgt 1 000,50 €, wie bisher."),
        ("de", "Die Gebühr beträgt 1.000,50 € im Jahr.", "Die Gebühr beträgt 1000,50 € jährlich."),
        ("ja", "３０日間以内に返信してください。", "30日間以内に必ず返信してください。"),
    ],
)
def test_the_same_amount_or_period_written_another_way_is_no_number_change(
    language: str, before: str, after: str
):
    assert "number" not in change(language, before, after).tags


# --------------------------------------------------------------------------- watched terms


def matches(language: str, before: str, after: str, rules=DEFAULT_RULES) -> set[tuple[str, str]]:
    result = diff_documents(
        page(language, before),
        page(language, after),
        page_id="p",
        old_id="a",
        new_id="b",
        rules=rules,
    )
    return {(m.rule, m.term) for c in result.changes for m in c.matches}


@pytest.mark.parametrize(
    ("language", "before", "after", "term"),
    [
        (
            "de-DE",
            "Sie dürfen Käufern Nachrichten senden.",
            "Sie dürfen keine unaufgeforderten Nachrichten senden.",
            "unaufgefordert*",
        ),
        (
            "fr-FR",
            "Les messages sont limités.",
            "Les messages non sollicités sont limités.",
            "non sollicité*",
        ),
        (
            "es-ES",
            "Los mensajes están limitados.",
            "Los mensajes no solicitados están prohibidos.",
            "no solicitado*",
        ),
        (
            "it-IT",
            "I messaggi sono limitati.",
            "I messaggi non richiesti sono vietati.",
            "non richiest*",
        ),
        (
            "ja-JP",
            "メッセージは制限されています。",
            "未承諾のメッセージは禁止されています。",
            "未承諾",
        ),
    ],
)
def test_the_built_in_rules_watch_the_wording_of_the_pages_own_language(
    language: str, before: str, after: str, term: str
):
    assert ("buyer-messaging", term) in matches(language, before, after)


def test_a_german_page_is_not_matched_against_the_english_terms():
    assert matches("de", "Wir prüfen das.", "Wir prüfen das Review.") == set()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # Without an umlaut the sample is ASCII, and its words are found another way.
        ("Sie muessen die Bewertungen der Kunden und ihre Nachrichten nicht loeschen.", "de"),
        ("Sie müssen die Bewertungen der Kunden und ihre Nachrichten nicht löschen.", "de"),
        ("You must not delete the reviews of your customers or their messages.", "en"),
        ("Vous ne devez pas supprimer les avis des clients ou leurs messages.", "fr"),
        ("お客様のレビューを削除しないでください。", "ja"),
    ],
)
def test_a_page_that_does_not_say_its_language_is_read_in_the_language_of_its_words(
    text: str, language: str
):
    undeclared = document({"Policy": [text]})
    assert page_language(undeclared, undeclared) == language


def test_the_words_a_language_is_guessed_from_are_the_letter_runs_whatever_lies_between():
    """The guess counts the same words in ASCII text, found by a byte table, as the regex."""
    for code in range(128):
        text = f"Sie{chr(code)}UND_die2der {chr(code)}Nicht{chr(code)}"
        assert ascii_runs(text, letters=True) == re.findall(r"[^\W\d_]+", text.casefold())


def load_rules(tmp_path: Path, rules: str) -> tuple[Rule, ...]:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "pages:\n  - id: a\n    url: https://example.com/a\nrules:\n" + textwrap.dedent(rules),
        encoding="utf-8",
    )
    return load_config(path, env={}).rules


def test_a_user_rule_can_be_written_once_per_language(tmp_path: Path):
    rules = load_rules(
        tmp_path,
        """\
        - name: returns
          terms: [refund window]
        - name: returns
          language: de-DE
          terms: [Rückgabefrist]
        - name: returns
          lang: ja
          terms: [返品期限]
        """,
    )
    assert [(r.name, r.language) for r in rules] == [
        ("returns", None),
        ("returns", "de-DE"),
        ("returns", "ja"),
    ]
    german = matches("de-DE", "Es gilt eine Frist.", "Es gilt eine Rückgabefrist.", rules)
    assert german == {("returns", "Rückgabefrist")}
    assert matches("fr", "Un délai.", "Un délai, Rückgabefrist.", rules) == set()


@pytest.mark.parametrize(
    ("rule", "line", "key", "message"),
    [
        (
            "- name: r\n  terms: [x]\n  language: german\n",
            7,
            "rules[0].language",
            "is not a locale",
        ),
        ("- name: r\n  terms: [x]\n  lang: 12\n", 7, "rules[0].lang", "is not a locale"),
        ("- name: r\n  terms: [x]\n  language: de\n  lang: de\n", 8, "rules[0].lang", "not both"),
        (
            "- name: r\n  terms: [x]\n  language: de\n- name: r\n  terms: [y]\n  lang: de\n",
            8,
            "rules[1]",
            "is used twice",
        ),
    ],
)
def test_a_rule_language_that_cannot_be_read_is_named_with_its_line(
    tmp_path: Path, rule: str, line: int, key: str, message: str
):
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path, rule)
    assert (caught.value.line, caught.value.key) == (line, key)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- several locales


def load_pages(tmp_path: Path, page: str) -> list[str]:
    path = tmp_path / "watchlist.yaml"
    path.write_text("pages:\n" + textwrap.dedent(page), encoding="utf-8")
    return [spec.id for spec in load_config(path, env={}).pages]


def test_a_page_watched_in_two_locales_is_one_watch_per_language(tmp_path: Path):
    ids = load_pages(
        tmp_path,
        """\
        - id: conduct
          url: https://sellercentral.amazon.de/help/hub/reference/external/G1801
          locale: [en-GB, de-de]
        - id: returns
          url: https://sellercentral.amazon.com/help/hub/reference/external/G2
          marketplaces: [DE, FR]
          locale: [en-GB, fr-FR]
        """,
    )
    assert ids == [
        "conduct@en-GB",
        "conduct@de-DE",
        "returns@DE.en-GB",
        "returns@FR.en-GB",
        "returns@DE.fr-FR",
        "returns@FR.fr-FR",
    ]


@pytest.mark.parametrize(
    ("locale", "line", "key", "message"),
    [
        ("[]", 4, "pages[0].locale", "lists no locale"),
        ("[en-GB, de-DE, en-gb]", 4, "pages[0].locale[2]", "listed twice"),
        ("[en-GB, deutsch]", 4, "pages[0].locale[1]", "is not a locale"),
    ],
)
def test_a_locale_list_that_cannot_be_read_is_named_with_its_line(
    tmp_path: Path, locale: str, line: int, key: str, message: str
):
    with pytest.raises(ConfigError) as caught:
        load_pages(
            tmp_path,
            f"- id: conduct\n  url: https://sellercentral.amazon.de/x\n  locale: {locale}\n",
        )
    assert (caught.value.line, caught.value.key) == (line, key)
    assert message in str(caught.value)
