"""Semantic diff of two policy versions: which sentences changed, where, and how much it matters.

A line diff of a policy page is noise: a re-wrapped paragraph or a moved section
looks like a rewrite, and "may" -> "may not" hides in a wall of red and green.
This module compares the way a reader does, top-down, and only looks deeper
where something differs:

1. sections are aligned by heading path (then by identical or similar body, so a
   renamed or moved section is recognised as such, not as removed + added);
2. inside a section, blocks (paragraphs, list items, rows) are aligned, and only
   differing runs of blocks are split into sentences and aligned again;
3. a reworded sentence becomes one `modified` Change with a word-level inline
   diff (diff-match-patch over word tokens), an inserted one `added`, a deleted
   one `removed`;
4. each change is classified: cosmetic (equal after folding case, whitespace,
   punctuation and quote style) or substantive, with tags `obligation`
   (a modal's polarity changed: "may" -> "may not"), `number` (amounts, time
   limits), `link` (link targets), `term` (a watched rule term, old or new side);
   a change of link targets under unchanged words is `link-only`: shown, not
   substantive.

Everything here is pure and deterministic: the same inputs give the same
DiffResult, and a document diffed with itself is empty.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from itertools import groupby
from operator import eq
from typing import TypeVar

from diff_match_patch import diff_match_patch

from policywatch.diff import wording
from policywatch.document.languages import (
    ENGLISH,
    language_code,
    matches_language,
    page_language,
    words_of,
)
from policywatch.document.normalize import split_enumerator
from policywatch.document.segment import (
    split_sentences as split_sentences,  # callers import it from here
)
from policywatch.document.segment import splitter
from policywatch.models import (
    Block,
    Change,
    ChangeKind,
    DiffResult,
    Document,
    Fragment,
    FragmentOp,
    Rule,
    RuleMatch,
    Section,
    SectionChange,
    SectionChangeKind,
)
from policywatch.rules import RuleSet, compile_rules, words

# A section whose blocks are at least this similar to an unmatched one elsewhere
# is the same section under a new heading (renamed and edited), not removed + added.
SECTION_SIMILARITY = 0.6
# Two sentences at least this similar (word-level ratio) are one reworded sentence.
SENTENCE_SIMILARITY = 0.5
# Above this many candidate pairs (sentences in one rewritten run, or sections left
# unmatched), pairing costs more than it helps a reader: they are removed + added.
MAX_PAIRING_CELLS = 40_000

# --------------------------------------------------------------------------- folding

_WORD_RE = re.compile(r"\w+")


def fold(text: str, ignore: Sequence[re.Pattern[str]] = ()) -> str:
    """The words of `text` only: case, punctuation, quote style and spacing folded away.

    Two texts with the same fold read the same to a person, so a change between
    them is cosmetic. `ignore` patterns (the page's) are blanked out first.
    """
    for pattern in ignore:
        text = pattern.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(_WORD_RE.findall(text.casefold()))


# --------------------------------------------------------------------------- obligations

# The first character on its own lets the regex engine skip to the next word quickly.
_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9]*(?:'[a-z]+)?")
_MODALS = frozenset({"may", "might", "can", "could", "must", "shall", "should", "will", "need"})
_CONTRACTED = {
    "cannot": "can",
    "can't": "can",
    "couldn't": "could",
    "mustn't": "must",
    "shouldn't": "should",
    "shan't": "shall",
    "won't": "will",
    "needn't": "need",
    "mightn't": "might",
    "don't": "do",
    "doesn't": "do",
}
# Word stems that state a duty or a permission ("required", "prohibits", "not permitted").
_STATE_STEMS = (
    "prohibit",
    "forbid",
    "allow",
    "permit",
    "requir",
    "mandat",
    "oblig",
    "entitle",
    "restrict",
    "optional",
)
# Each stem by its first four letters (all differ), so a token is looked up, not searched.
_STEM_BY_HEAD = {stem[:4]: stem for stem in _STATE_STEMS}
_LIMITERS = frozenset({"only", "never", "always", "solely", "exclusively", "except", "unless"})
_ADVERBS = frozenset({"also", "still", "only", "then", "therefore", "generally", "now"})
# Present in an added or removed sentence, these make it a new (or dropped) obligation.
# Plain "may", "can", "will" are left out: descriptive text uses them all the time.
_DEONTIC = frozenset(
    {"must", "shall", "should", "prohibit", "forbid", "requir", "mandat", "oblig", "only", "never"}
)
# The words with a meaning of their own above; any other token is only a possible stem.
_CUES = frozenset({*_CONTRACTED, *_MODALS, "do", "does", *_LIMITERS, "longer"})


def obligations(text: str) -> frozenset[tuple[str, str]]:
    """The modal and obligation words of `text`, each with its polarity ("+" or "-").

    Comparing these sets finds "may request" -> "may not request" (same modal,
    flipped polarity) as well as "must" -> "should" or a dropped "only".
    """
    return _obligations(_TOKEN_RE.findall(text.casefold().replace("’", "'")))


def _obligations(tokens: list[str]) -> frozenset[tuple[str, str]]:
    """`obligations` of a text from its lower-case word tokens."""
    found: set[tuple[str, str]] = set()
    # Most words are neither a cue nor a stem: one comprehension picks the few worth a look.
    cues = [i for i, token in enumerate(tokens) if token in _CUES or token[:4] in _STEM_BY_HEAD]
    for i in cues:
        token = tokens[i]
        if token not in _CUES:
            stem = _STEM_BY_HEAD[token[:4]]
            if token.startswith(stem):
                before = tokens[max(0, i - 3) : i]
                negative = any(t in ("not", "never", "longer") or t.endswith("n't") for t in before)
                found.add((stem, "-" if negative else "+"))
        elif token in _CONTRACTED:
            found.add((_CONTRACTED[token], "-"))
        elif token in _MODALS or token in ("do", "does"):
            after = tokens[i + 1 : i + 3]
            if after[:1] and after[0] in _ADVERBS:
                after = after[1:]
            negative = bool(after) and (
                after[0] in ("not", "never") or after[:2] == ["no", "longer"]
            )
            if negative or token in _MODALS:
                found.add(("do" if token == "does" else token, "-" if negative else "+"))
        elif token in _LIMITERS:
            found.add((token, "+"))
        elif token == "longer" and i and tokens[i - 1] == "no":
            found.add(("no longer", "+"))
    return frozenset(found)


def _is_deontic(signature: frozenset[tuple[str, str]]) -> bool:
    return any(polarity == "-" or word in _DEONTIC for word, polarity in signature)


# --------------------------------------------------------------------------- numbers

# fmt: off
_SPELLED = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}
# fmt: on
_SPELLED_RE = "|".join(sorted(_SPELLED, key=len, reverse=True))
# A number (digits, or spelled out, "twenty-four" too) and the time unit or percent after it.
_NUMBER_RE = re.compile(
    rf"(?<![\w.,])(?:(?P<digits>\d+(?:[.,]\d+)*)(?P<pct>%)?|(?P<word>(?:{_SPELLED_RE})"
    rf"(?:-(?:{_SPELLED_RE}))?)\b)"
    r"(?:[\s-]+(?P<unit>(?:(?:business|calendar|working)\s+)?"
    r"(?:second|minute|hour|day|week|month|year|percent))s?\b)?"
)


_DIGITS_RE = re.compile(r"\d+")
_THOUSANDS_RE = re.compile(r"\d{1,3}(?:,\d{3})+")


def numbers(text: str) -> list[tuple[str, str]]:
    """Numbers in `text`, sorted, with the unit after each ("30 days" -> ("30", "day")).

    Spelled-out numbers count as their value, so "thirty days" and "30 days" are
    the same limit; a bare "one" ("no one", "one of") is not a number.
    """
    return _number_values(_NUMBER_RE.finditer(text.casefold()))


def _number_values(matches: Iterable[re.Match[str]]) -> list[tuple[str, str]]:
    """`numbers` from the matches of _NUMBER_RE."""
    found = []
    for match in matches:
        unit = match["unit"] or ""
        if match["digits"] is not None:
            value = match["digits"]
            if _THOUSANDS_RE.fullmatch(value):
                value = value.replace(",", "")
            value += match["pct"] or ""
        elif match["word"] == "one" and not unit:
            continue
        else:
            value = str(sum(_SPELLED[word] for word in match["word"].split("-")))
        if unit == "percent":
            value, unit = value.rstrip("%") + "%", ""
        found.append((value, " ".join(unit.split())))
    return sorted(found)


# --------------------------------------------------------------------------- inline diff

# Japanese and Chinese run words together: each of their characters is a token of its own.
_INLINE_TOKEN_RE = re.compile(r"[^\W\u3040-\u30ff\u3400-\u9fff]+|\w|\s+|[^\w\s]")
_FRAGMENT_OPS: dict[int, FragmentOp] = {0: "equal", 1: "insert", -1: "delete"}
# Its methods keep no state between calls, so one engine serves every diff.
_ENGINE = diff_match_patch()
_ENGINE.Diff_Timeout = 0  # no time limit: the same input must always give the same diff


def inline_fragments(old: str, new: str) -> tuple[Fragment, ...]:
    """Word-level diff of two sentences, cleaned up so it reads as whole-word edits.

    diff-match-patch works on characters; mapping each word (and each run of
    spaces or punctuation mark) to one private character, as its linesToChars
    does for lines, makes it diff words, and diff_cleanupSemantic then merges
    scattered small edits into phrases a reader can follow. Words shared at both
    ends are cut off first: they are equal whatever the middle does.
    """
    head = _ENGINE.diff_commonPrefix(old, new)
    if head < max(len(old), len(new)):
        head = old.rfind(" ", 0, head) + 1
    rest_old, rest_new = old[head:], new[head:]
    tail = _ENGINE.diff_commonSuffix(rest_old, rest_new)
    start = rest_old.find(" ", len(rest_old) - tail) if tail else -1
    tail = len(rest_old) - start if start >= 0 else 0
    old_middle, new_middle = rest_old[: len(rest_old) - tail], rest_new[: len(rest_new) - tail]
    middle: list[tuple[FragmentOp, str]]
    if old_middle and new_middle:
        middle = _word_diff(old_middle, new_middle)
    else:  # words only inserted or only deleted: what diff-match-patch would say, without it
        middle = [("delete", old_middle), ("insert", new_middle)]
    fragments: list[Fragment] = []
    for op, text in [("equal", old[:head]), *middle, ("equal", rest_old[len(rest_old) - tail :])]:
        if not text:
            continue
        if fragments and fragments[-1].op == op:
            text = fragments.pop().text + text
        fragments.append(Fragment(op, text))
    return tuple(fragments)


def _word_diff(old: str, new: str) -> list[tuple[FragmentOp, str]]:
    """diff-match-patch over words: each distinct token becomes one character."""
    old_tokens = _INLINE_TOKEN_RE.findall(old)
    new_tokens = _INLINE_TOKEN_RE.findall(new)
    edit = _one_sided_edit(old_tokens, new_tokens)
    if edit is not None:
        return edit
    words = list(dict.fromkeys(old_tokens + new_tokens))
    # One private-use character per distinct word; past U+F8FF, skip to a plane with no surrogates.
    chars = {w: chr(0xE000 + i if i < 0x1900 else 0xF0000 + i) for i, w in enumerate(words)}
    back = {c: w for w, c in chars.items()}
    diffs = _ENGINE.diff_main(
        "".join(map(chars.__getitem__, old_tokens)),
        "".join(map(chars.__getitem__, new_tokens)),
        False,
    )
    _ENGINE.diff_cleanupSemantic(diffs)
    return [(_FRAGMENT_OPS[op], "".join(map(back.__getitem__, text))) for op, text in diffs]


def _one_sided_edit(
    old_tokens: list[str], new_tokens: list[str]
) -> list[tuple[FragmentOp, str]] | None:
    """diff-match-patch's answer when, between shared words, words were only added or removed.

    It trims the shared ends and reports the rest as one insertion (or deletion);
    its clean-ups would slide that edit along only if its last word repeats the
    one before it or its first word the one after it. None in those cases and
    when both sides changed: then diff-match-patch must do the work.
    """
    head, tail = _common_ends(old_tokens, new_tokens, eq)
    old_middle = old_tokens[head : len(old_tokens) - tail]
    new_middle = new_tokens[head : len(new_tokens) - tail]
    if old_middle and new_middle:
        return None
    middle = old_middle or new_middle
    before, after = old_tokens[:head], old_tokens[len(old_tokens) - tail :]
    if (before and before[-1] == middle[-1]) or (after and after[0] == middle[0]):
        return None
    op: FragmentOp = "delete" if old_middle else "insert"
    parts: list[tuple[FragmentOp, list[str]]] = [("equal", before), (op, middle), ("equal", after)]
    return [(kind, "".join(tokens)) for kind, tokens in parts if tokens]


# --------------------------------------------------------------------------- classifying


@dataclass(frozen=True)
class _Unit:
    """One sentence of one block, with its fold precomputed for alignment.

    `words` are its lower-case words when it is ASCII (see rules.words), worked out
    once and shared by the fold, the obligation check and the watched-term search.
    """

    text: str
    key: str
    block: Block
    words: list[str] | None
    plain: str  # the text without its list enumerator ("1.", "(a)"), which is never wording


_Pair = tuple[_Unit | None, _Unit | None]


class _Classifier:
    """Turns (old, new) sentence pairs into Changes with tags and rule matches."""

    def __init__(self, rules: RuleSet, ignore: Sequence[re.Pattern[str]], language: str) -> None:
        self.rules = rules
        self.ignore = ignore
        self.code = language_code(language)
        self.split = splitter(language)

    def obligations(self, unit: _Unit | None) -> frozenset[tuple[str, str]]:
        if self.code == ENGLISH:
            return _unit_obligations(unit)
        return wording.obligations(unit.text, self.code) if unit else frozenset()

    def is_deontic(self, signature: frozenset[tuple[str, str]]) -> bool:
        if self.code == ENGLISH:
            return _is_deontic(signature)
        return wording.is_deontic(signature, self.code)

    def numbers(self, unit: _Unit | None) -> list[tuple[str, str]]:
        if self.code == ENGLISH:
            return _unit_numbers(unit)
        # The plain text: "2." numbering the clause is no amount in any language.
        return wording.numbers(unit.plain, self.code) if unit else []

    def words(self, key: str) -> set[str]:
        """The words of a folded sentence to measure similarity by (see languages.words_of)."""
        return words_of(key, self.code)

    def key(self, text: str) -> str:
        return fold(text, self.ignore)

    def plain_key(self, text: str) -> str:
        """The fold of `text` without its list enumerator: "2. Fees" and "Fees" are one clause."""
        return self.key(split_enumerator(text)[1])

    def unit(self, text: str, block: Block) -> _Unit:
        tokens = words(text)
        enumerator, plain = split_enumerator(text)
        if enumerator:
            key = self.plain_key(text)
        else:  # for ASCII text without ignore patterns the fold is just its words
            key = " ".join(tokens) if tokens is not None and not self.ignore else self.key(text)
        return _Unit(text, key, block, tokens, plain)

    def change(
        self,
        path: tuple[str, ...],
        old: _Unit | None,
        new: _Unit | None,
        extra: tuple[str, ...] = (),
    ) -> Change:
        old_text = old.text if old else None
        new_text = new.text if new else None
        kind = _change_kind(old_text, new_text)
        if old_text is not None and new_text is not None:
            fragments = inline_fragments(old_text, new_text)
        else:
            fragments = (Fragment("insert" if new else "delete", new_text or old_text or ""),)
        if _is_cosmetic(old, new):
            return Change(
                kind, path, old_text, new_text, fragments, False, (*extra, "cosmetic-only")
            )
        tags = list(extra)
        old_duties, new_duties = self.obligations(old), self.obligations(new)
        if old_duties != new_duties and (
            kind == "modified" or self.is_deontic(old_duties | new_duties)
        ):
            tags.append("obligation")
        if self.numbers(old) != self.numbers(new):
            tags.append("number")
        matches = self.matches(old, new)
        if matches:
            tags.append("term")
        return Change(kind, path, old_text, new_text, fragments, True, tuple(tags), matches)

    def matches(
        self, old: _Unit | None, new: _Unit | None, *, links_only: bool = False
    ) -> tuple[RuleMatch, ...]:
        """Watched terms on either side; `links_only` keeps the rules that opted in to links."""
        # Keyed by id(rule): hashing a Rule hashes all its terms, far too slow per sentence.
        found = [(side, rule, term) for side in (old, new) for rule, term in self._match(side)]
        if links_only:
            found = [item for item in found if item[1].links_alert]
        in_old = {(id(rule), term): rule for side, rule, term in found if side is old}
        in_new = {(id(rule), term): rule for side, rule, term in found if side is new}
        result = []
        for key, rule in (in_old | in_new).items():
            side = "both" if key in in_old and key in in_new else "old" if key in in_old else "new"
            result.append(RuleMatch(rule.name, key[1], rule.severity, side))
        return tuple(result)

    def _match(self, unit: _Unit | None) -> list[tuple[Rule, str]]:
        return self.rules.match(unit.text, unit.words) if unit is not None else []


def _unit_obligations(unit: _Unit | None) -> frozenset[tuple[str, str]]:
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


def _unit_numbers(unit: _Unit | None) -> list[tuple[str, str]]:
    """`numbers` of a unit's text, searching only where a number can start.

    Every number `numbers` finds is a whole spelled-out word or starts a run of
    digits. Without spelled-out words, trying each digit run in turn finds what
    `finditer` would, without trying the pattern at every character.
    """
    if unit is None:
        return []
    if len(unit.plain) != len(unit.text):  # "2." numbers the clause; it is no amount
        return numbers(unit.plain)
    words = unit.words
    if words is None or not _SPELLED.keys().isdisjoint(words):
        return numbers(unit.text)
    folded = unit.text.lower()  # for ASCII text, its casefold
    matches = []
    end = 0
    for digits in _DIGITS_RE.finditer(folded):
        if digits.start() >= end and (match := _NUMBER_RE.match(folded, digits.start())):
            matches.append(match)
            end = match.end()
    return _number_values(matches)


# Marks that are not words but change what a sentence says: signs and comparisons, and
# punctuation that is part of a number ("-18", "> $100", "$1,000" vs "$1.000", "50%").
_MEANING_MARKS_RE = re.compile(r"[<>≤≥±=%$€£¥+]|(?<!\w)-(?=\d)|(?<=\d)[.,](?=\d)")


def _is_cosmetic(old: _Unit | None, new: _Unit | None) -> bool:
    """Same words and signs on both sides or, for an added or removed sentence, no words."""
    if old is not None and new is not None:
        return old.key == new.key and _MEANING_MARKS_RE.findall(
            old.plain
        ) == _MEANING_MARKS_RE.findall(new.plain)
    unit = old if old is not None else new
    return unit is None or not unit.key


# --------------------------------------------------------------------------- inside a section


def _diff_blocks(
    path: tuple[str, ...], old: Sequence[Block], new: Sequence[Block], cls: _Classifier
) -> list[Change]:
    """Changes between two block lists, looking at sentences only where blocks differ."""
    head, tail = _common_ends(old, new, lambda a, b: a.text == b.text and a.links == b.links)
    old, new = old[head : len(old) - tail], new[head : len(new) - tail]
    changes: list[Change] = []
    for op, i1, i2, j1, j2 in _opcodes([_body(b) for b in old], [_body(b) for b in new]):
        if op != "equal":
            changes.extend(_diff_run(path, old[i1:i2], new[j1:j2], cls))
    return _tag_moves(changes, cls)


def _diff_run(
    path: tuple[str, ...], old: Sequence[Block], new: Sequence[Block], cls: _Classifier
) -> list[Change]:
    """Changes in one run of differing blocks, sentence by sentence."""
    old_sentences = [(s, b) for b in old for s in _sentences(b, cls.split)]
    new_sentences = [(s, b) for b in new for s in _sentences(b, cls.split)]
    head, tail = _common_ends(old_sentences, new_sentences, lambda a, b: a[0] == b[0])
    old_units = [cls.unit(s, b) for s, b in old_sentences[head : len(old_sentences) - tail]]
    new_units = [cls.unit(s, b) for s, b in new_sentences[head : len(new_sentences) - tail]]
    pairs: list[_Pair] = []
    for op, i1, i2, j1, j2 in _opcodes([u.key for u in old_units], [u.key for u in new_units]):
        if op == "equal":
            pairs.extend(
                (a, b)
                for a, b in zip(old_units[i1:i2], new_units[j1:j2], strict=True)
                if a.text != b.text
            )
        else:
            pairs.extend(_pair_sentences(old_units[i1:i2], new_units[j1:j2], cls.words))
    changes = [cls.change(path, a, b) for a, b in pairs]
    return _attach_links(path, old, new, pairs, changes, cls)


def _sentences(block: Block, split: Callable[[str], list[str]]) -> list[str]:
    """The block's sentences; a leading "1." or "(a)" stays with the first, not one of its own."""
    enumerator, rest = split_enumerator(block.text)
    sentences = split(rest)
    if enumerator and sentences:
        sentences[0] = enumerator + sentences[0]
    return sentences


def _opcodes(old: list[Hashable], new: list[Hashable]) -> list[tuple[str, int, int, int, int]]:
    """SequenceMatcher opcodes, without building a matcher for the usual edits in place."""
    if len(old) == len(new):
        where = {item: i for i, item in enumerate(old)}
        if len(where) == len(old) and all(where.get(item, j) == j for j, item in enumerate(new)):
            # Nothing inserted, deleted or moved: an item found on both sides is at the same
            # index, so SequenceMatcher would match exactly the runs of equal items.
            return _in_place_opcodes(old, new)
    if old and new:
        return SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    return [("delete" if old else "insert", 0, len(old), 0, len(new))]


def _in_place_opcodes(
    old: list[Hashable], new: list[Hashable]
) -> list[tuple[str, int, int, int, int]]:
    """Opcodes of two lists of one length: runs of equal items and of replaced ones."""
    opcodes = []
    start = 0
    for same, run in groupby(map(eq, old, new)):
        end = start + sum(1 for _ in run)
        opcodes.append(("equal" if same else "replace", start, end, start, end))
        start = end
    return opcodes


_T = TypeVar("_T")


def _common_ends(
    old: Sequence[_T], new: Sequence[_T], same: Callable[[_T, _T], bool]
) -> tuple[int, int]:
    """How many items at the start and at the end of both lists are the same.

    Most edits touch a sentence or two, so cutting off the untouched ends first
    keeps the costlier alignment (and sentence folding) to the part that changed.
    """
    limit = min(len(old), len(new))
    head = 0
    while head < limit and same(old[head], new[head]):
        head += 1
    tail = 0
    while tail < limit - head and same(old[-1 - tail], new[-1 - tail]):
        tail += 1
    return head, tail


def _pair_sentences(
    old: Sequence[_Unit], new: Sequence[_Unit], words: Callable[[str], set[str]]
) -> list[_Pair]:
    """Pair reworded sentences in order (best total similarity); the rest are added/removed.

    `words` gives the words of a sentence's key to compare them by.
    """
    n, m = len(old), len(new)
    if not n or not m or n * m > MAX_PAIRING_CELLS:
        return [(a, None) for a in old] + [(None, b) for b in new]
    if n == m == 1:  # one sentence reworded (or replaced): the usual edit, no table needed
        if _similarity(words(old[0].key), words(new[0].key)):
            return [(old[0], new[0])]
        return [(old[0], None), (None, new[0])]
    new_words = [words(b.key) for b in new]
    old_words = [words(a.key) for a in old]
    score = [[_similarity(words, other) for other in new_words] for words in old_words]
    # best[i][j]: the highest total similarity pairing old[i:] with new[j:] in order.
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below, scores = best[i], best[i + 1], score[i]  # this loop runs n * m times
        for j in range(m - 1, -1, -1):
            paired = below[j + 1] + scores[j] if scores[j] else 0.0
            row[j] = max(below[j], row[j + 1], paired)
    pairs: list[_Pair] = []
    i = j = 0
    while i < n and j < m:
        if score[i][j] and best[i][j] == best[i + 1][j + 1] + score[i][j]:
            pairs.append((old[i], new[j]))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            pairs.append((old[i], None))
            i += 1
        else:
            pairs.append((None, new[j]))
            j += 1
    pairs.extend((a, None) for a in old[i:])
    pairs.extend((None, b) for b in new[j:])
    return pairs


def _similarity(a: set[str], b: set[str]) -> float:
    """Share of words two sentences have in common (Dice); 0 below the pairing threshold.

    Word order is left out on purpose: it is cheap, and a reworded sentence keeps
    most of its words whatever it does with their order.
    """
    if not a or not b:
        return 0.0
    ratio = 2 * len(a & b) / (len(a) + len(b))
    return ratio if ratio >= SENTENCE_SIMILARITY else 0.0


def _attach_links(
    path: tuple[str, ...],
    old: Sequence[Block],
    new: Sequence[Block],
    pairs: Sequence[_Pair],
    changes: list[Change],
    cls: _Classifier,
) -> list[Change]:
    """Tag the changes whose blocks lost or gained a link target; report leftovers on their own.

    Links belong to blocks, not sentences. A changed link goes with a changed
    sentence of its block, preferring a wholly added or removed sentence, and the
    last one ("... see here."); when no words around it changed, the link change
    is reported as a change of its block. Where the words read the same (a form
    moved, a locale segment), the change is `link-only`: recorded and shown, but
    not substantive; only rules that opted in (`links: alert`) match it.
    """
    old_targets, new_targets = _links(old), _links(new)
    removed = [target for target in old_targets if target not in new_targets]
    added = [target for target in new_targets if target not in old_targets]
    if not removed and not added:
        return changes
    lost: dict[int, list[str]] = {}
    gained: dict[int, list[str]] = {}
    lost_elsewhere = _assign_links(removed, [a for a, _ in pairs], changes, lost)
    gained_elsewhere = _assign_links(added, [b for _, b in pairs], changes, gained)
    result = [
        _with_links(
            change, lost.get(k, ()), gained.get(k, ()), cls.matches(*pairs[k], links_only=True)
        )
        if k in lost or k in gained
        else change
        for k, change in enumerate(changes)
    ]
    if lost_elsewhere or gained_elsewhere:
        old_block = next((b for b in old if set(b.links) & set(lost_elsewhere)), None)
        new_block = next((b for b in new if set(b.links) & set(gained_elsewhere)), None)
        old_block = old_block or _same_text(new_block, old)
        new_block = new_block or _same_text(old_block, new)
        old_unit = cls.unit(old_block.text, old_block) if old_block else None
        new_unit = cls.unit(new_block.text, new_block) if new_block else None
        old_text = old_block.text if old_block else None
        new_text = new_block.text if new_block else None
        block_change = Change(
            _change_kind(old_text, new_text),
            path,
            old_text,
            new_text,
            inline_fragments(old_text or "", new_text or ""),
            old_unit is None or new_unit is None or not _is_cosmetic(old_unit, new_unit),
        )
        matches = cls.matches(old_unit, new_unit, links_only=True)
        result.append(_with_links(block_change, lost_elsewhere, gained_elsewhere, matches))
    return result


def _with_links(
    change: Change, removed: Sequence[str], added: Sequence[str], link_matches: Sequence[RuleMatch]
) -> Change:
    """`change` with the link targets it lost and gained; words unchanged make it `link-only`."""
    tags = (*(t for t in change.tags if t != "cosmetic-only"), "link")
    if change.substantive:
        return replace(change, tags=tags, links_removed=tuple(removed), links_added=tuple(added))
    return replace(
        change,
        tags=(*tags, "link-only"),
        matches=tuple(link_matches),
        links_removed=tuple(removed),
        links_added=tuple(added),
    )


def _assign_links(
    links: Sequence[str],
    units: Sequence[_Unit | None],
    changes: Sequence[Change],
    owners: dict[int, list[str]],
) -> list[str]:
    """Give each link to a change whose sentence's block holds it; return the links none holds."""
    unowned = []
    for link in links:
        holders = [k for k, unit in enumerate(units) if unit and link in unit.block.links]
        if holders:
            owner = max(holders, key=lambda k: (changes[k].kind != "modified", k))
            owners.setdefault(owner, []).append(link)
        else:
            unowned.append(link)
    return unowned


def _links(blocks: Sequence[Block]) -> dict[str, None]:
    """Link targets of `blocks`, once each, in order (a dict keeps order and tests fast)."""
    return dict.fromkeys(link for block in blocks for link in block.links)


def _same_text(block: Block | None, blocks: Sequence[Block]) -> Block | None:
    """The block of `blocks` with the same words as `block`: where a link changed in place."""
    if block is None:
        return None
    return next((b for b in blocks if b.text == block.text), None)


def _change_kind(old: str | None, new: str | None) -> ChangeKind:
    if old is not None and new is not None:
        return "modified"
    return "added" if new is not None else "removed"


def _tag_moves(changes: list[Change], cls: _Classifier) -> list[Change]:
    """Mark a sentence removed in one place and added back elsewhere in the same section.

    It stays substantive: moving a bullet from under "You may" to under "You may
    not" changes its meaning, so a move is shown, never silently dropped.
    """
    kinds = {c.kind for c in changes}
    if "removed" not in kinds or "added" not in kinds:
        return changes
    removed = Counter(cls.plain_key(c.old) for c in changes if c.kind == "removed" and c.old)
    added = Counter(cls.plain_key(c.new) for c in changes if c.kind == "added" and c.new)
    moved = {key for key in removed & added if key}
    if not moved:
        return changes
    return [
        replace(change, tags=(*change.tags, "moved"))
        if change.kind != "modified" and cls.plain_key(change.old or change.new or "") in moved
        else change
        for change in changes
    ]


# --------------------------------------------------------------------------- sections


class _Alignment:
    """Which old section became which new one, found in passes from surest to loosest.

    Passes repeat until nothing new pairs up, because pairing a renamed parent
    lets its children be found under the parent's new path on the next pass.
    """

    def __init__(self, old: Sequence[Section], new: Sequence[Section]) -> None:
        self.old, self.new = old, new
        self.pairs: dict[int, int] = {}  # old index -> new index
        self.taken: set[int] = set()
        self.renames: dict[tuple[str, ...], tuple[str, ...]] = {}  # old path -> new path
        roots_old, roots_new = {s.path[:1] for s in old}, {s.path[:1] for s in new}
        if len(roots_old) == len(roots_new) == 1 and roots_old != roots_new:
            # A retitled page: every path starts with the title, so map the title first.
            self.renames[roots_old.pop()] = roots_new.pop()
        steps = (self._by_path, self._by_body, self._by_children, self._by_similarity)
        found = -1
        while found != len(self.pairs):
            found = len(self.pairs)
            for step in steps:
                old_free = [i for i in range(len(old)) if i not in self.pairs]
                new_free = [j for j in range(len(new)) if j not in self.taken]
                if not old_free or not new_free:
                    return
                step(old_free, new_free)

    def translate(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """Where `path` would be in the new document if only its ancestors were renamed."""
        for cut in range(len(path) - 1, 0, -1):
            renamed = self.renames.get(path[:cut])
            if renamed is not None:
                return renamed + path[cut:]
        return path

    def _pair(self, i: int, j: int) -> None:
        self.pairs[i] = j
        self.taken.add(j)
        self.renames.setdefault(self.old[i].path, self.new[j].path)

    def _pick(self, i: int, candidates: list[int]) -> int:
        """Among equally good candidates, prefer the same heading, then document order."""
        heading = self.old[i].heading
        return min(candidates, key=lambda j: (self.new[j].heading != heading, j))

    def _by_path(self, old_free: list[int], new_free: list[int]) -> None:
        """Same headings, even if they gained a "1." or "(a)", capitals or a full stop."""
        by_path: dict[tuple[str, ...], list[int]] = {}
        for j in new_free:
            by_path.setdefault(_plain_path(self.new[j].path), []).append(j)
        for i in old_free:
            path = self.old[i].path
            # renames already names the new path of a retitled page's root section
            candidates = by_path.get(_plain_path(self.renames.get(path) or self.translate(path)))
            if candidates:
                self._pair(i, candidates.pop(0))

    def _by_body(self, old_free: list[int], new_free: list[int]) -> None:
        by_body: dict[tuple[tuple[str, tuple[str, ...]], ...], list[int]] = {}
        for j in new_free:
            if self.new[j].blocks:
                by_body.setdefault(tuple(map(_plain_body, self.new[j].blocks)), []).append(j)
        for i in old_free:
            body = tuple(map(_plain_body, self.old[i].blocks))
            candidates = by_body.get(body) if body else None
            if candidates:
                j = self._pick(i, candidates)
                candidates.remove(j)
                self._pair(i, j)

    def _by_children(self, old_free: list[int], new_free: list[int]) -> None:
        """Pair heading-only sections (parents of others) that head the same subsections."""
        old_children, new_children = _children(self.old), _children(self.new)
        for i in old_free:
            kids = old_children.get(self.old[i].path)
            if self.old[i].blocks or not kids:
                continue
            candidates = [
                j
                for j in new_free
                if j not in self.taken
                and not self.new[j].blocks
                and new_children.get(self.new[j].path) == kids
            ]
            if candidates:
                self._pair(i, self._pick(i, candidates))

    def _by_similarity(self, old_free: list[int], new_free: list[int]) -> None:
        if len(old_free) * len(new_free) > MAX_PAIRING_CELLS:
            return  # a page rebuilt from scratch: reporting removed + added is the honest view
        new_bodies = {j: Counter(_plain_body(b)[0] for b in self.new[j].blocks) for j in new_free}
        for i in old_free:
            if not self.old[i].blocks:
                continue
            body = Counter(_plain_body(b)[0] for b in self.old[i].blocks)
            size = len(self.old[i].blocks)
            scored = [
                (2 * (body & new_bodies[j]).total() / (size + len(self.new[j].blocks)), j)
                for j in new_free
                if j not in self.taken and self.new[j].blocks
            ]
            best = max((score for score, _ in scored), default=0.0)
            if best >= SECTION_SIMILARITY:
                self._pair(i, self._pick(i, [j for score, j in scored if score == best]))


def _body(block: Block) -> tuple[str, tuple[str, ...]]:
    """What a reader sees in a block, whatever kind of block it is."""
    return block.text, block.links


def _plain_body(block: Block) -> tuple[str, tuple[str, ...]]:
    """A block as alignment compares it: a list enumerator moving into or out of it is no edit."""
    return split_enumerator(block.text)[1], block.links


def _plain_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """A section's identity: its headings' words, whatever their numbering, case or punctuation."""
    return tuple(fold(split_enumerator(heading)[1]) for heading in path)


def _children(sections: Sequence[Section]) -> dict[tuple[str, ...], tuple[str, ...]]:
    children: dict[tuple[str, ...], list[str]] = {}
    for section in sections:
        if len(section.path) > 1:
            children.setdefault(section.path[:-1], []).append(section.heading)
    return {path: tuple(headings) for path, headings in children.items()}


def _kept_in_place(pairs: dict[int, int]) -> set[int]:
    """Old indices of the largest set of paired sections whose relative order did not change."""
    olds = [i for i, _ in sorted(pairs.items(), key=lambda pair: pair[1])]
    tail_values: list[int] = []
    tails: list[int] = []
    previous = [-1] * len(olds)
    for k, value in enumerate(olds):
        pos = bisect_left(tail_values, value)
        if pos == len(tail_values):
            tail_values.append(value)
            tails.append(k)
        else:
            tail_values[pos] = value
            tails[pos] = k
        previous[k] = tails[pos - 1] if pos else -1
    kept: set[int] = set()
    k = tails[-1] if tails else -1
    while k != -1:
        kept.add(olds[k])
        k = previous[k]
    return kept


def _compare(old: Section, new: Section, in_place: bool, cls: _Classifier) -> SectionChange:
    """The SectionChange for one paired section: renamed, moved, modified or unchanged."""
    # Same path: the digests tell. Otherwise the digest covers the path too; compare blocks.
    same_body = old.digest == new.digest if old.path == new.path else old.blocks == new.blocks
    changes = [] if same_body else _diff_blocks(new.path, old.blocks, new.blocks, cls)
    if old.heading != new.heading:
        heading = cls.change(
            new.path,
            cls.unit(old.heading, Block("h", old.heading)),
            cls.unit(new.heading, Block("h", new.heading)),
            ("heading",),
        )
        return SectionChange("renamed", old.path, new.path, (heading, *changes))
    kind: SectionChangeKind = "moved" if not in_place else "modified" if changes else "unchanged"
    return SectionChange(kind, old.path, new.path, tuple(changes))


def diff_documents(
    old: Document,
    new: Document,
    *,
    page_id: str,
    old_id: str,
    new_id: str,
    rules: Sequence[Rule] = (),
    ignore: Sequence[str | re.Pattern[str]] = (),
    language: str | None = None,
) -> DiffResult:
    """Everything that differs between two versions of a page, in the new page's order.

    Removed sections appear where they used to be; unchanged sections are kept
    (kind "unchanged") so renderers can show them on request. A renamed section
    starts with a change tagged "heading"; renamed and moved sections also carry
    any edits of their text. `rules` are the watched terms to report (the caller
    picks the page's; those written for another language are left out); `ignore`
    takes the page's ignore patterns: text they match never counts as a change.
    `language` is the locale the watch is pinned to, for a page that does not
    declare its own (see languages.page_language).
    """
    tag = page_language(new, old, language)
    cls = _Classifier(
        # A rule written for one language watches the pages in that language only.
        compile_rules(r for r in rules if r.language is None or matches_language(r.language, tag)),
        [re.compile(p) if isinstance(p, str) else p for p in ignore],
        tag,
    )
    alignment = _Alignment(old.sections, new.sections)
    pairs = alignment.pairs
    kept = _kept_in_place(pairs)
    from_new = {j: i for i, j in pairs.items()}
    entries: list[tuple[tuple[int, int, int], SectionChange]] = []
    for j, section in enumerate(new.sections):
        i = from_new.get(j)
        if i is None:
            added = _diff_blocks(section.path, (), section.blocks, cls)
            entries.append(((j, 0, 0), SectionChange("added", None, section.path, tuple(added))))
            continue
        before = old.sections[i]
        in_place = i in kept and alignment.translate(before.path) == section.path
        entries.append(((j, 0, 0), _compare(before, section, in_place, cls)))
    anchor = -1
    for i, section in enumerate(old.sections):
        if i in pairs:
            anchor = pairs[i]
            continue
        removed = _diff_blocks(section.path, section.blocks, (), cls)
        entries.append(
            ((anchor, 1, i), SectionChange("removed", section.path, None, tuple(removed)))
        )
    entries.sort(key=lambda entry: entry[0])
    return DiffResult(page_id, old_id, new_id, tuple(change for _, change in entries))
