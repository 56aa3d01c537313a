"""Is it this page, for this marketplace, in this language? The gate's check of a document.

Seller Central may answer with the same article for another marketplace, or in another
language than the page was configured for; the country banner (in whichever chrome
language the site chose this time) and the document's language decide.
"""

from __future__ import annotations

import re

from policywatch.content import Document
from policywatch.document.normalize import normalize_text
from policywatch.models import PageSpec

# The country banner in the page's own chrome language: Seller Central flips
# between English and the marketplace language from one fetch to the next.
_COUNTRY_NAMES = {
    "United States": ("États-Unis", "Vereinigte Staaten", "Stati Uniti", "Estados Unidos"),
    "United Kingdom": ("Royaume-Uni", "Vereinigtes Königreich", "Regno Unito", "Reino Unido"),
    "Germany": ("Allemagne", "Deutschland", "Germania", "Alemania", "Duitsland", "Niemcy"),
    "France": ("Frankreich", "Francia", "Frankrijk", "Francja"),
    "Italy": ("Italie", "Italien", "Italia", "Italië", "Włochy"),
    "Spain": ("Espagne", "Spanien", "Spagna", "España", "Spanje", "Hiszpania"),
    "Netherlands": ("Pays-Bas", "Niederlande", "Paesi Bassi", "Países Bajos", "Nederland"),
    "Sweden": ("Suède", "Schweden", "Svezia", "Suecia", "Sverige"),
    "Poland": ("Pologne", "Polen", "Polonia", "Polska"),
    "Belgium": ("Belgique", "Belgien", "Belgio", "Bélgica", "België"),
    "Japan": ("日本", "Japon", "Giappone", "Japón"),
    "Mexico": ("México", "Mexique", "Messico"),
    "Turkey": ("Türkiye", "Turquie", "Türkei"),
}


_COUNTRY_CANON = {
    normalize_text(name).casefold(): english
    for english, names in _COUNTRY_NAMES.items()
    for name in (english, *names)
}


def clean_name(text: str) -> str:
    """One comparable line: straight quotes, single spaces, case folded."""
    return normalize_text(text).casefold()


def same_country(found: str, expected: str) -> bool:
    """Whether two country names (in any chrome language we know) are one country."""
    a, b = clean_name(found), clean_name(expected)
    return _COUNTRY_CANON.get(a, a) == _COUNTRY_CANON.get(b, b)


def check_document(doc: Document, page: PageSpec) -> str | None:
    """Why an extracted document fails the page's validity checks, or None.

    These catch what still matches the selector but is not the article: an
    error message inside the container, another language, another country.
    """
    validity = page.validity
    length = sum(len(section.text) for section in doc.sections)
    if length < validity.min_length:
        return (
            f"too little policy text ({length} characters, expected at least "
            f"{validity.min_length}): an error or placeholder page? if the page really is "
            "this short, lower validity.min_length"
        )
    language = doc.metadata.get("language", "")
    if validity.language and language and not _language_matches(language, validity.language):
        return (
            f"page language is {language}, expected {validity.language}: pin the locale in "
            "the URL (?locale=...) or the Accept-Language header"
        )
    # The article's own h1, not the title the extractor falls back to (<title>, the
    # page id): an error page without an h1 must not pass as titled.
    h1 = doc.metadata.get("h1", "")
    if validity.h1 and not re.search(validity.h1, h1, re.IGNORECASE):
        return (
            f"page heading {h1!r} does not match validity.h1 {validity.h1!r}: not the "
            "policy page, or the policy was renamed (then update validity.h1)"
        )
    headings = {clean_name(name) for section in doc.sections for name in section.path}
    missing = [h for h in validity.required_headings if clean_name(h) not in headings]
    if missing:
        return (
            f"required heading{'s' if len(missing) > 1 else ''} missing: "
            f"{', '.join(repr(h) for h in missing)}; if the policy dropped them on purpose, "
            "update validity.required_headings"
        )
    country = doc.metadata.get("country", "")
    if validity.country and country and not same_country(country, validity.country):
        return f"wrong marketplace: page is for {country}, expected {validity.country}"
    return None


def _language_matches(language: str, expected: str) -> bool:
    """`en` accepts en, en-US and en_GB; `en-GB` accepts only en-GB."""
    have = language.lower().replace("_", "-")
    want = expected.lower().replace("_", "-")
    return have == want or have.startswith(want + "-")
