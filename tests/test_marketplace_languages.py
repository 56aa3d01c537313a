"""A seller watching amazon.de, .fr, .es, .it and .co.jp reads each page in its own language.

Each story: the page is stored, then Amazon turns a permission into a prohibition and adds a
sentence with watched wording; `policywatch diff` must tag the flip and raise the built-in
rule of that language, as it does for an English page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.pageserver import fixture
from tests.seller import CONDUCT, QUICK, REWORDED, Seller, pages_at

STORIES = {
    "de": (
        "lang/kontakt-de.html",
        (
            "Sie dürfen Käufer kontaktieren, wenn",
            "Sie dürfen Käufer nicht kontaktieren, außer wenn",
        ),
        (
            "außerhalb von Amazon enthalten.",
            "außerhalb von Amazon enthalten. Sie dürfen keine unaufgeforderten Nachrichten an "
            "Käufer senden.",
        ),
        "unaufgefordert*",
    ),
    "fr": (
        "lang/contact-fr.html",
        (
            "Vous pouvez contacter les acheteurs lorsque",
            "Vous ne pouvez pas contacter les acheteurs, sauf lorsque",
        ),
        (
            "en dehors d’Amazon.",
            "en dehors d’Amazon. Les messages non sollicités sont interdits.",
        ),
        "non sollicité*",
    ),
    "es": (
        "lang/contacto-es.html",
        (
            "Puede ponerse en contacto con los compradores cuando",
            "No puede ponerse en contacto con los compradores, salvo cuando",
        ),
        (
            "fuera de Amazon.",
            "fuera de Amazon. Está prohibido enviar mensajes no solicitados.",
        ),
        "no solicitado*",
    ),
    "it": (
        "lang/contatto-it.html",
        (
            "Puoi contattare gli acquirenti quando",
            "Non puoi contattare gli acquirenti, salvo quando",
        ),
        (
            "al di fuori di Amazon.",
            "al di fuori di Amazon. È vietato inviare messaggi non richiesti.",
        ),
        "non richiest*",
    ),
    "ja": (
        "lang/renraku-ja.html",
        (
            "注文の処理に必要な場合は、購入者に連絡することができます。",
            "注文の処理に必要な場合を除き、購入者に連絡することはできません。",
        ),
        (
            "含めることはできません。",
            "含めることはできません。未承諾のメッセージを送信することは禁止されています。",
        ),
        "未承諾",
    ),
}


def watching_with_built_in_rules(tmp_path: Path, url: str) -> Seller:
    """A watchlist without a `rules:` section: the built-in rules, every language's."""
    path = tmp_path / "watchlist.yaml"
    config = {"defaults": dict(QUICK), "pages": pages_at({"policy": url})}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return Seller(tmp_path, path)


@pytest.mark.parametrize("language", sorted(STORIES))
def test_a_flip_and_a_watched_term_in_the_marketplace_language_are_tagged_and_critical(
    language: str, tmp_path, pageserver, capsys
):
    name, flip, addition, term = STORIES[language]
    before = fixture(name)
    after = before.replace(*flip).replace(*addition)
    assert after.count(flip[1]) == 1 and after.count(addition[1]) == 1  # the edits landed
    pageserver.route("/policy", before)
    seller = watching_with_built_in_rules(tmp_path, pageserver.url("/policy"))
    seller(capsys, "check")
    pageserver.route("/policy", after)
    seller(capsys, "check")

    diff = seller.json(capsys, "diff", "policy")

    changes = diff["changes"]
    [reworded] = [c for c in changes if c["kind"] == "modified"]
    assert flip[1] in reworded["new"] and "obligation" in reworded["tags"]
    watched = [m for c in changes for m in c["matches"] if m["rule"] == "buyer-messaging"]
    assert {(m["term"], m["severity"], m["side"]) for m in watched} >= {(term, "critical", "new")}
    assert diff["summary"]["severity"] == "critical"


# --------------------------------------------------------------------------- translation lag


def two_language_seller(tmp_path: Path) -> Seller:
    """The Code of Conduct watched on amazon.de in English and in German (`locale: [...]`)."""
    entry = {"id": "conduct", "url": "http://127.0.0.1:9/G1801", "locale": ["en-GB", "de-DE"]}
    [page] = pages_at({"conduct": entry["url"]})
    path = tmp_path / "watchlist.yaml"
    config = {"defaults": dict(QUICK), "pages": [{**page, **entry}]}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return Seller(tmp_path, path)


def stored(seller: Seller, capsys, watch: str, html: str, at: str) -> None:
    """A version of `watch` first seen on `at`, as `policywatch import` records it."""
    path = seller.config.parent / f"{watch}-{at}.html"
    path.write_text(html, encoding="utf-8")
    code, _, err = seller(capsys, "import", watch, str(path), "--at", at)
    assert code == 0, err


def english_reworded_on_5_march(tmp_path: Path, capsys) -> Seller:
    """Both languages stored on 2 November 2025, then the English page reworded on 5 March."""
    seller = two_language_seller(tmp_path)
    stored(seller, capsys, "conduct@en-GB", CONDUCT, "2025-11-02")
    stored(seller, capsys, "conduct@de-DE", fixture("lang/kontakt-de.html"), "2025-11-02")
    stored(seller, capsys, "conduct@en-GB", REWORDED, "2026-03-05")
    return seller


def test_compare_reports_the_german_page_that_never_followed_the_english_change(tmp_path, capsys):
    seller = english_reworded_on_5_march(tmp_path, capsys)

    compared = seller.json(capsys, "compare", "conduct", "en-GB", "de-DE")
    code, out, _ = seller(capsys, "compare", "conduct", "de-de", "en-gb")

    assert compared["meta"]["translation_lag"] == (
        "English changed on 2026-03-05; German unchanged since 2025-11-02"
    )
    assert code == 0
    assert "English changed on 2026-03-05; German unchanged since 2025-11-02" in out


def test_a_translation_that_followed_within_the_grace_days_is_no_lag(tmp_path, capsys):
    seller = english_reworded_on_5_march(tmp_path, capsys)
    german = fixture("lang/kontakt-de.html")
    stored(
        seller, capsys, "conduct@de-DE", german.replace("48 Stunden", "24 Stunden"), "2026-03-16"
    )

    within = seller.json(capsys, "compare", "conduct", "en-GB", "de-DE", "--lag-days", "14")
    beyond = seller.json(capsys, "compare", "conduct", "en-GB", "de-DE", "--lag-days", "7")

    assert "translation_lag" not in within["meta"]
    assert beyond["meta"]["translation_lag"] == (
        "German changed on 2026-03-16; English unchanged since 2026-03-05"
    )
