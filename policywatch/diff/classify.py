"""Classifying a change: cosmetic or substantive, and its tags (obligation, number, link, term)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from policywatch.content import Block
from policywatch.diff import wording
from policywatch.diff.inline import inline_fragments
from policywatch.diff.signals import (
    DIGITS_RE,
    NUMBER_RE,
    SPELLED,
    _is_deontic,
    _obligations,
    fold,
    number_values,
    numbers,
    obligations,
)
from policywatch.document.languages import (
    ENGLISH,
    UNSPACED,
    language_code,
    words_of,
)
from policywatch.document.normalize import split_enumerator
from policywatch.document.segment import splitter
from policywatch.models import Change, ChangeKind, Rule, RuleMatch
from policywatch.watchlist.rules import RuleSet, words

# --------------------------------------------------------------------------- classifying


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and a diff
# makes a Unit of every sentence that changed.
@dataclass(slots=True)
class Unit:
    """One sentence of one block, with its fold precomputed for alignment.

    `words` are its lower-case words when it is ASCII (see rules.words), worked out
    once and shared by the fold, the obligation check and the watched-term search.
    """

    text: str
    key: str
    block: Block
    words: list[str] | None
    plain: str  # the text without its list enumerator ("1.", "(a)"), which is never wording
    word_set: frozenset[str] | None  # set(words), which the watched-term search looks up
    bag: frozenset[str]  # the words of `key` its similarity to another sentence is measured by


UnitPair = tuple[Unit | None, Unit | None]


class Draft(NamedTuple):
    """A change before it is classified: where it is, its old and new sentence, extra tags."""

    section: tuple[str, ...]
    old: Unit | None
    new: Unit | None
    tags: tuple[str, ...] = ()


class Classifier:
    """Turns (old, new) sentence pairs into Changes with tags and rule matches."""

    def __init__(self, rules: RuleSet, ignore: Sequence[re.Pattern[str]], language: str) -> None:
        self.rules = rules
        self.ignore = ignore
        self.code = language_code(language)
        self.split = splitter(language)

    def obligations(self, unit: Unit | None) -> frozenset[tuple[str, str]]:
        if self.code == ENGLISH:
            return _unit_obligations(unit)
        return wording.obligations(unit.text, self.code) if unit else frozenset()

    def is_deontic(self, signature: frozenset[tuple[str, str]]) -> bool:
        if self.code == ENGLISH:
            return _is_deontic(signature)
        return wording.is_deontic(signature, self.code)

    def numbers(self, unit: Unit | None) -> list[tuple[str, str]]:
        if self.code == ENGLISH:
            return _unit_numbers(unit)
        # The plain text: "2." numbering the clause is no amount in any language.
        return wording.numbers(unit.plain, self.code) if unit else []

    def key(self, text: str) -> str:
        return fold(text, self.ignore)

    def plain_key(self, text: str) -> str:
        """The fold of `text` without its list enumerator: "2. Fees" and "Fees" are one clause."""
        return self.key(split_enumerator(text)[1])

    def unit(self, text: str, block: Block) -> Unit:
        tokens = words(text)
        enumerator, plain = split_enumerator(text)
        if not enumerator and tokens is not None and not self.ignore:
            # For ASCII text the fold is just its words, and so are the words of the fold
            # (see languages.words_of), except where words are not spaced.
            key = " ".join(tokens)
            word_set = frozenset(tokens)
            bag = word_set if self.code not in UNSPACED else frozenset(words_of(key, self.code))
        else:
            key = self.plain_key(text) if enumerator else self.key(text)
            word_set = None if tokens is None else frozenset(tokens)
            bag = frozenset(words_of(key, self.code))
        return Unit(text, key, block, tokens, plain, word_set, bag)

    def changes(self, drafts: Sequence[Draft]) -> list[Change]:
        """The Changes of a whole page's drafts, tagged, in the drafts' order.

        Each step runs over every draft before the next step starts. Done draft by draft,
        the steps (the inline diff, the rules' regexes, the number and obligation scans)
        kept pushing each other's code and data out of the CPU's caches: on the diff
        bench, step by step takes about a tenth less time for the same Changes.
        """
        texts = [(d.old.text if d.old else None, d.new.text if d.new else None) for d in drafts]
        fragments = [inline_fragments(old or "", new or "") for old, new in texts]
        # Duties, numbers and watched terms matter in substantive changes only (None: cosmetic).
        todo = [None if is_cosmetic(d.old, d.new) else d for d in drafts]
        duties = [d and (self.obligations(d.old), self.obligations(d.new)) for d in todo]
        renumbered = [d and self.numbers(d.old) != self.numbers(d.new) for d in todo]
        terms = [d and self.matches(d.old, d.new) for d in todo]
        result = []
        for d, (old_text, new_text), inline, duty, number, found in zip(
            drafts, texts, fragments, duties, renumbered, terms, strict=True
        ):
            kind = change_kind(old_text, new_text)
            if duty is None:  # cosmetic: the steps above left it out
                tags = (*d.tags, "cosmetic-only")
                result.append(Change(kind, d.section, old_text, new_text, inline, False, tags))
                continue
            added = []
            old_duties, new_duties = duty
            if old_duties != new_duties and (
                kind == "modified" or self.is_deontic(old_duties | new_duties)
            ):
                added.append("obligation")
            if number:
                added.append("number")
            if found:
                added.append("term")
            tags = (*d.tags, *added)
            result.append(Change(kind, d.section, old_text, new_text, inline, True, tags, found))
        return result

    def matches(
        self, old: Unit | None, new: Unit | None, *, links_only: bool = False
    ) -> tuple[RuleMatch, ...]:
        """Watched terms on either side; `links_only` keeps the rules that opted in to links."""
        in_old, in_new = self._found(old, links_only), self._found(new, links_only)
        if not in_old and not in_new:  # most changed sentences hold no watched term
            return ()
        result = []
        for key, rule in (in_old | in_new).items():
            side = ("both" if key in in_new else "old") if key in in_old else "new"
            result.append(RuleMatch(rule.name, key[1], rule.severity, side))
        return tuple(result)

    def _found(self, unit: Unit | None, links_only: bool) -> dict[tuple[int, str], Rule]:
        """The unit's (rule, term) matches, keyed by id(rule): hashing a Rule hashes its terms."""
        if unit is None:
            return {}
        found = self.rules.match(unit.text, unit.word_set)
        return {
            (id(rule), term): rule for rule, term in found if rule.links_alert or not links_only
        }


def _unit_obligations(unit: Unit | None) -> frozenset[tuple[str, str]]:
    """`obligations` of a unit's text, from its words when they are the same tokens.

    Without apostrophes or underscores, the \\w+ words of ASCII text are exactly
    the tokens `obligations` would find.
    """
    if unit is None:
        return frozenset()
    text = unit.text
    if unit.words is None or "'" in text or "_" in text:
        return obligations(text)
    return _obligations(unit.words)


def _unit_numbers(unit: Unit | None) -> list[tuple[str, str]]:
    """`numbers` of a unit's text, searching only where a number can start.

    Every number `numbers` finds is a whole spelled-out word or starts a run of
    digits. Without spelled-out words, trying each digit run in turn finds what
    `finditer` would, without trying the pattern at every character. A run of
    digits it takes has no word character before it, so it starts a word: when no
    word starts with a digit (the smallest word's first character sorts after "9"),
    there is none.
    """
    if unit is None:
        return []
    if len(unit.plain) != len(unit.text):  # "2." numbers the clause; it is no amount
        return numbers(unit.plain)
    words = unit.words
    if words is None or not SPELLED.keys().isdisjoint(words):
        return numbers(unit.text)
    if not words or min(words)[0] > "9":
        return []
    folded = unit.text.lower()  # for ASCII text, its casefold
    matches = []
    end = 0
    for digits in DIGITS_RE.finditer(folded):
        if digits.start() >= end and (match := NUMBER_RE.match(folded, digits.start())):
            matches.append(match)
            end = match.end()
    return number_values(matches)


# Marks that are not words but change what a sentence says: signs and comparisons, and
# punctuation that is part of a number ("-18", "> $100", "$1,000" vs "$1.000", "50%").
_MEANING_MARKS_RE = re.compile(r"[<>≤≥±=%$€£¥+]|(?<!\w)-(?=\d)|(?<=\d)[.,](?=\d)")


def is_cosmetic(old: Unit | None, new: Unit | None) -> bool:
    """Same words and signs on both sides or, for an added or removed sentence, no words."""
    if old is not None and new is not None:
        return old.key == new.key and _MEANING_MARKS_RE.findall(
            old.plain
        ) == _MEANING_MARKS_RE.findall(new.plain)
    unit = old if old is not None else new
    return unit is None or not unit.key


def change_kind(old: str | None, new: str | None) -> ChangeKind:
    if old is not None and new is not None:
        return "modified"
    return "added" if new is not None else "removed"
