"""Atom feeds of changes (all, per page, per marketplace, per minimum severity), and the
calendar of the dates the pages say their wording takes effect.

Entry ids name the change itself (page and both version ids), so a feed reader sees the same
entry on every render; `updated` is when the new version was first seen. Entry content is
plain text (escaped by feedgen): page text is attacker-controlled, and a feed reader that
renders HTML must not run it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from feedgen.feed import FeedGenerator

from policywatch.alerts.effective import latest_events
from policywatch.alerts.links import change_path
from policywatch.clock import parse_iso
from policywatch.models import Severity
from policywatch.printable import printable
from policywatch.views.calendar import calendar_ics
from policywatch.web.desk import Desk
from policywatch.web.pages import LEVELS, Missing
from policywatch.web.summaries import ChangeSummary

LIMIT = 100  # entries per feed: readers keep their own history
URN = "urn:policywatch:"
# What XML 1.0 cannot hold beyond the control characters `printable` already escapes.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def route(desk: Desk, parts: Sequence[str], base: str | None) -> bytes:
    """The feed a URL under /feeds/ names, or Missing saying which feeds exist."""
    name, changes = select(desk, parts)
    return atom(name, "/".join(parts), changes, base)


def calendar(desk: Desk) -> bytes:
    """`/calendar.ics`: the same events as `policywatch calendar`, so a subscribed calendar
    app follows moved dates (stable UIDs) without anyone rerunning the command."""
    return calendar_ics(latest_events(desk.store, desk.page_ids()))


def names(desk: Desk) -> list[str]:
    """Every feed's path under feeds/, for the 404 page and the static site."""
    return [
        "changes.atom",
        *(f"pages/{p}.atom" for p in desk.page_ids()),
        *(f"marketplaces/{m}.atom" for m in desk.markets()),
        *(f"severity/{s}.atom" for s in LEVELS),
    ]


def select(desk: Desk, parts: Sequence[str]) -> tuple[str, list[ChangeSummary]]:
    match list(parts):
        case ["changes.atom"]:
            return "All changes", desk.timeline()[:LIMIT]
        case ["pages", file] if file.endswith(".atom") and file[:-5] in desk.page_ids():
            page = file[:-5]
            return f"Changes of {page}", desk.changes(page)[::-1][:LIMIT]
        case ["marketplaces", file] if file.endswith(".atom"):
            market = file[:-5]
            picked = [c for c in desk.timeline() if c.marketplace == market]
            if market in desk.markets():
                return f"Changes in {market}", picked[:LIMIT]
        case ["severity", file] if file.endswith(".atom") and file[:-5] in LEVELS:
            floor = Severity.parse(file[:-5])
            picked = [
                c for c in desk.timeline() if c.severity and Severity.parse(c.severity) >= floor
            ]
            return f"Changes of {file[:-5]} severity or more", picked[:LIMIT]
    raise Missing(f"no feed feeds/{'/'.join(parts)}", [f"feeds/{n}" for n in names(desk)])


def atom(title: str, name: str, changes: Sequence[ChangeSummary], base: str | None) -> bytes:
    """An Atom document; links are absolute under `base`, else relative to the feed file."""
    up = "../" * (name.count("/") + 1)
    feed = FeedGenerator()
    feed.id(f"{URN}feed:{name}")
    feed.title(f"policywatch: {title}")
    feed.author({"name": "policywatch"})
    feed.link(href=_link(base, up, ""), rel="alternate")
    feed.updated(parse_iso(changes[0].at) if changes else parse_iso("2000-01-01"))
    for change in reversed(changes):  # feedgen puts the last added first
        entry = feed.add_entry()
        old, new = change.old.id, change.new.id
        entry.id(f"{URN}change:{change.page_id}:{old}..{new}")
        level = change.severity or "cosmetic"
        sections = ", ".join(change.sections[:3]) or "changed"
        entry.title(_xml(f"[{level}] {change.page_id}: {sections}"))
        entry.link(href=_link(base, up, change_path(change.page_id, old, new)))
        entry.updated(parse_iso(change.at))
        entry.published(parse_iso(change.at))
        entry.content(_xml(_text(change)), type="text")
    return feed.atom_str(pretty=True)


def _link(base: str | None, up: str, path: str) -> str:
    if base:
        return base.rstrip("/") + "/" + path
    return up + path


def _xml(text: str) -> str:
    """Page text as XML can hold it: one control character in a sentence or heading would
    otherwise make every feed that lists the change (and `site`) fail, not just one entry."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", printable(text))


def _text(change: ChangeSummary) -> str:
    lines = [change.first]
    if change.terms:
        lines.append("Watched terms: " + ", ".join(change.terms))
    if change.stated:
        lines.append(change.stated)
    lines.append("Sections: " + "; ".join(change.sections))
    return "\n".join(lines)
