"""What policywatch knows about each language Seller Central is written in.

After the fetch, everything that reads the words (sentences, obligations, numbers,
watched terms) needs the page's language: "Sie dürfen … nicht" is a prohibition only
to a reader of German. The language comes from the page itself (`<html lang>`, kept in
the Document metadata), else from the locale the watch is pinned to, else from the
words on the page; English when nothing tells.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from policywatch.clock import parse_iso
from policywatch.content import Document, Snapshot
from policywatch.document.normalize import ascii_runs

ENGLISH = "en"


def language_code(tag: str | None) -> str:
    """The bare language of a tag ("de-DE", "pt_BR", "JA" -> "de", "pt", "ja"); English if none."""
    code = re.split(r"[-_]", (tag or "").strip(), maxsplit=1)[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else ENGLISH


@functools.lru_cache(maxsize=1024)
def matches_language(wanted: str, tag: str | None) -> bool:
    """Whether a rule for `wanted` ("de", or "de-CH" for one region) fits a page in `tag`.

    Cached: every diff asks it of every rule, and the tags are a handful of strings.
    """
    have = (tag or ENGLISH).lower().replace("_", "-")
    want = wanted.lower().replace("_", "-")
    return have == want or (language_code(have) == want) or have.startswith(want + "-")


# Languages written without spaces between words.
UNSPACED = frozenset({"ja", "zh", "th"})


def words_of(key: str, code: str) -> set[str]:
    """The words of a folded sentence, for telling a reworded sentence from a new one.

    Without spaces, a sentence is one long "word"; pairs of characters stand in for
    words there, so "連絡できます" and "連絡できません" share most of theirs.
    """
    if code not in UNSPACED:
        return set(key.split())
    text = key.replace(" ", "")
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


# --------------------------------------------------------------------------- sentences

# Abbreviations (lower-case, without the final period) that a legal text in each language
# writes before a capital or a number without ending the sentence. Single letters
# ("z. B.", "M. Dupont", "S. 12") and dotted ones ("t.ex.", "c.-à-d.") need no entry.
# fmt: off
_SHARED_ABBREVIATIONS = (
    "art", "artt", "arts", "nr", "no", "nos", "ver", "vol", "max", "min", "ca", "cf", "cfr",
    "pp", "ff", "tel", "ref", "inc", "ltd", "co", "corp", "dr", "prof",
)
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "de": ("abs", "abschn", "bzw", "bspw", "dgl", "evtl", "ggf", "gem", "inkl", "kap", "mind",
           "mwst", "sog", "str", "usw", "vgl", "zzgl", "ziff", "lit", "hr", "fr", "jan", "feb",
           "aug", "sept", "okt", "nov", "dez", "zif", "anm", "erg", "bzgl"),
    "fr": ("chap", "env", "mme", "mlle", "nb", "réf", "tél", "éd", "janv", "févr", "avr",
           "juil", "sept", "oct", "nov", "déc", "al", "ex", "suiv", "hors"),
    "es": ("ej", "núm", "cap", "pág", "págs", "sr", "sra", "srta", "dra", "ud", "uds", "aprox",
           "máx", "mín", "av", "apdo", "ene", "dic", "sig", "ss"),
    "it": ("es", "cap", "pag", "pagg", "sig", "sigg", "dott", "avv", "nn", "lett", "co",
           "gen", "febbr", "ott", "dic", "ss"),
    "pt": ("ex", "pág", "sr", "sra", "dra", "cap", "núm", "nº", "inc", "al"),
    "nl": ("bijv", "blz", "incl", "excl", "dhr", "mevr", "zgn", "mr", "lid", "jl", "resp"),
    "pl": ("np", "tzn", "ust", "pkt", "itp", "itd", "tj", "tys", "mln", "godz", "str", "poz",
           "wg", "dz", "zł", "ok", "tzw", "ul", "r", "lit"),
    "sv": ("dvs", "osv", "kap", "jfr", "inkl", "exkl", "st", "kl", "resp", "ang"),
    "tr": ("örn", "ör", "vb", "vs", "md", "bkz", "yy", "sok", "cad", "mah", "no"),
}
# Month names after a day with a period ("1. März", "15. Januar"): an ordinal, no sentence end.
_MONTHS: dict[str, tuple[str, ...]] = {
    "de": ("januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "dezember", "jan", "feb", "mär", "apr", "jun",
           "jul", "aug", "sep", "sept", "okt", "nov", "dez"),
    "pl": ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
           "września", "października", "listopada", "grudnia"),
    "tr": ("ocak", "şubat", "mart", "nisan", "mayıs", "haziran", "temmuz", "ağustos", "eylül",
           "ekim", "kasım", "aralık"),
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december"),
}
# fmt: on
_ABBREVIATION_SETS = {
    code: frozenset((*_SHARED_ABBREVIATIONS, *words)) for code, words in _ABBREVIATIONS.items()
}
_SHARED = frozenset(_SHARED_ABBREVIATIONS)


def abbreviations(code: str) -> frozenset[str]:
    """Abbreviations of language `code` (see _ABBREVIATIONS) and the ones every language uses."""
    return _ABBREVIATION_SETS.get(code, _SHARED)


_MONTH_SETS = {code: frozenset(names) for code, names in _MONTHS.items()}


def months(code: str) -> frozenset[str]:
    """Month names of language `code` that can follow a day written "1."."""
    return _MONTH_SETS.get(code, frozenset())


# --------------------------------------------------------------------------- which language

# A few of the commonest words of each language: enough to tell a policy page's language
# when neither the page nor the watch says it.
# fmt: off
_COMMON_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "and", "to", "of", "you", "your", "is", "are", "for", "with", "not", "or"),
    "de": ("der", "die", "das", "und", "sie", "nicht", "mit", "für", "ist", "ein", "eine", "zu",
           "von", "den", "oder", "ihre"),
    "fr": ("le", "la", "les", "et", "des", "vous", "pas", "pour", "une", "est", "du", "ne", "ou",
           "votre", "vos"),
    "es": ("el", "la", "los", "las", "y", "que", "en", "para", "no", "una", "su", "con", "por",
           "del", "o"),
    "it": ("il", "la", "le", "e", "di", "che", "non", "per", "una", "del", "gli", "con", "sono",
           "della", "o"),
    "pt": ("o", "os", "as", "e", "que", "não", "para", "com", "uma", "do", "da", "você", "seu"),
    "nl": ("de", "het", "een", "en", "van", "niet", "je", "u", "voor", "met", "zijn", "dat", "of"),
    "pl": ("i", "w", "nie", "na", "się", "z", "do", "jest", "to", "że", "lub", "oraz"),
    "sv": ("och", "att", "det", "som", "är", "inte", "för", "med", "på", "av", "du", "eller"),
    "tr": ("ve", "bir", "bu", "için", "ile", "olarak", "veya", "değil", "daha", "gibi"),
}
# fmt: on
_LANGUAGES_BY_WORD: dict[str, list[str]] = {}
for _code, _words in _COMMON_WORDS.items():
    for _word in _words:
        _LANGUAGES_BY_WORD.setdefault(_word, []).append(_code)
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_SAMPLE = 800  # characters, ~120 words: the first paragraphs tell as well as the whole page


def detect_language(texts: Iterable[str]) -> str | None:
    """The language most of the first words of `texts` are common words of; None if unclear."""
    parts: list[str] = []
    size = 0
    for text in texts:
        parts.append(text)
        size += len(text)
        if size >= _SAMPLE:
            break
    sample = "\n".join(parts)[:_SAMPLE]
    if sample.isascii():  # every diff of a page that does not say its language comes here
        words = ascii_runs(sample, letters=True)  # _LETTERS_RE's words, found faster
    elif _KANA_RE.search(sample):
        return "ja"
    elif _ARABIC_RE.search(sample):
        return "ar"
    else:
        words = _LETTERS_RE.findall(sample.casefold())
    known = _LANGUAGES_BY_WORD
    votes = Counter(code for word in words if word in known for code in known[word])
    ranked = votes.most_common(2)
    if not ranked or ranked[0][1] < 3 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return ranked[0][0]


def page_language(new: Document, old: Document, pinned: str | None = None) -> str:
    """The language two versions of a page are written in, as a tag ("de-DE", "ja", "en").

    What the page declares wins, for the page is what is read; then the locale the
    watch is pinned to; then the words themselves.
    """
    declared = new.metadata.get("language") or old.metadata.get("language")
    if declared:
        return declared
    if pinned:
        return pinned
    texts = (block.text for doc in (new, old) for s in doc.sections for block in s.blocks)
    return detect_language(texts) or ENGLISH


# --------------------------------------------------------------------------- translation lag

_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "tr": "Turkish",
    "ar": "Arabic", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
}  # fmt: skip


def language_name(tag: str) -> str:
    """ "German" for "de-DE"; the tag itself for a language without a name here."""
    return _NAMES.get(language_code(tag), tag)


def translation_lag(
    first: tuple[str, Snapshot], second: tuple[str, Snapshot], *, now: datetime, days: float
) -> str | None:
    """Whether one language of a policy changed and the other has not followed within `days`.

    Each side is (locale, its newest version); a version's `captured_at` is when its
    wording was first seen. Amazon updates its translations days after the source, so
    changes less than `days` apart are one change, and a change younger than `days`
    has not had its chance to be followed yet: neither is reported.
    """
    (old_tag, old), (new_tag, new) = sorted((first, second), key=lambda side: side[1].captured_at)
    changed, since = parse_iso(new.captured_at), parse_iso(old.captured_at)
    grace = timedelta(days=days)
    if changed - since <= grace or now - changed <= grace:
        return None
    return (
        f"{language_name(new_tag)} changed on {changed:%Y-%m-%d}; "
        f"{language_name(old_tag)} unchanged since {since:%Y-%m-%d}"
    )
