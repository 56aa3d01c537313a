"""Reminders before effective dates, and notices when a date moves or is withdrawn.

Called once per `check` and once per delivery turn of `policywatch run`, under the store
lock. What is due follows from the dates the latest version of each page states and the
clock; those dates are kept in the page's state per version, so a pass reads no history and
parses no document until a new version arrives, and comparing them with the new version's
finds a date moved or withdrawn. The outbox's deterministic keys
(`remind:<route>:<page>:<date>:<days>`, `cancel:<route>:<old uid>:<new uid>:<version>`) make
each reminder and each notice go out once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from policywatch.alerts.compose import Alert, outbox_entry
from policywatch.alerts.effective import Event, cancelled_alert, reminder_alert, version_events
from policywatch.content import Snapshot
from policywatch.history.store import Store
from policywatch.models import Config, Route


def queue_reminders(config: Config, store: Store, now: datetime) -> int:
    """Queue the reminders and notices due at `now`; returns how many were new."""
    routes = [route for route in config.routes if route.remind]
    if not routes:
        return 0
    today = now.date()
    items: list[dict[str, Any]] = []
    for page in config.pages:
        latest = store.latest(page.id)
        if latest is None:
            continue
        current, dropped = _follow(store, latest, today)
        # One reminder per date: a page stating its date twice is one deadline.
        for event in {event.on: event for event in reversed(current)}.values():
            for route in routes:
                days = due_reminder(route.remind, event.on, today)
                if days is not None:
                    # Keyed by page and date, not by the sentence: a reworded sentence or
                    # re-derived text stating the same date is the same deadline, told once.
                    key = f"remind:{route.name}:{page.id}:{event.on.isoformat()}:{days}"
                    items += _for(route, reminder_alert(event, days, today), key, now)
        for old, new in dropped:
            alert = cancelled_alert(old, new)
            for route in routes:
                # The version is in the key: a date moved back and then moved again is a
                # second move the seller must hear of, not a repeat of the first notice.
                change = f"{old.uid}:{new.uid if new else 'withdrawn'}:{latest.id}"
                items += _for(route, alert, f"cancel:{route.name}:{change}", now)
    return store.enqueue_alerts(items) if items else 0


def _follow(
    store: Store, latest: Snapshot, today: date
) -> tuple[Sequence[Event], list[tuple[Event, Event | None]]]:
    """The events the latest version states, and the dates it dropped from those known at
    the last pass (none on the first pass: no reminder was scheduled before it).

    While the page flaps, its flips are not news: the dates known before it began stand
    until it settles, and then the settled version is compared with them, once.
    """
    stamp = f"{latest.id}:{latest.doc_key}"  # a re-derived version is read again
    state = store.page_state(latest.page_id)
    known = state.get("effective") or {}
    before = [Event.from_record(record) for record in known.get("events", ())]
    if known.get("of") == stamp or state.get("flapping"):
        return before, []
    current = version_events(store, latest)
    records = [event.record() for event in current]
    store.set_page_state(latest.page_id, effective={"of": stamp, "events": records})
    if str(known.get("of", "")).startswith(f"{latest.id}:"):
        return current, []  # the same version re-derived: our reading moved, not the page
    return current, list(changed_dates(before, current, today))


def due_reminder(remind: Sequence[int], on: date, today: date) -> int | None:
    """The reminder due today: the nearest one whose day has come (`now >= date - days`),
    so a reminder missed while policywatch was down is not sent late beside a nearer one."""
    left = (on - today).days
    due = [days for days in remind if 0 <= left <= days]
    return min(due) if due else None


def changed_dates(
    previous: Sequence[Event], current: Sequence[Event], today: date
) -> Iterator[tuple[Event, Event | None]]:
    """Each date still to come that the newer version no longer states, with the date that
    replaced it in the same section (moved) or None (withdrawn)."""
    stated = {event.on for event in current}
    before = {event.on for event in previous}
    added = [event for event in current if event.on not in before]
    told: set[date] = set()
    for old in previous:
        if old.on < today or old.on in stated or old.on in told:
            continue
        told.add(old.on)
        yield old, next((new for new in added if new.section == old.section), None)


def _for(route: Route, alert: Alert, key: str, now: datetime) -> list[dict[str, Any]]:
    """The outbox entry for one route, under the readable deterministic key."""
    return [outbox_entry(alert, route, now, key)]
