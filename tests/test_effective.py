"""Effective dates: the days a policy's new wording governs, found the way a seller reads them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from policywatch.document.effective import (
    Anchor,
    EffectiveDate,
    anchor_for,
    describe,
    find_in_document,
    find_in_sentence,
)
from policywatch.document.extract import extract_document
from policywatch.models import PageSpec
from tests import realcorpus
from tests.effective_labels import Case, cases, score

FIXTURES = Path(__file__).parent / "fixtures"
LABELLED = cases()


def found(case: Case) -> set[str]:
    anchor = Anchor(case.captured, case.page_date, case.lang)
    return {f.on.isoformat() if f.on else f"P{f.days}" for f in find_in_sentence(case.text, anchor)}


@pytest.mark.parametrize("case", LABELLED, ids=[f"{c.lang}: {c.text[:50]}" for c in LABELLED])
def test_each_labelled_sentence_gives_its_governing_date_or_none(case: Case) -> None:
    assert found(case) == set(case.expected)


def test_the_labelled_set_is_big_enough_and_scores_full_precision_and_recall() -> None:
    languages = {c.lang for c in LABELLED}
    assert len(LABELLED) >= 60 and {"en", "fr", "de", "es", "it", "ja"} <= languages
    assert sum(1 for c in LABELLED if not c.expected) >= 20  # the tricky negatives
    result = score(found, LABELLED)
    assert (result.precision, result.recall) == (1.0, 1.0), result.wrong


def dates_in(sentence: str, language: str = "en") -> list[str]:
    """What a seller would see in the calendar for one sentence captured on 2025-01-15."""
    anchor = Anchor(date(2025, 1, 15), None, language)
    return [f.on.isoformat() for f in find_in_sentence(sentence, anchor) if f.on]


def test_an_obligation_by_a_date_is_a_deadline_but_a_date_merely_near_by_is_not() -> None:
    assert dates_in("Orders placed by December 18, 2025 arrive before Christmas.") == []
    example = "The parcel must arrive by the delivery date promised at checkout, May 9, 2025."
    assert dates_in(example) == []
    assert dates_in("Sellers must add a responsible person to each listing by May 5, 2025.") == [
        "2025-05-05"
    ]
    assert dates_in(
        "I venditori devono registrare il codice EPR entro il 15 luglio 2025.", "it"
    ) == ["2025-07-15"]
    assert dates_in("Les vendeurs devront valider leur compte avant le 3 juin 2025.", "fr") == [
        "2025-06-03"
    ]


def test_a_rule_that_applies_from_a_date_onwards_takes_effect_on_it() -> None:
    sentence = "From 6 October 2025 onwards, listings without a GPSR contact will be suppressed."
    assert dates_in(sentence) == ["2025-10-06"]


def test_a_german_notice_starting_ab_a_date_without_dem_takes_effect_on_it() -> None:
    assert dates_in("Ab 1. September 2025 werden Rücksendeetiketten kostenpflichtig.", "de") == [
        "2025-09-01"
    ]
    assert dates_in("Versandkosten ab 3,99 € am 1. September 2025 im Überblick.", "de") == []


def test_an_italian_change_that_avra_effetto_in_days_counts_from_the_capture() -> None:
    assert dates_in("La nuova tariffa avrà effetto tra 20 giorni.", "it") == ["2025-02-04"]


def test_a_window_to_comply_in_gives_both_ends_with_the_first_borrowing_the_year() -> None:
    sentence = "Sellers must renew their EPR registration between June 1 and June 30, 2025."
    assert dates_in(sentence) == ["2025-06-01", "2025-06-30"]
    assert dates_in("La nuova tariffa si applicherà dal 1 al 15 settembre 2025.", "it") == [
        "2025-09-01",
        "2025-09-15",
    ]
    assert dates_in("Big Deal Days run between October 7 and October 8, 2025.") == []


def test_a_day_without_its_year_right_after_a_trigger_is_the_next_such_day() -> None:
    assert dates_in("Beginning February 3, the storage fee will be billed weekly.") == [
        "2025-02-03"
    ]
    assert dates_in("À partir du 1er avril, les frais de retour seront facturés.", "fr") == [
        "2025-04-01"
    ]
    assert dates_in("Starting January 10, buyers can message sellers from the app.") == []


def test_the_bench_scores_the_held_out_set_given_with_set() -> None:
    held_out = FIXTURES / "effective_dates_heldout.yaml"
    run = subprocess.run(
        [sys.executable, "bench/bench_effective.py", "--score-only", "--set", str(held_out)],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"{len(cases(held_out))} labelled sentences: precision ")
    assert {"  ja:", "  de:", "  it:"} <= {line[:5] for line in run.stdout.splitlines()}


def test_a_relative_period_without_an_anchor_stays_a_period() -> None:
    (period,) = find_in_sentence(
        "These terms take effect within 14 days.", Anchor(date(2025, 1, 15))
    )
    assert (period.on, period.days) == (None, 14)
    assert describe(period, date(2025, 1, 15)) == (
        "Takes effect: within 14 days (no start date given)"
    )


def test_takes_effect_counts_days_from_the_viewers_today() -> None:
    when = EffectiveDate(date(2022, 12, 1), None, "December 1, 2022", "s")
    assert describe(when, date(2022, 10, 4)) == "Takes effect: 2022-12-01 (in 58 days)"
    assert describe(when, date(2022, 12, 1)) == "Takes effect: 2022-12-01 (today)"
    assert describe(when, date(2022, 12, 3)) == "Takes effect: 2022-12-01 (took effect 2 days ago)"


def notice_document():
    page = PageSpec(id="fees", url="https://sellercentral.example/help/fees")
    html = (FIXTURES / "effective-notice-en.html").read_text(encoding="utf-8")
    return extract_document(html, page, page.url)


def test_a_notice_page_gives_its_dates_with_their_sections_and_skips_unrelated_dates() -> None:
    document = notice_document()
    anchor = anchor_for(document.metadata, datetime(2025, 1, 15, 9, 0, tzinfo=UTC))
    assert anchor.page_date == date(2025, 1, 10)
    dates = find_in_document(document, anchor)
    assert [(d.on, d.section[-1]) for d in dates] == [
        (date(2025, 3, 1), "Referral fees for apparel"),
        # counted from the page's own "Last updated" date, not from the capture
        (date(2025, 2, 9), "Identity verification"),
    ]
    assert dates[0].sentence == "These changes will take effect on March 1, 2025."


def test_no_governing_date_is_taken_from_the_real_seller_central_history(real_pages: Path) -> None:
    taken = []
    for folder in sorted(p for p in real_pages.iterdir() if p.is_dir()):
        for version in realcorpus.versions(real_pages, folder.name):
            for paragraph in version.md.split("\n\n"):
                taken += find_in_sentence(paragraph, Anchor(date(2022, 1, 1), None, "en"))
    assert taken == []


def test_a_control_character_in_page_text_reaches_the_calendar_as_a_visible_escape() -> None:
    from icalendar import Calendar

    from policywatch.alerts.effective import Event
    from policywatch.views.calendar import calendar_ics

    sentence = "These changes take effect on 26 January 2027.\x1b[2J"
    event = Event(
        "fees", "Fees", None, "https://x.test/fees", date(2027, 1, 26), sentence, ("Fees",),
        "abc", "2026-11-29T08:00:00.000000Z",
    )  # fmt: skip
    (parsed,) = Calendar.from_ical(calendar_ics([event])).walk("VEVENT")
    assert "\x1b" not in str(parsed["description"])
    assert "2027.\\x1b[2J" in str(parsed["description"])
