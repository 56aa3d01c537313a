"""How well and how fast policywatch finds effective dates, next to the alternatives.

Contenders, timed interleaved in one run over the same sentences (the labelled set in
tests/fixtures/effective_dates.yaml plus every paragraph of the real Seller Central corpus,
which is policy prose with almost no governing dates, the common case):

- regex only: the trigger prefilter and the date-span pattern, no date parsing at all (the
  floor: what a hand-written month table would cost at best);
- policywatch: the same pass, then dateparser's DateDataParser on the short spans only;
- search_dates (prefiltered): dateparser's own search over each candidate sentence;
- search_dates (every sentence): the same without the prefilter.

Precision and recall are over the labelled set (the test asserts every case; these are the
figures for the report).

    python bench/bench_effective.py [--repeat 5] [--set PATH] [--score-only]

--set scores another labelled file in the same format (the held-out set
tests/fixtures/effective_dates_heldout.yaml, written without reading the extractor, is the
honest figure); --score-only skips the timings and lists each sentence the extractor got wrong.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dateparser.search import search_dates  # noqa: E402

from policywatch.document.effective import (  # noqa: E402
    _DATE_RE,
    _TRIGGER_RE,
    Anchor,
    find_in_sentence,
    is_candidate,
)
from policywatch.document.languages import language_code  # noqa: E402
from policywatch.document.segment import split_sentences  # noqa: E402
from tests.effective_labels import LABELS, Case, Score, cases, score  # noqa: E402

Sentence = tuple[str, str]  # (language, text)


def corpus_sentences() -> list[Sentence]:
    """Every sentence of every real page version: what a poll mostly reads."""
    folder = Path(os.environ.get("POLICYWATCH_REAL_PAGES", "/work/shared/real-pages"))
    found: list[Sentence] = []
    for path in sorted(folder.glob("*/*.md")):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            found += [("en", s) for s in split_sentences(paragraph.strip(), "en") if s]
    return found


def anchor(case: Case) -> Anchor:
    return Anchor(case.captured, case.page_date, case.lang)


def policywatch(case: Case) -> set[str]:
    return {
        f.on.isoformat() if f.on else f"P{f.days}"
        for f in find_in_sentence(case.text, anchor(case))
    }


def dateparser_search(case: Case) -> set[str]:
    """search_dates as a whole extractor: every date it finds in a candidate sentence."""
    if not is_candidate(case.text):
        return set()
    base = datetime.combine(case.page_date or case.captured, datetime.min.time())
    found = search_dates(
        case.text,
        languages=[language_code(case.lang)],
        settings={"RELATIVE_BASE": base, "PREFER_DAY_OF_MONTH": "first"},
    )
    return {d.date().isoformat() for _, d in found or () if d.date() >= case.captured}


def regex_only(language: str, text: str) -> object:
    if not is_candidate(text):
        return None
    return [m.group() for m in _DATE_RE.finditer(text)], _TRIGGER_RE.findall(text)


def timed(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--set", type=Path, default=LABELS, help="labelled YAML file to score")
    parser.add_argument("--score-only", action="store_true", help="skip the timings")
    args = parser.parse_args()
    labelled = cases(args.set)
    if args.score_only:
        report_scores(labelled)
        return
    texts = [(c.lang, c.text) for c in labelled] + corpus_sentences()
    by_text = {(c.lang, c.text): c for c in labelled}

    def as_case(language: str, text: str) -> Case:
        return by_text.get((language, text)) or Case(
            language, text, labelled[0].captured, None, frozenset()
        )

    contenders: dict[str, Callable[[], object]] = {
        "regex only (floor)": lambda: [regex_only(lang, t) for lang, t in texts],
        "policywatch (regex + DateDataParser on spans)": lambda: [
            policywatch(as_case(lang, t)) for lang, t in texts
        ],
        "search_dates (prefiltered)": lambda: [
            dateparser_search(as_case(lang, t)) for lang, t in texts
        ],
        "search_dates (every sentence)": lambda: [
            search_dates(t, languages=[language_code(lang)]) for lang, t in texts
        ],
    }
    for fn in contenders.values():  # warm-up: locale data loads once per language
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, fn in contenders.items():
            times[name].append(timed(fn, 1))
    floor = statistics.median(times["regex only (floor)"])
    candidates = sum(1 for lang, t in texts if is_candidate(t))
    print(f"{len(texts)} sentences ({len(labelled)} labelled, {candidates} candidates)")
    for name, samples in times.items():
        median = statistics.median(samples)
        per = median / len(texts) * 1e6
        print(
            f"  {name:48s} {median * 1000:8.1f} ms  {per:7.1f} µs/sentence  {median / floor:6.1f}x"
        )
    for name, extract in (("policywatch", policywatch), ("search_dates", dateparser_search)):
        print(f"{name}: {summary(score(extract, labelled))}")


def summary(result: Score) -> str:
    return (
        f"precision {result.precision:.3f} recall {result.recall:.3f} "
        f"({result.true_positives} right, {result.false_positives} wrong, "
        f"{result.false_negatives} missed, {len(result.wrong)} sentences off)"
    )


def report_scores(labelled: list[Case]) -> None:
    """Overall and per-language figures, then every sentence off: what a fix should look at."""
    result = score(policywatch, labelled)
    print(f"{len(labelled)} labelled sentences: {summary(result)}")
    for language in sorted({c.lang for c in labelled}):
        subset = [c for c in labelled if c.lang == language]
        print(f"  {language}: {summary(score(policywatch, subset))}")
    for case, found in result.wrong:
        print(
            f"  OFF [{case.lang}] expected {sorted(case.expected)} "
            f"found {sorted(found)}: {case.text}"
        )


if __name__ == "__main__":
    main()
