"""Obligations, numbers and watched terms read in the page's own language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policywatch.diff import diff_documents
from policywatch.models import Change, Document
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
