"""Decoding a page body to text the way browsers do: BOM, header, meta charset, then detection.

A wrong or missing charset is common on old policy pages; a mis-decoded page would look
like a change of every accented word, so the decision follows the WHATWG rules browsers use.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from policywatch.document.parse import remember_utf8_source

META_SNIFF_BYTES = 4096


_HTML_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([a-zA-Z]{2,3})")
# Latin-script languages whose legacy code page is not windows-1252.
_OTHER_LATIN_LANGUAGES = frozenset(
    ["az", "bs", "cs", "et", "hr", "hu", "lt", "lv", "pl", "ro", "sk", "sl", "sq", "sr", "tr"]
)
WESTERN_MARGIN = 0.03  # detector "chaos" within which windows-1252 wins the tie
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
# Browsers decode these labels as windows-1252 (WHATWG Encoding), and so do pages
# that say latin-1 but use curly quotes; an ASCII-compatible page cannot be UTF-16.
_CODEC_AS_BROWSERS_DO = {
    "ascii": "cp1252",
    "latin_1": "cp1252",
    "iso8859-1": "cp1252",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# ---------------------------------------------------------------------- decoding


def decode_html(raw: bytes, content_type: str | None = None) -> str:
    """Decode an HTML body as a browser would: BOM, HTTP charset, <meta>, then detection.

    Also used for saved HTML files (`import`), which have no HTTP header.
    """
    encoding = (
        _bom_encoding(raw)
        or _known_codec(_search(_HEADER_CHARSET, content_type or ""))
        or _known_codec(_search(_META_CHARSET, raw[:META_SNIFF_BYTES]))
        or _detect(raw)
    )
    if encoding == "utf-8":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")
        remember_utf8_source(text, raw)  # so parsing it need not encode it back
        return text
    return raw.decode(encoding, errors="replace")


def _bom_encoding(raw: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    return None


def _search(pattern: re.Pattern, data: str | bytes) -> str | None:
    match = pattern.search(data)
    if match is None:
        return None
    label = match.group(1)
    return label.decode("ascii", "replace") if isinstance(label, bytes) else label


def _known_codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None for labels Python lacks."""
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _CODEC_AS_BROWSERS_DO.get(name, name)


def _detect(raw: bytes) -> str:
    """Guess an undeclared charset: UTF-8 if it decodes, else a detector leaning to windows-1252.

    Strict UTF-8 rarely passes on anything else. Among single-byte guesses the
    detector often ranks a Baltic or Central European code page a hair above
    windows-1252 on short Western text; browsers default to windows-1252 there,
    and so do we unless the page's language says otherwise.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    results = charset_normalizer.from_bytes(raw)
    best = results.best()
    if best is None:
        return "utf-8"
    western = next((r for r in results if "cp1252" in r.could_be_from_charset), None)
    lang = _search(_HTML_LANG, raw[:META_SNIFF_BYTES]) or ""
    if (
        western is not None
        and western.chaos <= best.chaos + WESTERN_MARGIN
        and lang.lower() not in _OTHER_LATIN_LANGUAGES
    ):
        return "cp1252"
    return _known_codec(best.encoding) or "utf-8"
