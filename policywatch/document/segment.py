"""Sentences in the page's own language.

The diff compares sentence by sentence, so a split inside "z. B." or "cf. art. 3" turns
one reworded sentence into several unrelated pieces, and a Japanese paragraph that never
splits at "。" turns into one huge change. English keeps the tuned splitter below (fast, and
its results are pinned by the tests). Every other language goes through sentencex, a
rule-based segmenter kept by Wikimedia for ~300 languages (bench/bench_segment.py measures
the candidates on our labelled seller-policy sentences). Out of the box blingfire found
slightly more of them (215 of 229, sentencex 205, pysbd 194) but needs numpy and has had
no release since 2021; sentencex is a dependency-free wheel released this year, the best
on German and Japanese, and returns exact slices of the text. pysbd is ~650x slower than
the English splitter; sentencex with the mending below takes tens of microseconds a
paragraph, and only blocks that changed are split. sentencex still breaks after legal
abbreviations it does not know ("Ziff. 2", "pag. 12", "t.ex. för"), before a lower-case
word, and inside brackets; `_joined` mends those breaks with the language data in
policywatch.languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import add

import sentencex

from policywatch.document.languages import ENGLISH, abbreviations, language_code, months

# --------------------------------------------------------------------------- English

# Words that end with a period without ending the sentence.
# fmt: off
_ABBREVIATIONS = (
    "inc", "ltd", "llc", "co", "corp", "plc", "sarl", "gmbh", "mr", "mrs", "ms", "dr", "st", "jr",
    "sr", "vs", "approx", "dept", "est", "fig", "cf", "al", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "min", "max",
    # section references and amounts in legal text ("Sec. 5", "ch. 4", "p. 12", "excl. VAT")
    "sec", "secs", "art", "arts", "para", "paras", "ch", "p", "pp", "excl", "incl",
)
# fmt: on
# A sentence ends at . ! ? (and closing quotes or brackets) before a space and a capital or
# digit, unless the period closes an abbreviation: a listed word, a dotted one (e.g, i.e,
# U.S), a capital initial (J. Smith), or "No." before a number.
_AFTER_END = r"(?=[\"'”’)\]]*\s+[\"'“‘(\[]?[A-Z0-9])"


def _not_after(words: str) -> str:
    """Look-behinds: the period does not close one of `words`, a whole word (or the text's first).

    A look-behind must have one width, so `words` must all be of one length.
    """
    return rf"(?<!\W{words}\.)(?<!^{words}\.)"


_NOT_ABBREVIATION = (
    "".join(
        _not_after("(?i:" + "|".join(word for word in _ABBREVIATIONS if len(word) == length) + ")")
        for length in sorted({len(word) for word in _ABBREVIATIONS})
    )
    + _not_after("[A-Z]")  # an initial: "J. Smith"
    + r"(?<!\.[A-Za-z]\.)"  # the last letter of a dotted word: "e.g.", "U.S."
    # "No." and "Nos." are abbreviations only before a number: "No. 5", but "Say no. Then".
    + rf"(?:{_not_after('[Nn]o')}{_not_after('[Nn]os')}|(?!\s+\d))"
)


def _ends(first: str) -> re.Pattern[str]:
    """Where sentences end, for `re.split`: the end marks and closing quotes kept, the space cut.

    The abbreviation look-behinds come after the look-ahead for a capital, so the regex
    engine tries them only where a sentence could end, and a paragraph is split in one
    call in C, with no Python step per sentence.
    """
    return re.compile(rf"({first}{_AFTER_END}{_NOT_ABBREVIATION}[\"'”’)\]]*)\s+")


# The first character is spelled out so the regex engine can skip ahead to it instead of
# trying every position; most blocks only have periods, and a regex that starts with one
# literal character skips fastest of all.
_END_RE = _ends("[.!?…][.!?…]*")
_PERIOD_END_RE = _ends(r"\.\.*")


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Split a block into sentences in `language` (a tag like "de-DE"; English when unknown).

    Abbreviations, ordinals and section references stay inside their sentence:
    "e.g.", "U.S.", "No. 5", "z. B.", "1. März", "cf. art. 3", "S.à r.l.".
    """
    return splitter(language)(text)


def splitter(language: str | None) -> Callable[[str], list[str]]:
    """`split_sentences` for one language, looked up once for the many blocks of a page."""
    code = language_code(language)
    if code == ENGLISH:
        return _english
    return lambda text: _joined(sentencex.segment(code, text), code)


def _english(text: str) -> list[str]:
    """Each end mark (and closing quote) stays with its sentence; the space after it goes."""
    ends = _END_RE if "!" in text or "?" in text or "…" in text else _PERIOD_END_RE
    parts = ends.split(text)
    # Text and end marks alternate, text first and last; an end mark is never empty, so
    # neither is a sentence. (map runs in C; a comprehension here took 15% longer.)
    texts, marks = parts[0:-1:2], parts[1::2]
    sentences = list(map(str.strip, map(add, texts, marks)))
    tail = parts[-1].strip()
    if tail:
        sentences.append(tail)
    return sentences


# --------------------------------------------------------------------------- other languages

# The last word before a final period, when it is letters with the inner periods and
# hyphens of a dotted abbreviation ("c.-à-d", "d.w.z", "S.à r.l" ends in "r.l").
_WORD_RE = re.compile(r"[^\W\d_]+(?:[.-]+[^\W\d_]+)*")
_DOTTED_PART_RE = re.compile(r"[^\W\d_]{1,3}")
_PART_SEPARATOR_RE = re.compile(r"[.-]+")
_ORDINAL_RE = re.compile(r"(?:^|\D)\d{1,2}\.\Z")
_BRACKET_RE = re.compile(r"[(（「『\[)）」』\]]")
_OPENERS, _CLOSERS = "(（「『[", ")）」』]"
# Japanese quotes a whole sentence, "。」", and goes on with the verb of quoting: 「…。」と…
_QUOTE_GOES_ON = ("と", "って", "との", "という")


def _joined(pieces: list[str], code: str) -> list[str]:
    """sentencex's pieces, with the breaks no reader of `code` would make mended."""
    known, month_names = abbreviations(code), months(code)
    sentences: list[str] = []
    open_brackets = 0  # in the sentence being built
    for piece in pieces:
        if sentences and (
            open_brackets > 0 or _continues(sentences[-1], piece.lstrip(), known, month_names)
        ):
            sentences[-1] += piece
        else:
            sentences.append(piece)
            open_brackets = 0
        for mark in _BRACKET_RE.findall(piece):
            open_brackets += 1 if mark in _OPENERS else -1
    return [s for s in map(str.strip, sentences) if s]


def _continues(before: str, after: str, known: frozenset[str], month_names: frozenset[str]) -> bool:
    """Whether the text `after` a break still belongs to the sentence `before` it.

    `known` are the language's abbreviations, `month_names` its months (see languages).
    """
    if not after:
        return True
    first = after[0]
    if first.islower() or first in _CLOSERS or first in ",;:":
        return True  # no sentence starts lower-case or with a closing mark
    end = before.rstrip()
    if end.endswith(("。」", "。』")) and after.startswith(_QUOTE_GOES_ON):
        return True
    if not end.endswith(".") or first in "¿¡":
        return False
    if end[-2:-1].isdigit() and _ORDINAL_RE.search(end[-4:]):
        # "1. März", "15. Januar": a day of the month, not a sentence that ends in a number
        return after.split(maxsplit=1)[0].casefold() in month_names
    word = (end[:-1].rsplit(None, 1) or [""])[-1].lstrip("(\"'„“«[")
    word = word.rsplit("'", 1)[-1].rsplit("’", 1)[-1]  # "l'art." is "art."
    if not _WORD_RE.fullmatch(word):
        return False
    if len(word) == 1 or word.casefold() in known:
        return True  # an initial ("M. Dupont", "z. B.") or a listed abbreviation
    parts = _PART_SEPARATOR_RE.split(word)
    return len(parts) > 1 and all(map(_DOTTED_PART_RE.fullmatch, parts))
