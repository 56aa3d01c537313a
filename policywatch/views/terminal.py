"""What the CLI prints: terminal text and JSON views of check results, history and versions.

Kept apart from the cli package so the wording a seller reads can change without touching
argument handling, and so every command formats dates, ids and sections alike.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policywatch.alerts.compose import Alert, when
from policywatch.clock import iso, parse_iso
from policywatch.content import Document, Section, Snapshot
from policywatch.document.dates import page_date_line, stated_date
from policywatch.errors import UsageError
from policywatch.models import SHORT_ID, short_id

if TYPE_CHECKING:
    from policywatch.run.outcome import CheckReport


def progress_printer() -> Callable[[int, int], None]:
    """Pages done / total on one rewritten stderr line, for long checks on a terminal."""

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r  checked {done}/{total} pages{end}")
        sys.stderr.flush()

    return show


# --------------------------------------------------------------------------- check


def _outcome_words(outcome: Any) -> str:
    if outcome.status == "changed":
        noun = "section" if outcome.changed_sections == 1 else "sections"
        count = outcome.changed_sections
        words = f"changed ({count} {noun})" if count else "changed (cosmetic only)"
        if outcome.severity is not None:
            words += f" [{outcome.severity}]"
        if outcome.flapping:
            words += ": flapping, kept without an alert until it settles"
        elif outcome.revert_of:
            words += (
                f": reverted, back to the version first seen on "
                f"{when(outcome.revert_seen_at or '')} ({short_id(outcome.revert_of)})"
            )
        elif outcome.silent_edit:
            words += ': silent edit, the "Last updated" date did not move'
        return words
    if outcome.status in ("blocked", "error"):
        return f"{outcome.status}: {outcome.reason}"
    if outcome.date_bumped:
        return f"{outcome.status} (date bumped): {outcome.date_bumped}"
    return outcome.status


def check_text(report: CheckReport, *, quiet: bool = False) -> str:
    """One line per page; with quiet, only the pages that could not be checked."""
    lines = []
    width = max((len(o.page_id) for o in report.outcomes), default=0)
    for outcome in report.outcomes:
        if quiet and outcome.status not in ("blocked", "error"):
            continue
        snap = f"  {short_id(outcome.snapshot_id)}" if outcome.snapshot_id else ""
        lines.append(f"{outcome.page_id:<{width}}  {_outcome_words(outcome)}{snap}")
    delivery = report.delivery
    if delivery is not None and not quiet and (delivery.sent or delivery.failed):
        lines.append(
            f"alerts: {delivery.sent} sent, {delivery.failed} failed, {delivery.pending} pending"
        )
    elif delivery is not None and delivery.failed:
        lines.append(
            f"alerts: {delivery.failed} could not be delivered; see `policywatch alerts --pending`"
        )
    if delivery is not None and delivery.gave_up:
        lines.append(
            f"alerts: {delivery.gave_up} gave up after a day of failures; fix the route, "
            "then `policywatch alerts retry`"
        )
    return "\n".join(lines)


def check_json(report: CheckReport) -> dict[str, Any]:
    """Each page's outcome; with `alerts` when alerts were delivered, as the text says them."""
    delivery = report.delivery
    alerts = {} if delivery is None else {"alerts": dataclasses.asdict(delivery)}
    return {
        **alerts,
        "exit_code": report.exit_code,
        "pages": [
            {
                "page": o.page_id,
                "status": o.status,
                "url": o.url,
                "changed_sections": o.changed_sections,
                "severity": str(o.severity) if o.severity is not None else None,
                "snapshot": o.snapshot_id,
                "revert_of": o.revert_of,
                "revert_seen_at": o.revert_seen_at,
                "silent_edit": o.silent_edit,
                "date_bumped": o.date_bumped,
                "reason": o.reason,
                "via": o.via,
                "marketplace": o.marketplace,
            }
            for o in report.outcomes
        ],
    }


# --------------------------------------------------------------------------- history


def history_text(
    page_id: str,
    snapshots: Sequence[Snapshot],
    outcomes: Sequence[Mapping[str, Any]],
    shown_date: str | None = None,
) -> str:
    """Versions newest first, each with the date the page itself stated; `shown_date` is the
    date line of the latest poll, newer than the latest version's when only the date moved."""
    lines = [f"{page_id}: {len(snapshots)} version(s)"]
    latest_date = snapshots[-1].metadata.get("last_updated") if snapshots else None
    if shown_date and latest_date and shown_date != latest_date:
        lines.append(
            f"date bumped since, no new wording: {page_date_line(latest_date, shown_date)}"
        )
    lines += [
        "",
        f"{'id':<{SHORT_ID}}  {'first seen':<20}  {'last seen':<20}  {'sections':>8}  "
        f"{'page date':<20}  origin",
    ]
    for snap in reversed(snapshots):
        stated = snap.metadata.get("last_updated")
        lines.append(
            f"{short_id(snap.id):<{SHORT_ID}}  {snap.captured_at[:19]:<20}  "
            f"{snap.last_seen_at[:19]:<20}  "
            f"{len(snap.section_digests):>8}  {stated_date(stated) if stated else '-':<20}  "
            f"{snap.origin}"
            + (f", re-derived {snap.rederived_at[:10]}" if snap.rederived_at else "")
        )
    bumps = [o for o in outcomes if o.get("status") == "date bumped"]
    if bumps:
        lines += ["", "recent polls where only the page's date moved:"]
        lines += [f"  {str(o.get('at', ''))[:19]}  {o.get('reason')}" for o in bumps[:-11:-1]]
    problems = [o for o in outcomes if o.get("status") in ("blocked", "error")]
    if problems:
        lines += ["", "recent polls that stored nothing:"]
        for o in problems[:-11:-1]:
            lines.append(f"  {str(o.get('at', ''))[:19]}  {o.get('status')}: {o.get('reason')}")
    return "\n".join(lines)


def history_json(
    page_id: str,
    snapshots: Sequence[Snapshot],
    outcomes: Sequence[Mapping[str, Any]],
    shown_date: str | None = None,
) -> dict[str, Any]:
    """`history --format json`; both lists newest first, as the text shows them::

    {"page": "<page id>",
     "snapshots": [{"id": ..., "captured_at": ..., "sections": 12, "page_date": ..., ...}],
                                   # stored versions, newest first (snapshots[0] is latest)
     "page_date_now": "<the date the latest poll showed>" | null,
     "outcomes": [{"at": ..., "status": ..., "reason": ...}]}   # recent polls, newest first
    """
    return {
        "page": page_id,
        "snapshots": [
            {
                k: v
                for k, v in s.to_dict().items()
                if k not in ("raw_key", "doc_key", "section_digests")
            }
            | {"sections": len(s.section_digests), "page_date": _page_date(s)}
            for s in reversed(snapshots)
        ],
        "page_date_now": shown_date,
        "outcomes": list(reversed(outcomes)),
    }


def _page_date(snapshot: Snapshot) -> str | None:
    stated = snapshot.metadata.get("last_updated")
    return stated_date(stated) if stated else None


# --------------------------------------------------------------------------- show


def pick_sections(document: Document, wanted: str | None) -> list[Section]:
    """Sections named by a full path, a path suffix, or a heading, case-insensitively."""
    if not wanted:
        return list(document.sections)
    key = _fold(wanted)
    exact = [s for s in document.sections if _fold(s.label) == key]
    if exact:
        return exact
    parts = [p for p in (_fold(x) for x in wanted.split(">")) if p]
    suffix = [s for s in document.sections if [_fold(p) for p in s.path[-len(parts) :]] == parts]
    if len(suffix) == 1:
        return suffix
    known = "\n    ".join(s.label for s in document.sections)
    if suffix:
        matches = "\n    ".join(s.label for s in suffix)
        raise UsageError(
            f"section {wanted!r} is ambiguous", hint=f"give more of the path:\n    {matches}"
        )
    raise UsageError(f"no section {wanted!r} in this version", hint=f"sections are:\n    {known}")


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def show_text(snapshot: Snapshot, document: Document, sections: Sequence[Section]) -> str:
    lines = [
        f"{snapshot.page_id}  version {short_id(snapshot.id)}"
        f"  first seen {snapshot.captured_at[:19]}  last seen {snapshot.last_seen_at[:19]}",
        snapshot.url,
    ]
    lines += [f"{key}: {value}" for key, value in sorted(document.metadata.items())]
    for section in sections:
        lines += ["", "#" * max(1, section.level) + " " + section.label]
        for block in section.blocks:
            prefix = "- " if block.kind == "li" else ""
            lines.append(prefix + block.text)
    return "\n".join(lines)


def show_json(
    snapshot: Snapshot, document: Document, sections: Sequence[Section]
) -> dict[str, Any]:
    return {
        "snapshot": {
            k: v for k, v in snapshot.to_dict().items() if k not in ("raw_key", "doc_key")
        },
        "title": document.title,
        "metadata": dict(document.metadata),
        "sections": [s.to_dict() | {"label": s.label} for s in sections],
    }


# --------------------------------------------------------------------------- diff


def diff_meta(
    old: Snapshot, new: Snapshot, labels: tuple[str, str] | None = None
) -> dict[str, str]:
    """Facts about the two versions that every diff format shows in its header.

    The page and both ids are in every format's header already; these add where
    the page lives and when each version was first seen.
    """
    meta = {
        "url": new.url,
        "old_captured_at": old.captured_at,
        "new_captured_at": new.captured_at,
    }
    if labels:
        meta["old_label"], meta["new_label"] = labels
    page_date = page_date_line(old.metadata.get("last_updated"), new.metadata.get("last_updated"))
    if page_date:
        meta["page_date"] = page_date
    return meta


# --------------------------------------------------------------------------- alerts


TWICE = "possibly delivered twice"


def alerts_text(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "no alerts"
    lines = []
    for e in entries:
        title = (e.get("payload") or {}).get("title", "")
        state = e.get("status", "")
        if state != "sent" and e.get("last_error"):
            state += f" ({e.get('attempts', 0)} attempts, last error: {e['last_error']})"
        if e.get("possibly_delivered_twice"):
            state += f" ({TWICE}: a send was cut off or unanswered; same Idempotency-Key)"
        lines.append(
            f"{str(e.get('created_at', ''))[:19]}  {e.get('route', ''):<18} {state:<8} {title}"
        )
    return "\n".join(lines)


def alerts_json(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keep = (
        "key",
        "page_id",
        "route",
        "severity",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "last_error",
    )
    return [
        {k: e.get(k) for k in keep}
        | {"possibly_delivered_twice": bool(e.get("possibly_delivered_twice"))}
        | _alert_words(e)
        for e in entries
    ]


def _alert_words(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The alert's kind, title and plain-text body, as every channel receives them."""
    payload = entry.get("payload") or {}
    text = Alert.from_payload(payload).text if payload.get("text") else None
    return {"kind": payload.get("kind"), "title": payload.get("title"), "text": text}


# --------------------------------------------------------------------------- import / rederive

_NAME_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T_]?(\d{2}):?(\d{2})(?::?(\d{2}))?Z?)?")


def import_sources(
    files: Sequence[Path], dates: Sequence[str], now: datetime
) -> list[tuple[str, bytes, datetime]]:
    """Saved pages with when each was captured: --at, else a date in the name, else mtime.

    A capture dated after `now` is refused: no page was saved in the future, and
    such a version would claim to be in force over everything fetched until then.
    """
    if dates and len(dates) != len(files):
        raise UsageError(
            f"{len(files)} file(s) but {len(dates)} --at date(s)",
            hint="give one --at per file, in order, or none to use dates in the file names",
        )
    sources = []
    for i, path in enumerate(files):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc
        if dates:
            try:
                at = parse_iso(dates[i])
            except ValueError as exc:
                raise UsageError(f"--at {dates[i]!r}: {exc}", hint="e.g. --at 2024-03-12") from None
        elif m := _NAME_DATE.search(path.name):
            year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
            try:
                at = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError as exc:
                raise UsageError(
                    f"{path.name}: {m.group()} is not a date ({exc})",
                    hint="give the capture date with --at, one per file",
                ) from None
        else:
            at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if at > now:
            source = f"--at {dates[i]}" if dates else f"{path.name}: its date {iso(at, 'seconds')}"
            raise UsageError(
                f"{source} is in the future (it is now {iso(now, 'seconds')}); "
                "a saved page cannot be dated after it was saved",
                hint="give the date the page was saved with --at, one per file",
            )
        sources.append((str(path), raw, at))
    return sources


def import_text(outcomes: Sequence[Any]) -> str:
    return "\n".join(
        f"{o.url}: {_outcome_words(o)}" + (f"  {short_id(o.snapshot_id)}" if o.snapshot_id else "")
        for o in outcomes
    )


def rederive_text(results: Sequence[Any]) -> str:
    lines = []
    for r in results:
        if r.reason:
            lines.append(f"{r.page_id}: nothing re-derived: {r.reason}")
        elif r.changed:
            lines.append(
                f"{r.page_id}: re-derived {len(r.changed)} of {r.versions} version(s) "
                "with the current rules (no alert sent)"
            )
        else:
            lines.append(f"{r.page_id}: all {r.versions} version(s) already read the same")
    return "\n".join(lines)
