"""What a sentence says that a reader must not miss: its words, its obligations, its numbers.

`fold` decides what is cosmetic; `obligations` and `numbers` tag a change whose duty,
permission, amount or time limit moved, whatever else the sentence kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import compress, count
from operator import itemgetter

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
# The first four letters of every cue and stem: a token without one of them is neither.
_HEADS = frozenset({*(cue[:4] for cue in _CUES), *_STEM_BY_HEAD})
_HEAD = itemgetter(slice(0, 4))


def obligations(text: str) -> frozenset[tuple[str, str]]:
    """The modal and obligation words of `text`, each with its polarity ("+" or "-").

    Comparing these sets finds "may request" -> "may not request" (same modal,
    flipped polarity) as well as "must" -> "should" or a dropped "only".
    """
    return _obligations(_TOKEN_RE.findall(text.casefold().replace("’", "'")))


def _obligations(tokens: list[str]) -> frozenset[tuple[str, str]]:
    """`obligations` of a text from its lower-case word tokens."""
    found: set[tuple[str, str]] = set()
    # Most words are neither a cue nor a stem: one pass in C picks the few worth a look.
    for i in compress(count(), map(_HEADS.__contains__, map(_HEAD, tokens))):
        token = tokens[i]
        if token not in _CUES:
            stem = _STEM_BY_HEAD.get(token[:4])
            if stem is not None and token.startswith(stem):
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
SPELLED = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}
# fmt: on
_SPELLED_RE = "|".join(sorted(SPELLED, key=len, reverse=True))
# A number (digits, or spelled out, "twenty-four" too) and the time unit or percent after it.
NUMBER_RE = re.compile(
    rf"(?<![\w.,])(?:(?P<digits>\d+(?:[.,]\d+)*)(?P<pct>%)?|(?P<word>(?:{_SPELLED_RE})"
    rf"(?:-(?:{_SPELLED_RE}))?)\b)"
    r"(?:[\s-]+(?P<unit>(?:(?:business|calendar|working)\s+)?"
    r"(?:second|minute|hour|day|week|month|year|percent))s?\b)?"
)


DIGITS_RE = re.compile(r"\d+")
_THOUSANDS_RE = re.compile(r"\d{1,3}(?:,\d{3})+")


def numbers(text: str) -> list[tuple[str, str]]:
    """Numbers in `text`, sorted, with the unit after each ("30 days" -> ("30", "day")).

    Spelled-out numbers count as their value, so "thirty days" and "30 days" are
    the same limit; a bare "one" ("no one", "one of") is not a number.
    """
    return number_values(NUMBER_RE.finditer(text.casefold()))


def number_values(matches: Iterable[re.Match[str]]) -> list[tuple[str, str]]:
    """`numbers` from the matches of NUMBER_RE."""
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
            value = str(sum(SPELLED[word] for word in match["word"].split("-")))
        if unit == "percent":
            value, unit = value.rstrip("%") + "%", ""
        found.append((value, " ".join(unit.split())))
    return sorted(found)
