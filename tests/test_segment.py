"""Sentences in the page's own language: abbreviations, ordinals and references stay whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from policywatch.content import Document
from policywatch.diff.compare import diff_documents
from policywatch.document.segment import split_sentences
from tests.diff_support import document

LABELLED = Path(__file__).parent / "fixtures" / "sentences"


def labelled(language: str) -> list[list[str]]:
    text = (LABELLED / f"{language}.txt").read_text(encoding="utf-8")
    return [paragraph.splitlines() for paragraph in text.strip().split("\n\n")]


@pytest.mark.parametrize("language", sorted(p.stem for p in LABELLED.glob("*.txt")))
def test_every_labelled_sentence_comes_back_whole_in_its_language(language: str):
    for sentences in labelled(language):
        joined = ("" if language == "ja" else " ").join(sentences)
        assert split_sentences(joined, language) == sentences


def test_a_german_paragraph_with_z_b_bzw_nr_and_a_date_is_three_sentences():
    text = (
        "Sie dürfen Käufer z. B. zur Klärung einer Lieferung kontaktieren. Ab dem 1. März "
        "gilt Nr. 4 der Richtlinie bzw. deren Anhang. Werbung ist nicht gestattet."
    )
    assert split_sentences(text, "de-DE") == [
        "Sie dürfen Käufer z. B. zur Klärung einer Lieferung kontaktieren.",
        "Ab dem 1. März gilt Nr. 4 der Richtlinie bzw. deren Anhang.",
        "Werbung ist nicht gestattet.",
    ]


def test_a_french_reference_inside_brackets_does_not_end_the_sentence():
    text = "Les messages sont limités (cf. art. 3. Les exceptions suivent) aux commandes. Merci."
    assert split_sentences(text, "fr") == [
        "Les messages sont limités (cf. art. 3. Les exceptions suivent) aux commandes.",
        "Merci.",
    ]


def test_a_japanese_page_declared_by_html_lang_is_diffed_sentence_by_sentence():
    def page(first: str) -> Document:
        outline = {"規約": [f"{first}注文を処理してください。"]}
        return replace(document(outline), metadata={"language": "ja"})

    result = diff_documents(
        page("購入者に連絡できます。"),
        page("購入者に連絡できません。"),
        page_id="p",
        old_id="a",
        new_id="b",
    )
    assert [(c.old, c.new) for c in result.changes] == [
        ("購入者に連絡できます。", "購入者に連絡できません。")
    ]
