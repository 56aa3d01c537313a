"""The labelled effective-date sentences and how an extractor scores on them.

Shared by tests/test_effective.py (every case must hold) and bench/bench_effective.py
(prints precision and recall next to the timings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

LABELS = Path(__file__).resolve().parent / "fixtures" / "effective_dates.yaml"


@dataclass(frozen=True)
class Case:
    lang: str
    text: str
    captured: date
    page_date: date | None
    expected: frozenset[str]  # ISO dates and "P14" for a 14-day period


def cases(path: Path = LABELS) -> list[Case]:
    """The cases of a labelled file: the asserted set by default, or a held-out one to measure."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    captured = date.fromisoformat(data["captured"])
    return [
        Case(
            lang=case["lang"],
            text=case["text"],
            captured=date.fromisoformat(case.get("captured", data["captured"]))
            if "captured" in case
            else captured,
            page_date=date.fromisoformat(case["page_date"]) if "page_date" in case else None,
            expected=frozenset(
                [*case.get("expect", []), *(f"P{days}" for days in case.get("periods", []))]
            ),
        )
        for case in data["cases"]
    ]


Extractor = Callable[[Case], set[str]]


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    wrong: tuple[tuple[Case, frozenset[str]], ...]  # each case with what was found instead

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def score(extract: Extractor, labelled: list[Case]) -> Score:
    tp = fp = fn = 0
    wrong = []
    for case in labelled:
        found = frozenset(extract(case))
        tp += len(found & case.expected)
        fp += len(found - case.expected)
        fn += len(case.expected - found)
        if found != case.expected:
            wrong.append((case, found))
    return Score(tp, fp, fn, tuple(wrong))
