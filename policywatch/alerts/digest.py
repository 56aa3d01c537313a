"""The digest: one message per period with every change, what takes effect soon, and proof
that the watch is alive.

Pure: data in, an `Alert` (text, Markdown and HTML bodies) out, so it goes through the same
outbox and delivery as every alert. A digest with no changes is still a message: a seller
must be able to tell "nothing changed" from "the monitor died". Page titles, section names
and sentences come from fetched pages and are escaped in the Markdown and HTML bodies.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from policywatch.alerts.compose import Alert, Body, html_page, md_link, md_url, when
from policywatch.clock import iso, parse_iso
from policywatch.diff.markdown import markdown_escape
from policywatch.models import Severity

NO_MARKETPLACE = "no marketplace"
NOTHING_SOON = "Takes effect soon: nothing the pages state."
SHOWN_BY_NAME = 5  # stale or failing pages named in the proof-of-life line, then "and N more"


@dataclass(frozen=True)
class DigestChange:
    """One stored version that changed watched wording, compared with the one before it."""

    page: str  # the page's name as alerts give it (title and marketplace)
    marketplace: str | None
    severity: Severity
    section: str
    sentence: str
    captured_at: str
    permalink: str | None  # into the web view, when `defaults.base_url` is set
    command: str  # the `policywatch diff` that shows it all


@dataclass(frozen=True)
class WatchHealth:
    """What the page state says about one watch, for the proof-of-life line."""

    name: str
    last_ok_at: str | None  # the last poll that read the page
    failing_since: str | None  # set while polls fail
    interval: float  # seconds between polls


@dataclass(frozen=True)
class TakesEffect:
    """A date a page states for wording to take effect (from the effective-dates work)."""

    date: str  # ISO date, e.g. 2026-12-15
    page: str
    sentence: str
    permalink: str | None = None


@dataclass(frozen=True)
class Period:
    """The period a digest covers, [start, end) in UTC, shown in the route's timezone."""

    every: str  # daily, weekly or monthly
    start: datetime
    end: datetime
    timezone: str = "UTC"

    def words(self) -> str:
        zone = ZoneInfo(self.timezone)
        first, last = (
            t.astimezone(zone).strftime("%Y-%m-%d %H:%M") for t in (self.start, self.end)
        )
        return f"{first} to {last} {self.timezone}"


def proof_of_life(watches: Sequence[WatchHealth], now: datetime) -> str:
    """ "23 pages watched, all checked within the last 6 h; 0 failing", naming any page that
    was not read for two of its intervals, or whose polls are failing now."""
    if not watches:
        return "No pages watched."
    failing = [w for w in watches if w.failing_since]
    ages = {w.name: _age(w, now) for w in watches}
    stale = [w for w in watches if not w.failing_since and ages[w.name] > 2 * w.interval]
    # A page failing now is not "checked", however recent its last good read: the line
    # must never say "all checked" while a page cannot be read.
    fresh = [
        ages[w.name] for w in watches if not w.failing_since and ages[w.name] <= 2 * w.interval
    ]
    hours = max(1, math.ceil(max(fresh, default=0) / 3600))
    count = f"{len(watches)} page{'s' if len(watches) != 1 else ''} watched"
    checked = "all" if len(fresh) == len(watches) else str(len(fresh))
    line = f"{count}, {checked} checked within the last {hours} h"
    if not fresh:
        line = f"{count}, none checked lately"
    if stale:
        line += "; not checked for longer: " + _named(
            stale,
            lambda w: (
                f"{w.name} (last {when(w.last_ok_at)})" if w.last_ok_at else f"{w.name} (never)"
            ),
        )
    if not failing:
        return line + "; 0 failing"
    return (
        line
        + f"; {len(failing)} failing: "
        + _named(failing, lambda w: f"{w.name} (since {when(w.failing_since or '')})")
    )


def _age(watch: WatchHealth, now: datetime) -> float:
    if not watch.last_ok_at:
        return math.inf
    return max((now - parse_iso(watch.last_ok_at)).total_seconds(), 0.0)


def _named(watches: Sequence[WatchHealth], say: Callable[[WatchHealth], str]) -> str:
    shown = [say(w) for w in watches[:SHOWN_BY_NAME]]
    more = len(watches) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _groups(changes: Sequence[DigestChange]) -> list[tuple[str, list[DigestChange]]]:
    """Loudest first, then by marketplace, then oldest first within a group."""
    ordered = sorted(
        changes,
        key=lambda c: (-c.severity, c.marketplace or "\uffff", c.captured_at, c.page),
    )
    return [
        (f"{severity} · {market or NO_MARKETPLACE}", list(group))
        for (severity, market), group in groupby(ordered, key=lambda c: (c.severity, c.marketplace))
    ]


def _text_item(change: DigestChange, heading: str | None) -> str:
    lines = [heading] if heading else []
    lines.append(f"- {change.page}, {when(change.captured_at)}")
    lines += [f"  {change.section}"] if change.section else []
    lines += [f'  "{change.sentence}"'] if change.sentence else []
    lines.append(f"  {change.permalink or change.command}")
    return "\n".join(lines)


def _md_item(change: DigestChange, heading: str | None) -> str:
    lines = [f"**{markdown_escape(heading)}**"] if heading else []
    name = (
        md_link(change.page, change.permalink) if change.permalink else markdown_escape(change.page)
    )
    lines.append(f"• {name} — {when(change.captured_at)}")
    lines += [f"  {markdown_escape(change.section)}"] if change.section else []
    lines += [f"  “{markdown_escape(change.sentence)}”"] if change.sentence else []
    lines += [] if change.permalink else [f"  `{change.command}`"]
    return "\n".join(lines)


def _html_changes(groups: Sequence[tuple[str, list[DigestChange]]]) -> str:
    parts = []
    for heading, changes in groups:
        parts.append(f"<h2>{html.escape(heading)}</h2>\n<ul>")
        for c in changes:
            name = html.escape(c.page)
            if c.permalink:
                name = f'<a href="{html.escape(c.permalink)}">{name}</a>'
            parts.append(
                f"<li><strong>{name}</strong> — {html.escape(when(c.captured_at))}"
                + (f"<br>{html.escape(c.section)}" if c.section else "")
                + (f"<br><q>{html.escape(c.sentence)}</q>" if c.sentence else "")
                + ("" if c.permalink else f"<br><code>{html.escape(c.command)}</code>")
                + "</li>"
            )
        parts.append("</ul>")
    return "\n".join(parts) + "\n"


def _soon_lines(soon: Sequence[TakesEffect] | None) -> tuple[list[str], list[str]]:
    """The "takes effect soon" lines (text, Markdown); none at all while nothing feeds them."""
    if soon is None:
        return [], []
    if not soon:
        return [NOTHING_SOON], [NOTHING_SOON]
    text, md = ["Takes effect soon:"], ["**Takes effect soon:**"]
    for item in sorted(soon, key=lambda s: s.date):
        text.append(
            f'- {item.date}: {item.page}: "{item.sentence}"'
            + (f" {item.permalink}" if item.permalink else "")
        )
        name = md_link(item.page, item.permalink) if item.permalink else markdown_escape(item.page)
        md.append(f"• {markdown_escape(item.date)}: {name}: “{markdown_escape(item.sentence)}”")
    return text, md


def digest_alert(
    key: str,
    period: Period,
    changes: Sequence[DigestChange],
    watches: Sequence[WatchHealth],
    now: datetime,
    *,
    takes_effect_soon: Sequence[TakesEffect] | None = None,
    web_view: str | None = None,
    floor: Severity = Severity.MINOR,
) -> Alert:
    """The digest of one period for one route.

    `takes_effect_soon` is the slot for dates the pages state (the effective-dates
    work fills it); None leaves the section out, an empty list says nothing is due.
    `web_view` (the base_url) is named where a chat body has to leave changes out;
    `floor` is the route's min_severity, which the changes were filtered by.
    """
    groups = _groups(changes)
    count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "no changes"
    title = f"policywatch {period.every} digest: {count}, {period.words()}"
    alive = proof_of_life(watches, now)
    covered = f"Period: {period.words()}"
    soon_text, soon_md = _soon_lines(takes_effect_soon)
    louder = "" if floor == Severity.MINOR else f" at {floor} or louder"
    quiet = [] if changes else [f"No watched wording changed{louder} in this period."]
    text_items, md_items = [], []
    for heading, grouped in groups:
        for i, change in enumerate(grouped):
            text_items.append(_text_item(change, heading if i == 0 else None))
            md_items.append(_md_item(change, heading if i == 0 else None))
    foot = f"Sent {when(iso(now))}."
    text_body = Body(
        head="\n".join([covered, alive, *quiet, *soon_text]),
        items=tuple(text_items),
        foot=foot + (f" All changes: {web_view}" if web_view else ""),
    )
    markdown_body = Body(
        head="\n".join([markdown_escape(covered), markdown_escape(alive), *quiet, *soon_md]),
        items=tuple(md_items),
        foot=foot + (f" All changes: <{md_url(web_view)}>" if web_view else ""),
    )
    facts = [("Period", period.words()), ("Watched pages", alive)]
    facts += [("Changes", q) for q in quiet]
    facts += [("Takes effect", line) for line in soon_text[1:] or soon_text]
    return Alert(
        key=key,
        kind="digest",
        page_id="",
        severity=max((c.severity for c in changes), default=Severity.MINOR),
        title=title,
        text_body=text_body,
        markdown_body=markdown_body,
        html=html_page(title, facts, _html_changes(groups)),
        command=web_view or "",
    )
