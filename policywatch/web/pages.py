"""The view models: what each page of the web view shows, as plain values for the templates.

`serve` and `site` both call these, so a static copy reads exactly like the live view. Every
page id and version named in a URL is looked up in the store; an unknown one is a `Missing`
that says what exists (never a file path, so no path traversal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policywatch.clock import utcnow
from policywatch.content import Snapshot
from policywatch.diff.rows import (
    Dating,
    View,
    change_notes,
    is_shown,
    section_title,
    section_views,
)
from policywatch.document.dates import page_date_line, stated_date
from policywatch.errors import UsageError
from policywatch.models import Change, DiffResult, Severity, sha256_hex, short_id
from policywatch.views.terminal import alerts_json, diff_meta
from policywatch.web.desk import Desk, Watch
from policywatch.web.summaries import FIRST_TAGS, SEVERITIES, ChangeSummary, change_level

PER_PAGE = 50
STATES = ("ok", "changed", "blocked", "failing", "unchecked")
LEVELS = tuple(str(s) for s in SEVERITIES)


class Missing(Exception):
    """A page or version the URL names is not in the store; `known` says what is."""

    def __init__(self, what: str, known: Sequence[str]) -> None:
        super().__init__(what)
        self.what = what
        self.known = list(known)


@dataclass(frozen=True)
class Rendered:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def _at_least(level: str | None, floor: str | None) -> bool:
    if not floor:
        return True
    return level is not None and Severity.parse(level) >= Severity.parse(floor)


def _clean(value: str | None, choices: Sequence[str]) -> str:
    return value if value in choices else ""


def overview(desk: Desk, query: Mapping[str, str]) -> Rendered:
    watches = desk.watches()
    markets = sorted({w.marketplace for w in watches if w.marketplace})
    market = _clean(query.get("marketplace"), markets)
    level = _clean(query.get("severity"), LEVELS)
    state = _clean(query.get("state"), STATES)
    words = (query.get("q") or "").strip().casefold()

    def wanted(w: Watch) -> bool:
        change = w.last_change
        return (
            (not market or w.marketplace == market)
            and (not state or w.state == state)
            and (not level or _at_least(change.severity if change else None, level))
            and (not words or words in w.title.casefold() or words in w.page_id.casefold())
        )

    shown = [w for w in watches if wanted(w)]
    counts = {s: sum(1 for w in watches if w.state == s) for s in STATES}
    return Rendered(
        "overview.html",
        {
            "watches": shown,
            "total": len(watches),
            "counts": counts,
            "markets": markets,
            "levels": LEVELS,
            "states": STATES,
            "filters": {"marketplace": market, "severity": level, "state": state, "q": words},
        },
    )


def timeline(desk: Desk, query: Mapping[str, str], number: int = 1) -> Rendered:
    changes = desk.timeline()
    pages = desk.page_ids()
    page = _clean(query.get("page"), pages)
    markets = desk.markets()
    market = _clean(query.get("marketplace"), markets)
    level = _clean(query.get("severity"), LEVELS)
    since, until = (query.get("since") or "")[:10], (query.get("until") or "")[:10]

    def wanted(c: ChangeSummary) -> bool:
        return (
            (not page or c.page_id == page)
            and (not market or c.marketplace == market)
            and _at_least(c.severity, level)
            and (not since or c.at[:10] >= since)
            and (not until or c.at[:10] <= until)
        )

    filtering = page or market or level or since or until
    filtered = [c for c in changes if wanted(c)] if filtering else changes
    last = max(1, -(-len(filtered) // PER_PAGE))
    number = min(max(1, number), last)
    rows = filtered[(number - 1) * PER_PAGE : number * PER_PAGE]
    return Rendered(
        "timeline.html",
        {
            "changes": rows,
            "total": len(filtered),
            "number": number,
            "last": last,
            "pages": pages,
            "markets": markets,
            "levels": LEVELS,
            "filters": {
                "page": page,
                "marketplace": market,
                "severity": level,
                "since": since,
                "until": until,
            },
        },
    )


def _unknown_page(desk: Desk, page_id: str) -> Missing:
    return Missing(f"no page {page_id!r} in this data directory", desk.page_ids())


def change(desk: Desk, page_id: str, old: str, new: str) -> Rendered:
    found = desk.find_change(page_id, old, new)
    if found is None:
        if page_id not in desk.page_ids():
            raise _unknown_page(desk, page_id)
        known = [f"{short_id(c.old.id)}..{short_id(c.new.id)}" for c in desk.changes(page_id)]
        raise Missing(f"no change {old}..{new} of {page_id}", known)
    history = desk.changes(page_id)
    at = next(i for i, c in enumerate(history) if c.new.id == found.new.id)
    diff = desk.store.diff(found.old, found.new, desk.rules(page_id))
    context = {
        "d": diff_context(desk, diff, found.old, found.new),
        "summary": found,
        "previous": history[at - 1] if at > 0 else None,
        "next": history[at + 1] if at + 1 < len(history) else None,
    }
    return Rendered("change.html", context)


def diff_context(desk: Desk, diff: DiffResult, old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """The diff as the templates draw it: summary, the telling changes first, then sections."""
    views = section_views(diff, 0, False, None, None)
    dating = Dating.of_version(new.metadata, new.captured_at, utcnow().date())
    first = [
        (view, row.change)
        for view in views
        for row in view.rows
        if row.change and _telling(row.change)
    ]
    return {
        "page_id": new.page_id,
        "title": desk.title(new.page_id, new),
        "old": old,
        "new": new,
        "meta": diff_meta(old, new),
        "page_date": page_date_line(
            old.metadata.get("last_updated"), new.metadata.get("last_updated")
        ),
        "views": [_section(v, dating) for v in views],
        "first": [_row(v, c, dating) for v, c in first],
        "hidden": sum(1 for c in diff.changes if not is_shown(c)),
    }


def _telling(change: Change) -> bool:
    """A change read first: a watched term, an obligation flip, a number or time limit."""
    return bool(change.matches) or any(t in change.tags for t in FIRST_TAGS)


def _section(view: View, dating: Dating) -> dict[str, Any]:
    """A changed section with the changes not already listed first."""
    label, note = section_title(view.section)
    changes = [r.change for r in view.rows if r.change]
    return {
        "label": label,
        "note": note,
        "anchor": "s" + sha256_hex(label)[:10],
        "rows": [_row(view, c, dating) for c in changes if not _telling(c)],
        "above": sum(1 for c in changes if _telling(c)),
    }


def _row(view: View, change: Any, dating: Dating) -> dict[str, Any]:
    level = change_level(change, view.section)
    return {
        "kind": change.kind,
        "section": view.section.label,
        "fragments": change.fragments,
        "notes": change_notes(change),
        "effective": dating.lines(change),
        "severity": str(level) if level else "",
    }


def history(desk: Desk, page_id: str) -> Rendered:
    # Checked before the store is asked: it keeps every page id it reads for the life of
    # the server, and an id from a URL must not be one (a stream of them is a memory leak).
    if page_id not in desk.page_ids():
        raise _unknown_page(desk, page_id)
    versions = desk.snapshots(page_id)
    by_new = {c.new.id: c for c in desk.changes(page_id)}
    rows = [
        {
            "snap": s,
            "size": desk.raw_size(s),
            "stated": stated_date(s.metadata["last_updated"])
            if s.metadata.get("last_updated")
            else "",
            "change": by_new.get(s.id) if i else None,
        }
        for i, s in enumerate(versions)
    ]
    rows.reverse()
    latest = versions[-1]
    return Rendered(
        "history.html",
        {
            "page_id": page_id,
            "title": desk.title(page_id, latest),
            "rows": rows,
            "siblings": _siblings(desk, page_id),
        },
    )


def _siblings(desk: Desk, page_id: str) -> list[str]:
    """The marketplaces the same policy is watched in, for `compare`."""
    base = page_id.partition("@")[0]
    return [p.partition("@")[2] for p in desk.page_ids() if p.startswith(base + "@")]


def versions(desk: Desk, page_id: str, old_ref: str, new_ref: str) -> Rendered:
    """Any two versions of a page compared, as the CLI's `diff PAGE OLD NEW` does."""
    old, new = (_resolve(desk, page_id, ref) for ref in (old_ref, new_ref))
    diff = desk.store.diff(old, new, desk.rules(page_id))
    return Rendered("diff.html", {"d": diff_context(desk, diff, old, new), "heading": "Compare"})


def markets(desk: Desk, page: str, first: str, second: str) -> Rendered:
    """One policy across two marketplaces, as the CLI's `compare` does."""
    watches = [f"{page}@{m}" for m in (first, second)]
    known = [p for p in desk.page_ids() if p.startswith(page + "@")]
    for watch in watches:
        if watch not in known:
            raise Missing(f"no watch {watch!r} with a stored version", known)
    old, new = (desk.store.latest(w) for w in watches)
    assert old is not None and new is not None
    diff = desk.store.diff(old, new, desk.rules(watches[0]))
    context = diff_context(desk, diff, old, new)
    context["meta"] = diff_meta(old, new, labels=(watches[0], watches[1]))
    return Rendered("diff.html", {"d": context, "heading": f"{first} compared with {second}"})


def _resolve(desk: Desk, page_id: str, ref: str) -> Snapshot:
    if page_id not in desk.page_ids():
        raise _unknown_page(desk, page_id)
    try:
        return desk.store.resolve(page_id, ref)
    except (UsageError, KeyError, ValueError):
        known = [short_id(s.id) for s in desk.snapshots(page_id)]
        raise Missing(f"no version {ref!r} of {page_id}", known) from None


def health(desk: Desk, check: Callable[[], tuple[bool, str]]) -> Rendered:
    """The same facts as `policywatch health` and `policywatch alerts`."""
    ok, reason = check()
    alerts = alerts_json(desk.store.alerts())
    waiting = [a for a in alerts if a["status"] == "pending"]
    parked = [a for a in alerts if a["status"] == "failed"]
    failing = [w for w in desk.watches() if w.state in ("blocked", "failing")]
    return Rendered(
        "health.html",
        {"ok": ok, "reason": reason, "pending": waiting, "parked": parked, "failing": failing},
    )
