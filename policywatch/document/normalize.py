"""Text and link normalisation: make cosmetic noise byte-identical before hashing.

Seller Central re-renders the same policy with curly or straight quotes, en
dashes or hyphens, non-breaking spaces, hard-wrapped source lines and
per-request link parameters. A monitor that hashes raw text cries wolf on every
one of those, so everything that is hashed goes through these two functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Invisible characters that editors and CMSs sprinkle into text: zero-width space,
# non-joiner, joiner, word joiner, BOM, soft hyphen. They never change what a reader sees.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

# Applied before NFKC so that NFKC cannot split a double prime into two primes first.
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d"

_REPLACEMENTS = {
    **dict.fromkeys(_INVISIBLE, ""),
    **dict.fromkeys(_SINGLE_QUOTES, "'"),
    **dict.fromkeys(_DOUBLE_QUOTES, '"'),
    **dict.fromkeys(_DASHES, "-"),
}
# A regex finds the few special characters faster than str.translate walks every one.
_SPECIAL_RE = re.compile("[" + "".join(_REPLACEMENTS) + "]")

# Every Unicode space, tab and line break (nbsp and narrow nbsp included).
WHITESPACE_RE = re.compile(r"\s+")

# Query parameters that vary per visit, per locale or per campaign and never change
# where a link leads: Amazon's ref/ref_/ld tracking, locale switches, session ids,
# search-result counters (qid, sr), analytics tags, and return-to-after-sign-in
# targets (destination, redirect_to ...), whose format Seller Central keeps changing.
# Per-request tokens too: signatures and expiry of signed URLs (S3, CloudFront, GCS),
# access tokens, nonces and cache busters (v, cb, t, _), new on every render.
VOLATILE_PARAM_RE = re.compile(
    r"^(?:ref_?|ld|locale|language|lang|mons_sel_locale|pagename|sid|session[-_]?id|"
    r"jsessionid|phpsessid|initialsessionid|qid|sr|ie|_encoding|utm_\w*|gclid|fbclid|"
    r"destination|redirect_to|return_?to|return_?url|"
    r"x-(?:amz|goog)-\w+|signature|sig|key-pair-id|policy|expires|token|access_token|"
    r"auth|nonce|cb|cache_?buster|rnd|rand|_|t|ts|timestamp|v)$",
    re.IGNORECASE,
)

# Amazon also puts tracking in the path: ".../comment-ca-marche.html/ref=schelp_fr_soa_h".
PATH_REF_RE = re.compile(r"/ref=[^/]*")

# The number or letter a clause, list item or heading starts with: "1.", "2.3.", "(a)",
# "b)", "iv.", "§ 4". Lists move it between markup (<ol><li>) and text (<p>1. ...) and
# renumber on every insertion; it never is the wording. "2.5 million" has no mark after
# the number and keeps it.
ENUMERATOR_RE = re.compile(
    r"^\s*(?:\(?(?:\d{1,3}(?:\.\d{1,3})*|[a-z]|[ivxlc]{1,6})[.)]|\((?:\d{1,3}|[a-z]|[ivxlc]{1,6})\)"
    r"|§\s*\d{1,3}(?:\.\d{1,3})*\.?)\s+(?=\S)",
    re.IGNORECASE,
)

# Links that lead nowhere a policy reader can follow.
_UNFOLLOWABLE_SCHEMES = frozenset({"javascript", "mailto", "tel", "data", "about", "blob"})


def normalize_text(text: str, ignore: Sequence[re.Pattern[str]] = ()) -> str:
    """Return `text` as one canonical line, so cosmetic variants hash the same.

    Unicode NFKC, curly quotes and primes made straight, every dash a hyphen,
    zero-width characters and soft hyphens deleted, and every run of whitespace
    (nbsp, narrow nbsp, tabs, the line breaks of re-wrapped source) one space.

    `ignore` patterns see the already normalised text (straight quotes, single
    spaces), which keeps user-written patterns simple; their matches are deleted.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _SPECIAL_RE.sub(_replace_special, text))
        # NFKC turns a few presentation forms into dashes (U+FE31 -> em dash): map those too.
        text = _SPECIAL_RE.sub(_replace_special, text)
    text = " ".join(text.split())
    if ignore and text:
        for pattern in ignore:
            text = pattern.sub("", text)
        text = " ".join(text.split())
    return text


def _replace_special(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def _lowering_table(keep: Callable[[str], bool]) -> bytes:
    """A `bytes.translate` table: ASCII letters lower-cased, what `keep` takes kept, the rest
    a space. It covers all 256 bytes, though only ASCII text is ever translated."""
    return bytes(
        c | 32 if chr(c).isalpha() else c if keep(chr(c)) else 32 for c in range(128)
    ).ljust(256, b" ")


_WORD_CHARACTERS = _lowering_table(lambda c: c.isalnum() or c == "_")  # ASCII \w
_LETTERS = _lowering_table(str.isalpha)


def ascii_runs(text: str, *, letters: bool = False) -> list[str]:
    r"""The runs of word characters (only letters, with `letters`) of lower-cased ASCII `text`.

    What `re.findall(r"\w+")` (or `[^\W\d_]+`) finds in `text.lower()`, for a third of
    the time: every changed sentence, and the language guess of every diff, is cut
    into words, and a byte table and a split do it in C. `text` must be ASCII.
    """
    return text.encode().translate(_LETTERS if letters else _WORD_CHARACTERS).decode().split()


def split_enumerator(text: str) -> tuple[str, str]:
    """("1. ", "Enrolment") for "1. Enrolment"; ("", text) when it starts with no enumerator."""
    found = ENUMERATOR_RE.match(text)
    return (text[: found.end()], text[found.end() :]) if found else ("", text)


def normalize_link(href: str, base_url: str) -> str | None:
    """Return the absolute target of `href` with volatile parts removed, or None.

    None means the link has no followable target (javascript:, mailto:, tel:,
    data:, an empty href or an in-page #anchor); such links are not part of the
    policy. Remaining query parameters are sorted so their order is not a change.
    """
    href = WHITESPACE_RE.sub("", href or "")
    if not href or href.startswith("#"):
        return None
    scheme = href.split(":", 1)[0].lower() if ":" in href else ""
    if scheme in _UNFOLLOWABLE_SCHEMES:
        return None
    try:
        parts = urlsplit(urljoin(base_url, href))
    except ValueError:
        return None
    if parts.scheme.lower() in _UNFOLLOWABLE_SCHEMES:
        return None
    netloc = parts.netloc.lower()
    default_port = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default_port and netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    path = PATH_REF_RE.sub("", parts.path) or ("/" if netloc else "")
    params = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not VOLATILE_PARAM_RE.match(key)
    )
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(params), ""))
