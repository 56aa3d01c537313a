"""Command-line REFs: which stored version `latest~2`, `3f2a` or `2026-01-01` names.

A REF that names nothing gets one error saying what to type instead: the ids to choose
from, the page it belongs to, the page meant by a typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from policywatch.clock import iso, parse_iso
from policywatch.content import Snapshot
from policywatch.errors import RefError
from policywatch.history.page import Row
from policywatch.history.versions import Versions

REF_FORMS = (
    "a snapshot id or a unique prefix of it (at least 4 characters), `latest`, "
    "`latest~N` (N versions before the latest), or an ISO date/time such as 2026-01-01 "
    "or 2026-01-01T12:00:00Z (the version in force then; a bare date means 00:00 UTC)"
)

_LATEST = re.compile(r"latest(?:~(\d+))?", re.IGNORECASE)
_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}", re.IGNORECASE)
_SHOWN_CANDIDATES = 8


def resolve(versions: Versions, page_id: str, ref: str) -> Snapshot:
    """The one snapshot a command-line REF names, or RefError saying what to type instead.

    REF is an id prefix (unique within the page), `latest`, `latest~N`, or an ISO
    date/time meaning the version in force then: the last recorded of those captured
    at or before it (a version stamped by a clock that ran ahead is skipped).
    A bare date is that day's start, 00:00 UTC, like a policy "effective January 1":
    `show PAGE 2026-01-01` is what sellers were bound by as the day began, and a
    change first seen during that day shows from `2026-01-02` (or give a time).
    """
    rows = versions.rows(page_id)
    if not rows:
        raise _unknown_page(versions, page_id)
    text = ref.strip()
    if match := _LATEST.fullmatch(text):
        return _latest_minus(page_id, rows, int(match.group(1) or 0))
    if _ID_PREFIX.fullmatch(text):
        return _by_prefix(versions, page_id, rows, text.lower())
    try:
        when = parse_iso(text)
    except ValueError:
        raise RefError(f"cannot read {ref!r} as a snapshot reference", hint=REF_FORMS) from None
    in_force = [row for row in rows if row.when <= when]
    if not in_force:
        first = min(row.when for row in rows)
        raise RefError(
            f"nothing of {page_id} was stored as of {text}",
            hint=f"its first snapshot was captured {iso(first, 'seconds')}; "
            "give that time or later",
        )
    return in_force[-1].snap


def _latest_minus(page_id: str, rows: list[Row], back: int) -> Snapshot:
    if back >= len(rows):
        raise RefError(
            f"{page_id} has {len(rows)} snapshot{'s' if len(rows) != 1 else ''}, "
            f"so there is no latest~{back}",
            hint=f"the oldest is latest~{len(rows) - 1}, captured {iso(rows[0].when, 'seconds')}",
        )
    return rows[-1 - back].snap


def _by_prefix(versions: Versions, page_id: str, rows: list[Row], prefix: str) -> Snapshot:
    matches = [row for row in rows if row.snap.id.startswith(prefix)]
    if len(matches) == 1:
        return matches[0].snap
    if matches:
        raise RefError(
            f"{prefix!r} matches {len(matches)} snapshots of {page_id}",
            hint="type more of the id: " + _candidates(matches),
        )
    elsewhere = sorted(
        other
        for other in versions.index.page_ids()
        if other != page_id and any(r.snap.id.startswith(prefix) for r in versions.rows(other))
    )
    if elsewhere:
        raise RefError(
            f"snapshot {prefix} belongs to {', '.join(elsewhere)}, not {page_id}",
            hint=f"run `policywatch show {elsewhere[0]} {prefix}`",
        )
    hint = f"`policywatch history {page_id}` lists its ids; the newest: " + _candidates(rows[::-1])
    if prefix.isdigit():
        hint += "; dates are written 2026-01-01"
    raise RefError(f"no snapshot of {page_id} has an id starting with {prefix!r}", hint=hint)


def _unknown_page(versions: Versions, page_id: str) -> RefError:
    known = versions.index.page_ids()
    data_dir = versions.index.data_dir
    last = versions.pages.outcomes(page_id)[-1:]
    if last:
        why = f"; its last check was {last[0].get('status')}: {last[0].get('reason')}"
        return RefError(
            f"no snapshots of {page_id} yet{why}",
            hint=f"fix that, then run `policywatch check {page_id}`",
        )
    if not known:
        return RefError(
            f"no snapshots yet in {data_dir}",
            hint="run `policywatch check` to take the first ones (or check -d/--data-dir)",
        )
    close = difflib.get_close_matches(page_id, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(close) + "?"
    else:
        shown = ", ".join(known[:_SHOWN_CANDIDATES])
        shown += ", ..." if len(known) > _SHOWN_CANDIDATES else ""
        hint = f"stored pages: {shown}; a page never checked needs `policywatch check {page_id}`"
    return RefError(f"no snapshots of {page_id!r} in {data_dir}", hint=hint)


def _candidates(rows: Sequence[Row]) -> str:
    shown = [f"{r.snap.id[:12]} ({iso(r.when, 'seconds')})" for r in rows[:_SHOWN_CANDIDATES]]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
