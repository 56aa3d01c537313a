"""When a policy's wording takes effect: the dates that govern it, found in its sentences.

A change rarely bites on the day the page changes: "These changes will take effect on
December 1, 2022", "entreront en vigueur le 1er mars 2025", "30 days after this notice".
A seller needs that date, not the paragraph. Pure: text and an anchor in, dates out.

Design (measured in bench/bench_effective.py): a trigger-phrase regex picks the few
candidate sentences, the date spans are found with the page-date pattern of `dates`, and
only those short spans go to dateparser's `DateDataParser` in the page's language (its
`search_dates` over whole sentences was slower and split "1er mars 2025" into "mars" and
"2025"). A date before the capture is history, not a deadline; a period with no anchor
("within 14 days") stays a period and is never turned into a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from policywatch.content import Document
from policywatch.document.dates import DATE_PATTERN, DAY_PATTERN, MONTH_PATTERN, stated_date
from policywatch.document.languages import language_code
from policywatch.document.segment import splitter

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

# Phrases that say a date governs the policy, in the marketplace languages (normalised
# text: NFKC, one space). Each is matched on a word boundary, case-insensitively.
_TRIGGERS = (
    # English
    r"effective(?:\s+(?:date|from|on|as\s+of))?|take[sn]?\s+effect|taking\s+effect|took\s+effect|"
    r"go(?:es)?\s+into\s+effect|going\s+into\s+effect|come[s]?\s+into\s+(?:force|effect)|"
    r"in\s+force|appl(?:y|ies|icable)\s+(?:from|starting|beginning|as\s+of|on)|"
    r"(?:will|shall)\s+apply|starting(?:\s+(?:on|from))?|beginning(?:\s+on)?|as\s+of|no\s+later\s+than|onwards?|"
    # French
    r"entr(?:e|ent|era|eront)\s+en\s+vigueur|en\s+vigueur|prend(?:ra|ront|re)?\s+effet|prennent\s+effet|"
    r"[àa]\s+compter\s+du|[àa]\s+partir\s+du|d[èe]s\s+le|au\s+plus\s+tard\s+le|"
    r"s'appliquer(?:a|ont)|"
    # German
    r"in\s+kraft|inkrafttreten|wirksam|gilt\s+ab|gelten\s+ab|g[üu]ltig\s+ab|ab\s+dem|"
    r"mit\s+wirkung\s+(?:zum|ab|vom)|sp[äa]testens(?:\s+(?:am|bis))?|"
    # Spanish
    r"entr(?:a|an|ar[áa]|ar[áa]n)\s+en\s+vigor|en\s+vigor|surtir[áa]n?\s+efecto|"
    r"a\s+partir\s+del?|con\s+efecto\s+(?:desde|a\s+partir)|a\s+m[áa]s\s+tardar|"
    # Italian
    r"entr(?:a|ano|er[àa]|eranno)\s+in\s+vigore|in\s+vigore|a\s+partire\s+dal|"
    r"a\s+decorrere\s+dal|con\s+effetto\s+dal|(?:avr[àa]|avranno|ha|hanno|prender[àa]|prenderanno)\s+effetto|"
    r"efficac[ei]\s+dal|entro\s+e\s+non\s+oltre|"
    r"non\s+oltre\s+il|si\s+applic(?:a|ano|her[àa]|heranno)\s+dal|"
    # Portuguese, Dutch, Polish
    r"entra(?:r[áa])?\s+em\s+vigor|em\s+vigor|a\s+partir\s+de|"
    r"van\s+kracht|in\s+werking|ingaande|vanaf|uiterlijk\s+op|"
    r"wchodzi\s+w\s+[żz]ycie|obowi[ąa]zuje\s+od|obowi[ąa]zywa[ćc]\s+od|najp[óo][źz]niej\s+do"
)
_JA_TRIGGERS = r"施行|発効|適用|有効|開始|以降|から|より|までに"
_TRIGGER_RE = re.compile(
    rf"(?<![\w-])(?:{_TRIGGERS})(?![\w-])|{_JA_TRIGGERS}", re.IGNORECASE | re.UNICODE
)
# An obligation ("must ... by June 2", "devono ... entro il 30 giugno") makes a deadline of
# the date right after "by": only right after, so "must arrive by the estimated delivery
# date of March 7" (an example order) and "orders placed by December 18" stay no deadline.
_OBLIGATION_RE = re.compile(
    r"(?<!\w)(?:must|required\s+to|need\s+to|needs\s+to|have\s+to|has\s+to|"
    r"doit|doivent|devra|devront|muss|m[üu]ssen|debe|deben|deber[áa]n?|"
    r"deve|devono|dovr[àa]|dovranno)(?!\w)|必要があります",
    re.IGNORECASE,
)
_BY_RE = re.compile(
    r"(?<![\w-])(?:by|before|until|avant\s+le|bis(?:\s+zum)?|antes\s+del?|hasta\s+el|"
    r"entro\s+il|entro\s+l')\s*",
    re.IGNORECASE,
)
# "ab" alone is governing only right before its date ("Ab 1. Juli 2025 müssen ..."); further
# off it is a price ("ab 19,99 €") or a word of another language.
_AB_RE = re.compile(r"(?<![\w-])ab\s+", re.IGNORECASE)
# Bounded by Latin letters and digits only: Japanese runs a date into its words ("は2025年").
_DATE_RE = re.compile(rf"(?<![0-9A-Za-z/.-])(?:{DATE_PATTERN})(?![0-9A-Za-z/-])", re.IGNORECASE)
# A day and month without the year: "Starting March 1", "à partir du 1er mars". Read only
# right after a trigger, as the nearest such day on or after the page's date, and only when
# that is at most _YEARLESS_AHEAD days ahead (a notice names a farther date with its year).
_DAY_MONTH = rf"(?:{MONTH_PATTERN}\s+{DAY_PATTERN}|{DAY_PATTERN}(?:\s+de)?\s+{MONTH_PATTERN})"
_YEARLESS_RE = re.compile(
    rf"(?<![0-9A-Za-z/.-]){_DAY_MONTH}(?![0-9A-Za-z])(?!,?\s*(?:de\s+)?\d)", re.IGNORECASE
)
_YEARLESS_AHEAD = 183
# A window whose first end borrows the year (and month) of the second: "between March 1 and
# March 31, 2025", "dal 1° marzo al 31 marzo 2025", "entre el 1 y el 30 de abril de 2025".
_RANGE_RE = re.compile(
    rf"(?<!\w)(?:between|from|du|dal|vom|entre\s+el|del)\s+"
    rf"(?P<first>{_DAY_MONTH}|\d{{1,2}}(?:st|nd|rd|th|er|\.|º|°)?)\s+"
    rf"(?:and|to|through|au|al|bis(?:\s+zum)?|y\s+el|-|–)\s+(?P<second>{DATE_PATTERN})",
    re.IGNORECASE,
)
# A trigger this close to a date (characters between them) governs it; German and
# Japanese put the verb after the date ("am 1. März 2025 in Kraft", "3月1日から施行").
_NEAR = 45

_DAYS = r"(?:calendar\s+|business\s+|working\s+)?(?:days?|jours?|tage[n]?|d[íi]as|giorni|dagen|dni)"
_NUMBER = r"(?P<n>\d{1,3})"
# "in 15 days", "dans 15 jours", "in 15 Tagen", "en 15 días", "dentro de 15 días" (Spanish
# "dentro de" before a span of time is "at the end of it", not "within"), "tra 15 giorni":
# from now.
_IN_RE = re.compile(
    rf"(?<!\w)(?:in|dans|d'ici|en|dentro\s+de|tra|fra|em|za|over)\s+{_NUMBER}\s+{_DAYS}(?!\w)",
    re.IGNORECASE,
)
# "within 14 days", "sous 14 jours", "innerhalb von 14 Tagen", "en un plazo de 14 días",
# "entro 14 giorni", "14日以内": a period, a date only when anchored to the notice.
_WITHIN_RE = re.compile(
    rf"(?<!\w)(?:within|sous|dans\s+un\s+d[ée]lai\s+de|innerhalb(?:\s+von)?|binnen|"
    rf"en\s+un\s+plazo\s+de|entro|no\s+prazo\s+de|w\s+ci[ąa]gu)\s+{_NUMBER}\s+{_DAYS}"
    r"|(?P<ja_n>\d{1,3})\s*日以内",
    re.IGNORECASE,
)
# "30 days after this notice", "30 jours après cet avis", "30 Tage nach dieser Mitteilung".
_AFTER_RE = re.compile(
    rf"{_NUMBER}\s+{_DAYS}\s+(?:after|from|following|of|apr[èe]s|nach|despu[ée]s\s+de|"
    rf"dopo|ap[óo]s|na|po|a\s+compter\s+de|ab)\s+(?P<what>[^,.;]{{0,60}})"
    rf"|(?P<ja_what>本通知|この通知|本お知らせ|通知|告知|掲載)[^。]{{0,6}}?(?P<ja_n>\d{{1,3}})日後",
    re.IGNORECASE,
)
# What "after ..." must name for the period to start at the page itself, not at a buyer's
# order or delivery ("between 4 and 30 days after delivery" is no deadline).
_NOTICE_RE = re.compile(
    r"notice|notification|announcement|this\s+(?:e-?mail|message|update|page)|publication|"
    r"posting|avis|annonce|publication|mitteilung|benachrichtigung|ver[öo]ffentlichung|"
    r"ank[üu]ndigung|aviso|notificaci[óo]n|anuncio|publicaci[óo]n|avviso|comunicazione|"
    r"notifica|pubblicazione|kennisgeving|publicatie|powiadomienia|og[łl]oszenia|"
    r"notifica[çc][ãa]o|publica[çc][ãa]o",
    re.IGNORECASE,
)
# Ordinal marks dateparser does not read: "1° marzo", "1º de marzo" ("1o" after NFKC).
_ORDINAL_RE = re.compile(r"(?<=\d)(?:º|°|o)(?=\s)")


@dataclass(frozen=True)
class EffectiveDate:
    """A date (or a period) that governs the policy, with the words it came from.

    `on` is None for a period that has no anchor ("within 14 days"): `days` then says how
    long, and nothing pretends to know the day.
    """

    on: date | None
    days: int | None
    phrase: str
    sentence: str
    section: tuple[str, ...] = ()

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "date": self.on.isoformat() if self.on else None,
            "period_days": self.days if self.on is None else None,
            "phrase": self.phrase,
            "sentence": self.sentence,
            "section": list(self.section),
        }
        if today is not None and self.on is not None:
            data["days_left"] = (self.on - today).days
        return data


@dataclass(frozen=True)
class Anchor:
    """What relative wording counts from: the page's own date if it states one, else the
    capture; `captured` also divides history (before it) from deadlines."""

    captured: date
    page_date: date | None = None
    language: str | None = None

    @property
    def start(self) -> date:
        return self.page_date or self.captured


def anchor_for(metadata: Mapping[str, str], captured: datetime) -> Anchor:
    """The anchor of a stored version (its document's or snapshot's metadata): its capture
    time and its "Last updated" date."""
    language = metadata.get("language")
    line = metadata.get("last_updated")
    page_date = parse_date(stated_date(line), language) if line else None
    return Anchor(captured.date(), page_date, language)


def parse_date(text: str, language: str | None) -> date | None:
    """A written date in the page's language (English as a fallback), or None."""
    cleaned = _ORDINAL_RE.sub("", text)
    for parser in (_parser(language_code(language)), _parser("en")):
        found = parser.get_date_data(cleaned)
        if found.date_obj is not None:
            return found.date_obj.date()
    return None


@lru_cache(maxsize=32)
def _parser(code: str) -> DateDataParser:
    """One parser per language: building one loads its locale data (milliseconds)."""
    # Imported here: dateparser takes ~70 ms to import, and only a sentence that names a
    # date needs it, never a command (or a cron `check`) that merely imports this module.
    from dateparser.date import DateDataParser

    languages = [code] if code in _SUPPORTED else ["en"]
    return DateDataParser(
        languages=languages,
        settings={"PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["month", "year"]},
    )


_SUPPORTED = frozenset({"en", "fr", "de", "es", "it", "ja", "pt", "nl", "pl", "sv", "tr", "ar"})


def is_candidate(sentence: str) -> bool:
    """The cheap prefilter: only a sentence with a trigger or a notice period is parsed."""
    return bool(
        _TRIGGER_RE.search(sentence)
        or _AFTER_RE.search(sentence)
        or _AB_RE.search(sentence)
        or (_OBLIGATION_RE.search(sentence) and _BY_RE.search(sentence))
    )


def find_in_sentence(
    sentence: str, anchor: Anchor, section: tuple[str, ...] = ()
) -> list[EffectiveDate]:
    """The governing dates of one sentence, in the order they are written."""
    triggers = [m.span() for m in _TRIGGER_RE.finditer(sentence)]
    right_before = {m.end() for m in _AB_RE.finditer(sentence)}
    if _OBLIGATION_RE.search(sentence):
        right_before |= {m.end() for m in _BY_RE.finditer(sentence)}
    right_before |= {end + 1 for _, end in triggers}
    found: list[tuple[int, EffectiveDate]] = []
    taken: list[tuple[int, int]] = []
    for position, on, days, phrase in _relative(sentence, anchor, bool(triggers)):
        if on is not None and on < anchor.captured:
            continue
        found.append((position, EffectiveDate(on, days, phrase, sentence, section)))
        taken.append((position, position + len(phrase)))
    obliged = bool(_OBLIGATION_RE.search(sentence))
    for start, end, on, phrase in _windows(sentence, anchor, triggers, right_before, obliged):
        taken.append((start, end))
        if on >= anchor.captured:
            found.append((start, EffectiveDate(on, None, phrase, sentence, section)))
    for match in _DATE_RE.finditer(sentence):
        governed = match.start() in right_before or _governed(match.span(), triggers)
        if not governed or _overlaps(match.span(), taken):
            continue
        on = parse_date(match.group(), anchor.language)
        if on is not None and on >= anchor.captured:
            found.append((match.start(), EffectiveDate(on, None, match.group(), sentence, section)))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]


def _windows(
    sentence: str,
    anchor: Anchor,
    triggers: list[tuple[int, int]],
    right_before: set[int],
    obliged: bool,
) -> Iterator[tuple[int, int, date, str]]:
    """(start, end, date, phrase) of both ends of a governing range, then of each day written
    without its year right after a trigger. A range governs when a trigger is near or the
    sentence states an obligation (a window to comply in)."""
    ranges: list[tuple[int, int]] = []
    for match in _RANGE_RE.finditer(sentence):
        if not (obliged or _governed((match.start("first"), match.end()), triggers)):
            continue
        last = parse_date(match["second"], anchor.language)
        first = _first_of_range(match["first"], last, anchor.language) if last else None
        if last is None or first is None:
            continue
        ranges.append(match.span())
        yield match.start("first"), match.end("first"), first, match["first"]
        yield match.start("second"), match.end("second"), last, match["second"]
    for match in _YEARLESS_RE.finditer(sentence):
        if match.start() not in right_before or _overlaps(match.span(), ranges):
            continue
        on = _upcoming(match.group(), anchor)
        if on is not None:
            yield match.start(), match.end(), on, match.group()


def _first_of_range(first: str, last: date, language: str | None) -> date | None:
    """ "March 1" before "March 31, 2025" is 2025-03-01; a bare "1" takes the month too."""
    bare = re.fullmatch(r"(\d{1,2})\D*", first)
    if bare:
        day = int(bare[1])
        on = last.replace(day=day) if day <= last.day else None
    else:
        on = parse_date(f"{first} {last.year}", language)
    if on is not None and on > last:
        on = on.replace(year=on.year - 1) if (on.month, on.day) != (2, 29) else None
    return on


def _upcoming(day_month: str, anchor: Anchor) -> date | None:
    """The nearest such day on or after the page's date, if it is near enough to mean it."""
    start = anchor.start
    on = parse_date(f"{day_month} {start.year}", anchor.language)
    if on is not None and on < start:
        on = parse_date(f"{day_month} {start.year + 1}", anchor.language)
    if on is None or (on - start).days > _YEARLESS_AHEAD:
        return None
    return on


def _relative(
    sentence: str, anchor: Anchor, triggered: bool
) -> Iterator[tuple[int, date | None, int | None, str]]:
    """(position, date, period, phrase) of each relative form that governs the policy."""
    anchored: list[tuple[int, int]] = []
    for match in _AFTER_RE.finditer(sentence):
        what = match["what"] if match["what"] is not None else match["ja_what"]
        if not _NOTICE_RE.search(what) and match["ja_what"] is None:
            continue
        days = int(match["n"] or match["ja_n"])
        anchored.append(match.span())
        yield match.start(), anchor.start + timedelta(days=days), None, match.group().strip()
    if not triggered:
        return
    for match in _IN_RE.finditer(sentence):
        days = int(match["n"])
        yield match.start(), anchor.start + timedelta(days=days), None, match.group()
    for match in _WITHIN_RE.finditer(sentence):
        if not _overlaps(match.span(), anchored):
            yield match.start(), None, int(match["n"] or match["ja_n"]), match.group()


def _governed(span: tuple[int, int], triggers: list[tuple[int, int]]) -> bool:
    """A trigger stands just before the date, or (verb last) just after it."""
    start, end = span
    return any(
        0 <= start - t_end <= _NEAR or 0 <= t_start - end <= _NEAR for t_start, t_end in triggers
    )


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def find_in_document(document: Document, anchor: Anchor) -> list[EffectiveDate]:
    """Every governing date of a stored version, with its section, in page order.

    Only blocks the prefilter picks are split into sentences and parsed, so a long
    policy with no dates costs one regex pass per block.
    """
    split = splitter(anchor.language)
    found: list[EffectiveDate] = []
    for section in document.sections:
        for block in section.blocks:
            if not is_candidate(block.text):
                continue
            for sentence in split(block.text):
                if is_candidate(sentence):
                    found.extend(find_in_sentence(sentence, anchor, section.path))
    return found


def describe(found: EffectiveDate, today: date) -> str:
    """ "Takes effect: 2022-12-01 (in 58 days)", as every view and alert shows it."""
    if found.on is None:
        return f"Takes effect: within {found.days} days (no start date given)"
    return f"Takes effect: {dated(found.on, today)}"


def dated(on: date, today: date) -> str:
    """ "2022-12-01 (in 58 days)", "(today)" or "(took effect 3 days ago)" from `today`."""
    left = (on - today).days
    if left > 0:
        when = f"in {left} day{'s' if left != 1 else ''}"
    elif left == 0:
        when = "today"
    else:
        when = f"took effect {-left} day{'s' if left != -1 else ''} ago"
    return f"{on.isoformat()} ({when})"
