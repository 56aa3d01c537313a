"""What a seller should not have to know about a site: profiles and the marketplace table.

A profile bundles the content selector, the page chrome to drop and the checks a
real copy of the page passes, so a watchlist entry for a Seller Central page
needs only an id and a URL. The marketplace table maps Amazon's marketplace
codes to the Seller Central host, language and the country named in the page's
"This article applies to selling in: <country>" banner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from policywatch.models import Validity


@dataclass(frozen=True)
class Profile:
    """Extraction defaults for one family of pages; a page's own settings go on top."""

    name: str
    description: str
    select: str | None = None
    remove: tuple[str, ...] = ()
    fetch: Literal["http", "browser", "auto"] = "auto"
    # Plain HTTP gets an app shell, so `fetch: auto` always ends up in the browser.
    client_rendered: bool = False
    validity: Validity = field(default_factory=Validity)
    hosts: re.Pattern[str] | None = None  # hosts the profile is applied to without asking


SELLER_CENTRAL = Profile(
    name="seller-central",
    description="Amazon Seller Central help pages (help hub article template)",
    select="#full-help-page",
    # The country banner and breadcrumb are read as metadata before these are dropped;
    # the rest is page chrome that changes independently of the policy.
    remove=(
        "[hidden]",
        ".hh-scroll-to-top-box",
        "kat-breadcrumb",
        ".hh-article-country-box",
        ".related-articles-box",
        "kat-divider",
    ),
    fetch="auto",
    client_rendered=True,
    # A real article is a few hundred characters at least and has a titled h1; the
    # "We're Sorry" error page that keeps the container fails one of these.
    validity=Validity(min_length=200, h1=r"\w"),
    hosts=re.compile(r"sellercentral(\.amazon\.[a-z]{2,3}(\.[a-z]{2})?|-europe\.amazon\.com)"),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SELLER_CENTRAL,)}

NO_PROFILE = "none"  # `profile: none` turns the automatic profile off for one page


def profile_for_host(host: str) -> Profile | None:
    """The profile applied automatically to a page on `host`, if any."""
    host = host.lower()
    for profile in PROFILES.values():
        if profile.hosts is not None and profile.hosts.fullmatch(host):
            return profile
    return None


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace as Seller Central serves it.

    `locale` is the marketplace's own language; `english` is the English locale
    pinned by default, because sellers usually read the English page and the
    policy text is compared across marketplaces in one language.
    """

    code: str
    host: str
    locale: str
    country: str  # as written in the country banner
    english: str


def accept_language(locale: str) -> str:
    """Accept-Language header that asks for `locale` first, then its bare language."""
    language = locale.split("-", 1)[0]
    return f"{locale},{language};q=0.9" if language != locale else locale


_TABLE = (
    ("US", "sellercentral.amazon.com", "en-US", "United States", "en-US"),
    ("CA", "sellercentral.amazon.ca", "en-CA", "Canada", "en-US"),
    ("MX", "sellercentral.amazon.com.mx", "es-MX", "Mexico", "en-US"),
    ("BR", "sellercentral.amazon.com.br", "pt-BR", "Brazil", "en-US"),
    ("UK", "sellercentral.amazon.co.uk", "en-GB", "United Kingdom", "en-GB"),
    ("DE", "sellercentral.amazon.de", "de-DE", "Germany", "en-GB"),
    ("FR", "sellercentral.amazon.fr", "fr-FR", "France", "en-GB"),
    ("IT", "sellercentral.amazon.it", "it-IT", "Italy", "en-GB"),
    ("ES", "sellercentral.amazon.es", "es-ES", "Spain", "en-GB"),
    ("NL", "sellercentral.amazon.nl", "nl-NL", "Netherlands", "en-GB"),
    ("SE", "sellercentral.amazon.se", "sv-SE", "Sweden", "en-GB"),
    ("PL", "sellercentral.amazon.pl", "pl-PL", "Poland", "en-GB"),
    ("BE", "sellercentral.amazon.com.be", "fr-BE", "Belgium", "en-GB"),
    ("TR", "sellercentral.amazon.com.tr", "tr-TR", "Turkey", "en-GB"),
    ("AE", "sellercentral.amazon.ae", "en-AE", "United Arab Emirates", "en-US"),
    ("SA", "sellercentral.amazon.com.sa", "ar-SA", "Saudi Arabia", "en-US"),
    ("EG", "sellercentral.amazon.eg", "ar-EG", "Egypt", "en-US"),
    ("IN", "sellercentral.amazon.in", "en-IN", "India", "en-US"),
    ("JP", "sellercentral.amazon.co.jp", "ja-JP", "Japan", "en-US"),
    ("AU", "sellercentral.amazon.com.au", "en-AU", "Australia", "en-US"),
    ("SG", "sellercentral.amazon.sg", "en-SG", "Singapore", "en-US"),
)

MARKETPLACES: dict[str, Marketplace] = {row[0]: Marketplace(*row) for row in _TABLE}


def marketplace_for_host(host: str) -> Marketplace | None:
    """The marketplace whose Seller Central lives on `host` (not the unified EU host)."""
    host = host.lower()
    for marketplace in MARKETPLACES.values():
        if marketplace.host == host:
            return marketplace
    return None
