"""Reminders before effective dates, and notices when a date moves or is withdrawn.

Called once per `check` and once per delivery turn of `policywatch run`, under the store
lock. Nothing here keeps state of its own: what is due follows from the latest version of
each page and the clock, and the outbox's deterministic keys
(`remind:<route>:<event uid>:<days>`) make each reminder and each notice go out once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from policywatch.alerts.compose import Alert, outbox_items
from policywatch.alerts.effective import Event, cancelled_alert, reminder_alert, version_events
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
        snapshots = store.snapshots(page.id)
        if not snapshots:
            continue
        current = version_events(store, snapshots[-1])
        for event in current:
            for route in routes:
                days = due_reminder(route.remind, event.on, today)
                if days is not None:
                    key = f"remind:{route.name}:{event.uid}:{days}"
                    items += _for(route, reminder_alert(event, days, today), key, now)
        previous = version_events(store, snapshots[-2]) if len(snapshots) > 1 else ()
        for old, new in changed_dates(previous, current, today):
            alert = cancelled_alert(old, new)
            for route in routes:
                key = f"cancel:{route.name}:{old.uid}:{new.uid if new else 'withdrawn'}"
                items += _for(route, alert, key, now)
    return store.enqueue_alerts(items) if items else 0


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
    return [{**item, "key": key} for item in outbox_items(alert, [route], now)]
