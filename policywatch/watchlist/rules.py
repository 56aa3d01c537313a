"""Watched wording: which changes matter, and how loudly to announce them.

A seller does not need an alert for every comma, but must never miss Amazon
tightening what may be said to buyers. Rules name the words that make a change
important; `severity` turns a diff into one alert level (or None: stay quiet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from operator import itemgetter

from policywatch.document.normalize import ascii_runs
from policywatch.models import Config, DiffResult, Route, Rule, Severity
from policywatch.watchlist.rules_translated import REVIEW_WINDOWS, TRANSLATED

# Why these terms: they are the wording Seller Central uses for what a seller (or the
# messaging software acting for them) may send to buyers and when. A change touching
# them can turn a compliant message flow into a policy violation overnight, so it is
# critical. Reviews, feedback and buyer data are the next most enforced topics, and
# enforcement wording (suspension, deactivation) says what happens to offenders: major.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="buyer-messaging",
        language="en",
        severity=Severity.CRITICAL,
        terms=(
            "unsolicited",
            "marketing communications",
            "marketing messages",
            "promotional messages",
            "promotional content",
            "Buyer-Seller Messaging",
            "permitted messages",
            "prohibited messages",
            "opt out",
            "opt-out",
            "direct buyers",
            "redirect*",
            "off Amazon",
            "outside of Amazon",
            "external links",
        ),
    ),
    Rule(
        name="review-requests",
        language="en",
        severity=Severity.CRITICAL,
        terms=(
            "request a review",
            "incentiv*",
            "4 and 30 days",
            "5 and 30 days",
            "positive review*",
            "in exchange for",
            "free or discounted",
            "compensat*",
            "manipulat*",
        ),
        # The "Request a Review" window is the number sellers' tools are built around,
        # whatever its bounds become ("between 4 and 30 days", "5-30 days").
        patterns=(r"\b\d+\s*(?:and|to|-|–)\s*\d+\s+(?:calendar\s+|business\s+)?days\b",),
    ),
    Rule(
        name="reviews",
        language="en",
        severity=Severity.MAJOR,
        terms=("feedback", "review", "reviews", "rating", "ratings", "star rating*"),
    ),
    Rule(
        name="buyer-data",
        language="en",
        severity=Severity.MAJOR,
        terms=(
            "contact customers",
            "contact buyers",
            "contacting buyers",
            "contacting customers",
            "personal information",
            "customer information",
            "buyer information",
            "customer data",
            "email address*",
            "phone number*",
        ),
    ),
    Rule(
        name="enforcement",
        language="en",
        severity=Severity.MAJOR,
        terms=("suspen*", "deactivat*", "selling privileges", "terminat*"),
    ),
)


_SEVERITIES = {rule.name: rule.severity for rule in DEFAULT_RULES}
DEFAULT_RULES += tuple(
    Rule(
        name=name,
        severity=_SEVERITIES[name],
        terms=terms,
        patterns=(REVIEW_WINDOWS[code],)
        if name == "review-requests" and code in REVIEW_WINDOWS
        else (),
        language=code,
    )
    for code, rules in TRANSLATED.items()
    for name, terms in rules.items()
)
# Scripts written without spaces have no word boundaries to anchor a term on.
_UNSPACED_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


_WORD_START = r"(?<!\w)"


def _term_regex(term: str) -> str:
    """One watched term as a regex: whole words, any whitespace, `*` suffix = any word ending."""
    text = term.strip()
    wildcard = text.endswith("*")
    words = text.rstrip("*").split()
    body = r"\s+".join(re.escape(word).replace("'", "['’]") for word in words)
    if wildcard:
        body += r"\w*"
    before = "" if _UNSPACED_RE.match(text) else _WORD_START
    after = "" if wildcard or _UNSPACED_RE.match(text.rstrip("*")[-1:]) else r"(?!\w)"
    return rf"{before}{body}{after}"


_WORD_RE = re.compile(r"\w+")


def words(text: str) -> list[str] | None:
    """The lower-case words (\\w+ runs) of an ASCII text, in order; None for any other text.

    Only for ASCII text do these words line up one-to-one with what a term's
    case-insensitive regex can match (no lower-casing that changes lengths, no
    Kelvin sign matching "k"), so only there may they stand in for a search.
    """
    return ascii_runs(text) if text.isascii() else None


def _lowered_term_regex(term: str) -> re.Pattern[str] | None:
    """`_term_regex` for lower-case ASCII text, found several times faster; None if not ASCII.

    In ASCII text the case-insensitive search and a search of the lower-cased text
    find the same spans. The word-start test moves behind the first letter ("a(?<!\\w.)"
    reads "an `a` with no letter before it"), so the regex engine can skip straight
    to that letter instead of trying the look-behind at every position.
    """
    if not term.isascii():
        return None
    regex = _term_regex(term.lower())
    first = regex[len(_WORD_START) : len(_WORD_START) + 1]
    if regex.startswith(_WORD_START) and _WORD_RE.fullmatch(first):
        regex = first + r"(?<!\w.)" + regex[len(_WORD_START) + 1 :]
    return re.compile(regex)


class _Term:
    """One compiled term or pattern, with what a text must hold for it to have a chance."""

    __slots__ = ("exact", "lowered", "needle", "regex", "required", "rule", "term")

    def __init__(self, rule: Rule, term: str | None, needle: str, regex: re.Pattern[str]) -> None:
        self.rule, self.term, self.needle, self.regex = rule, term, needle, regex
        # The same term for lower-cased ASCII text (see `_lowered_term_regex`).
        self.lowered = _lowered_term_regex(term) if term is not None else None
        # The ASCII words a match always spans whole (a `*` word may run on, so it is left
        # out); None when ASCII text can never match (it never holds a non-ASCII needle).
        self.required: frozenset[str] | None = frozenset()
        # A single whole ASCII word: its presence among a text's words is the match.
        self.exact = False
        if term is None:
            return
        wildcard = term.strip().endswith("*")
        body = term.strip().rstrip("*").rstrip()  # "rating *" is "rating*", as in the regex
        runs = _WORD_RE.findall(body)
        if wildcard and _WORD_RE.match(body[-1:]):
            runs.pop()
        self.required = frozenset(r.lower() for r in runs if r.isascii())
        if not needle.isascii():
            self.required = None
        self.exact = not wildcard and body.isascii() and _WORD_RE.fullmatch(body) is not None

    def search(self, text: str, lowered: str) -> tuple[Rule, str] | None:
        """(rule, term) when this term is in `text` (`lowered` is `text.lower()`), else None."""
        return self._hit(text) if self.needle in lowered else None

    def search_lowered(self, text: str, lowered: str) -> tuple[Rule, str] | None:
        """`search` for ASCII text known to hold the term's needle and required words.

        A single whole word is then found already; another term is searched in the
        lower-cased text when it can be (see `_lowered_term_regex`).
        """
        if self.exact:
            return self.rule, self.term  # type: ignore[return-value]
        if self.lowered is not None:
            return (self.rule, self.term) if self.lowered.search(lowered) else None  # type: ignore[return-value]
        return self._hit(text)

    def _hit(self, text: str) -> tuple[Rule, str] | None:
        """For a pattern the "term" is the text it matched, not the regular expression."""
        hit = self.regex.search(text)
        if hit is None:
            return None
        return self.rule, self.term if self.term is not None else hit.group(0)


def _pattern_needle(pattern: re.Pattern[str]) -> str:
    """The longest ASCII run of characters every match of `pattern` holds, lower-cased.

    A regex is tried at every character of a text, a needle found with `in` many
    times faster: a text without "days" skips the Request a Review window pattern,
    which took a third of the time matching the default rules. Only characters
    outside any group, branch or repeat are in every match. Python's own regex
    parser says which they are; it is a private module, so without it the pattern
    is searched every time.
    """
    try:
        parsed = list(re._parser.parse(pattern.pattern, pattern.flags))  # type: ignore[attr-defined]
        literal = re._parser.LITERAL  # type: ignore[attr-defined]
    except Exception:  # a change in a private module may only cost speed
        return ""
    runs = [""]
    for op, argument in parsed:
        if op == literal and chr(argument).isascii():
            runs[-1] += chr(argument)
        else:
            runs.append("")
    return max(runs, key=len).lower()


class RuleSet:
    """Rules compiled once, so matching every changed sentence stays cheap."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        # The needle is a lower-case word the text must contain for the regex to have a
        # chance, a cheap substring test that skips most searches. A pattern has no needle
        # and no readable term: it is reported by what it matched.
        self._terms: list[_Term] = []
        for rule in self.rules:
            for term in rule.terms:
                pieces = re.split(r"['\s]+", term.strip().rstrip("*"))
                if any(pieces):
                    regex = re.compile(_term_regex(term), re.IGNORECASE)
                    needle = max(pieces, key=len).lower()
                    self._terms.append(_Term(rule, term, needle, regex))
            for pattern in rule.patterns:
                self._terms.append(_Term(rule, None, "", re.compile(pattern, re.IGNORECASE)))
        # For word lists: each term under its longest required word; the others, each with
        # the needle the lower-cased text must hold. A pattern's needle (its fixed letters)
        # only sifts ASCII text: other text can match a letter by a fold `lower` does not make
        # ("ſ" for "s"), so there the pattern keeps its empty `needle` and is searched.
        self._by_word: dict[str, list[tuple[int, _Term]]] = {}
        self._unkeyed: list[tuple[int, _Term, str]] = []
        for index, entry in enumerate(self._terms):
            if entry.required:
                key = max(sorted(entry.required), key=len)
                self._by_word.setdefault(key, []).append((index, entry))
            elif entry.required is not None:
                needle = entry.needle or _pattern_needle(entry.regex)
                self._unkeyed.append((index, entry, needle))

    def match(self, text: str, word_set: AbstractSet[str] | None = None) -> list[tuple[Rule, str]]:
        """Every (rule, term) found in `text`, in rule order; a term is reported once.

        For a pattern the "term" is the text it matched ("between 4 and 30 days").
        `word_set` is `set(words(text))` when the caller has it already.
        """
        if not text:
            return []
        lowered = text.lower()
        present = word_set
        if present is None and (text_words := words(text)) is not None:
            present = frozenset(text_words)
        if present is None:
            return [hit for entry in self._terms if (hit := entry.search(text, lowered))]
        # Only terms whose longest word is in the text or whose needle is are tried; every
        # changed sentence is matched, and most find nothing, so the few hits are put back
        # in rule order afterwards instead of sorting the candidates.
        found = [
            (index, hit)
            for key in self._by_word.keys() & present
            for index, entry in self._by_word[key]
            if entry.required <= present  # type: ignore[operator]
            and (hit := entry.search_lowered(text, lowered))
        ]
        found += [
            (index, hit)
            for index, entry, needle in self._unkeyed
            if needle in lowered and (hit := entry.search_lowered(text, lowered))
        ]
        if len(found) > 1:
            found.sort(key=_first)
        return [hit for _, hit in found]


_first = itemgetter(0)


def rules_of(config: Config | None, page_id: str) -> tuple[Rule, ...]:
    """The rules a stored page's versions are compared with, so a diff flags what its alert did.

    Reading stored versions needs no watchlist; without one the built-in rules apply,
    as they do to a watchlist that says nothing about rules.
    """
    if config is None:
        return tuple(DEFAULT_RULES)
    page = config.page(page_id)
    return config.rules_for(page) if page else config.rules


@lru_cache(maxsize=64)
def _compiled(rules: tuple[Rule, ...]) -> RuleSet:
    return RuleSet(rules)


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """The RuleSet for `rules`, compiled once per distinct list (every poll reuses it)."""
    return _compiled(tuple(rules))


def severity(diff: DiffResult, *, alert_on_cosmetic: bool = False) -> Severity | None:
    """How loudly to announce `diff`; None when nothing worth an alert changed.

    Per change: the highest severity of its watched terms; an obligation flip
    ("may" -> "may not") or a changed number or time limit is at least MAJOR;
    any other substantive edit (a renamed heading included) is MINOR. A moved
    section, or an added or removed one without text, is MINOR too: the
    reader's way through the policy changed. Cosmetic edits count (as MINOR)
    only when the user asked for them; a new link target under the same words
    counts only for a rule that opted in (`links: alert`), at its severity.
    """
    levels: list[Severity] = []
    for section in diff.sections:
        if section.kind == "moved" or (
            section.kind in ("added", "removed") and not section.changes
        ):
            levels.append(Severity.MINOR)
        for change in section.changes:
            if not change.substantive:
                if "link-only" in change.tags and change.matches:  # `links: alert` rules
                    levels.append(max(m.severity for m in change.matches))
                elif alert_on_cosmetic:
                    levels.append(Severity.MINOR)
                continue
            levels.append(_change_severity(change.tags, (m.severity for m in change.matches)))
    return max(levels, default=None)


def link_only_routes(diff: DiffResult, routes: Sequence[Route]) -> tuple[Route, ...]:
    """The routes told about `diff` when nothing else in it alerts: those that opted in to
    link changes (`links: alert`), when a link's target changed under the same words."""
    if not any("link-only" in c.tags for c in diff.changes):
        return ()
    return tuple(route for route in routes if route.links_alert)


def _change_severity(tags: Sequence[str], match_levels: Iterable[Severity]) -> Severity:
    """Severity of one substantive change from its tags and its watched-term matches."""
    level = max(match_levels, default=Severity.MINOR)
    if "obligation" in tags or "number" in tags:
        level = max(level, Severity.MAJOR)
    return level
