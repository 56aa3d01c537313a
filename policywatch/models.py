"""The values that flow between pipeline stages.

Every stage takes and returns these frozen dataclasses, so a stage can be tested
alone and the data flows one way: fetch -> extract -> sections -> store -> diff
-> rules -> notify. Serialisation helpers live here so the store and the JSON
outputs agree on one shape. This module holds the shared helpers, the diff and the
watchlist's values; a page's content (fetch result, document, stored version) is in
`content`.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

PATH_SEPARATOR = " > "


# How many hex digits of a snapshot id people are shown: unique in practice, easy to type.
SHORT_ID = 10

# Amazon translates a policy days after the source language changes: 14 days of grace.
TRANSLATION_LAG = 14 * 86400.0


def short_id(snapshot_id: str | None) -> str:
    """The id prefix every command, alert and diff header shows."""
    return (snapshot_id or "")[:SHORT_ID]


def sha256_hex(data: str | bytes) -> str:
    """Hash used for every digest in the store, so digests are comparable everywhere."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


class Severity(enum.IntEnum):
    """How loudly a change should be announced; ordered so max() picks the loudest."""

    MINOR = 1
    MAJOR = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r}; use one of {choices}") from None

    def __str__(self) -> str:
        return self.name.lower()


# --------------------------------------------------------------------------- diffing

FragmentOp = Literal["equal", "insert", "delete"]
ChangeKind = Literal["added", "removed", "modified"]
SectionChangeKind = Literal["added", "removed", "modified", "renamed", "moved", "unchanged"]


@dataclass(frozen=True)
class RuleMatch:
    """A watched term found in a change, and on which side of it: old text, new, or both."""

    rule: str
    term: str
    severity: Severity
    side: Literal["old", "new", "both"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "term": self.term,
            "severity": str(self.severity),
            "side": self.side,
        }


@dataclass(frozen=True)
class Fragment:
    """A run of words in an inline diff."""

    op: FragmentOp
    text: str


@dataclass(frozen=True)
class Change:
    """One added, removed or reworded sentence (or list item / table row) in one section."""

    kind: ChangeKind
    section: tuple[str, ...]  # path in the new snapshot (the old one for a removed section)
    old: str | None
    new: str | None
    fragments: tuple[Fragment, ...]
    substantive: bool
    tags: tuple[str, ...] = ()  # "obligation", "number", "link", "term", "cosmetic-only" ...
    matches: tuple[RuleMatch, ...] = ()
    # Link targets only the old / only the new text leads to (set with the "link" tag), so a
    # link that now points elsewhere can be shown even when the words did not change.
    links_removed: tuple[str, ...] = ()
    links_added: tuple[str, ...] = ()

    @property
    def section_label(self) -> str:
        return PATH_SEPARATOR.join(self.section)


@dataclass(frozen=True)
class SectionChange:
    """How one section of the old snapshot corresponds to one of the new."""

    kind: SectionChangeKind
    old_path: tuple[str, ...] | None
    new_path: tuple[str, ...] | None
    changes: tuple[Change, ...] = ()

    @property
    def label(self) -> str:
        return PATH_SEPARATOR.join(section_path(self.old_path, self.new_path))


def section_path(
    old_path: tuple[str, ...] | None, new_path: tuple[str, ...] | None
) -> tuple[str, ...]:
    """Where a section's changes are: its path in the new page, else the removed section's.

    An empty new path is still the new path: the section lost its heading.
    """
    if new_path is not None:
        return new_path
    return old_path if old_path is not None else ()


@dataclass(frozen=True)
class DiffResult:
    """Everything that differs between two snapshots of one page, in page order."""

    page_id: str
    old_id: str
    new_id: str
    sections: tuple[SectionChange, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for s in self.sections for c in s.changes)

    @property
    def substantive(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.substantive)

    @property
    def is_empty(self) -> bool:
        return all(s.kind == "unchanged" for s in self.sections)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Rule:
    """A named set of watched terms; a change mentioning one is raised to `severity`."""

    name: str
    severity: Severity
    terms: tuple[str, ...] = ()  # plain words/phrases; a trailing * is a prefix wildcard
    patterns: tuple[str, ...] = ()  # regular expressions, matched case-insensitively
    pages: tuple[str, ...] = ()  # page ids this rule is limited to; empty = every page
    links_alert: bool = False  # `links: alert`: a new link target in its sentences alerts too
    # The language of the pages it is for ("de", or "de-CH" for one region); None = every page.
    language: str | None = None


@dataclass(frozen=True)
class DigestSchedule:
    """When a route's digest is due: the end of each period, at `day` and `hour` in `timezone`.

    `day` is a weekday (0 = Monday) for weekly digests, a day of the month (1-28, so
    every month has it) for monthly ones, and unused for daily ones.
    """

    every: Literal["daily", "weekly", "monthly"] = "weekly"
    day: int = 0
    hour: int = 8
    timezone: str = "UTC"


@dataclass(frozen=True)
class Route:
    """Where alerts go: an apprise URL, with a floor on which severities it receives."""

    url: str  # after ${ENV} expansion; may contain secrets, never log it raw
    name: str
    min_severity: Severity = Severity.MINOR
    links_alert: bool = False  # `links: alert`: also told when only a link's target changed
    # Seconds to wait for the receiver's answer. Real webhooks (a Zap, a Lambda cold
    # start) take many seconds; giving up early makes a delivered alert look failed.
    timeout: float = 30.0
    digest: DigestSchedule | None = None  # `digest:`: one summary message per period
    instant: bool = True  # per-change alerts too; a digest route gets them only with `instant`
    # Days before each effective date to remind this route (`remind: [14, 1]`), largest first.
    remind: tuple[int, ...] = ()


@dataclass(frozen=True)
class Validity:
    """What a real copy of the page must look like; anything else is `blocked`, not a version."""

    min_length: int = 0  # characters of extracted text
    language: str | None = None  # expected <html lang> prefix, e.g. "en"
    h1: str | None = None  # regex the page's h1 must match
    required_headings: tuple[str, ...] = ()
    country: str | None = None  # expected country banner, e.g. "United Kingdom"


@dataclass(frozen=True)
class Settle:
    """How long a flapping page must stay on one version before we tell the seller which.

    Both must hold: `polls` polls in a row and `seconds` since the version appeared,
    so neither a fast poll interval nor one slow poll ends the flapping too early.
    """

    polls: int = 2
    seconds: float = 3600.0


def _site(parts: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port of a split URL, the port filled in for http and https."""
    return parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme)


_DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers a page's requests to other hosts keep: they choose the page's language and
# say who asks, and a browser sends them to every host too.
_HARMLESS_HEADERS = frozenset({"accept", "accept-language", "user-agent"})


@dataclass(frozen=True)
class PageSpec:
    """One page to watch, with every default already applied."""

    id: str  # e.g. "seller-code-of-conduct" or "seller-code-of-conduct@UK"
    url: str
    title: str = ""
    select: str | None = None  # CSS selector of the policy body
    remove: tuple[str, ...] = ()  # CSS selectors of parts to drop
    ignore: tuple[str, ...] = ()  # regexes of text to drop before hashing
    marketplace: str | None = None
    fetch: Literal["http", "browser", "auto"] = "auto"
    interval: float = 6 * 3600.0  # seconds between polls in `run`
    timeout: float = 30.0  # seconds, connect and read
    headers: Mapping[str, str] = field(default_factory=dict)
    profile: str | None = None
    validity: Validity = field(default_factory=Validity)
    rules: tuple[Rule, ...] = ()  # rules written inside the page entry
    allow_private: bool = False  # may be fetched from private and loopback addresses
    settle: Settle = field(default_factory=Settle)
    # The same policy in the marketplace's other languages (`id@de-DE` beside `id@en-GB`),
    # and how long a translation may lag behind before the seller hears of it.
    siblings: tuple[str, ...] = ()
    translation_lag: float = TRANSLATION_LAG

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def own_site(self, url: str) -> bool:
        """Whether `url` is on the page's own site: its scheme, host and port, or its https
        upgrade. Only there may a request carry the page's `headers` (see headers_for)."""
        try:
            mine, theirs = (_site(urlsplit(u)) for u in (self.url, url))
        except ValueError:  # a port out of range: not our site
            return False
        return mine == theirs or (
            mine[0] == "http" and mine[2] == 80 and theirs == ("https", mine[1], 443)
        )

    def headers_for(self, url: str) -> Mapping[str, str]:
        """The configured `headers` a request to `url` may carry.

        They often hold a cookie or an API key, so only the page's own site gets them
        all, as a browser sends a site's cookies to that site alone: a redirect or a
        script's request to another host carries only those that say nothing secret
        (the language pinned for a marketplace, the user agent).
        """
        if not self.headers or self.own_site(url):
            return self.headers
        return {k: v for k, v in self.headers.items() if k.lower() in _HARMLESS_HEADERS}


@dataclass(frozen=True)
class Defaults:
    interval: float = 6 * 3600.0
    timeout: float = 30.0
    user_agent: str = ""
    per_host: int = 2  # concurrent fetches per host
    workers: int = 8  # concurrent fetches overall
    # Pages one browser renders at once: rendering waits on scripts and requests more than it
    # computes, so 4 keeps 2 cores busy without queueing tabs behind each other (bench_browser).
    browser_concurrency: int = 4
    max_bytes: int = 5 * 1024 * 1024
    retries: int = 3
    failures_before_alert: int = 3  # consecutive failed polls before an "unreachable" alert
    alert_on_cosmetic: bool = False
    translation_lag: float = TRANSLATION_LAG
    settle: Settle = field(default_factory=Settle)
    base_url: str | None = None


@dataclass(frozen=True)
class SkippedRoute:
    """A notify route left out for want of its ${VARS}, and the line that says so."""

    name: str
    said: str  # "watchlist.yaml:12: notify route 'email' skipped: SMTP_USER not set"


@dataclass(frozen=True)
class Config:
    path: str
    pages: tuple[PageSpec, ...]
    rules: tuple[Rule, ...]
    routes: tuple[Route, ...]
    defaults: Defaults = field(default_factory=Defaults)
    # Where `rules` came from, for `validate` to say: "builtin" (no `rules:` key), "added"
    # (the built-ins and yours), "own" (`builtin: false`), "list" (a plain list: it replaces them).
    rules_from: Literal["builtin", "added", "own", "list"] = "builtin"
    # Optional routes left out until their ${VARS} are set: `validate` and `run` say so, once.
    skipped_routes: tuple[SkippedRoute, ...] = ()

    def page(self, page_id: str) -> PageSpec | None:
        for page in self.pages:
            if page.id == page_id:
                return page
        return None

    def rules_for(self, page: PageSpec) -> tuple[Rule, ...]:
        """Global rules that apply to the page, then the page's own."""
        base = page.id.split("@", 1)[0]
        shared = tuple(
            r for r in self.rules if not r.pages or page.id in r.pages or base in r.pages
        )
        return shared + page.rules
