"""Queuing the digests that are due: one per route and period, through the alert outbox.

The outbox key `digest:<route>:<period start>` makes a period's digest unique: a second
`check`, a restart, or `check` and `run` at once queue it once, and delivery (in-flight
marks, retries, parking) treats it as any alert. A digest is due once its period has
ended. After downtime only the last finished period is queued, not one per missed
period; it covers everything since the route's previous digest (at most MAX_CATCH_UP
back), so a change recorded before the downtime still reaches a digest-only route.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

from policywatch.alerts.compose import cli_command, outbox_entry, page_name
from policywatch.alerts.digest import DigestChange, Period, TakesEffect, WatchHealth, digest_alert
from policywatch.alerts.effective import latest_events
from policywatch.alerts.items import first_change
from policywatch.alerts.links import change_url
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import StoreError, StoreLocked
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec, Route, short_id
from policywatch.run.record import back_before_settling
from policywatch.watchlist.rules import severity as change_severity
from policywatch.watchlist.schedule import last_period

log = logging.getLogger("policywatch.notify")  # the name operators filter on

SOON = timedelta(days=30)  # a digest lists what takes effect within this after it is written
MAX_CATCH_UP = timedelta(days=92)  # a digest after long downtime reaches back this far at most
LOCK_WAIT = 1.0  # seconds the loop waits for the store; a busy store means the next turn
RETRY_AFTER = 60.0  # seconds before the loop tries again after queuing failed


def digest_key(route: Route, period: Period) -> str:
    """The outbox key of a period's digest: one per route and period, whoever queues it."""
    return f"digest:{route.name}:{iso(period.start, 'seconds')}"


def due_digests(config: Config, now: datetime) -> list[tuple[Route, Period]]:
    """Each digest route with the last period that has ended by `now`."""
    return [
        (route, Period(route.digest.every, *last_period(route.digest, now), route.digest.timezone))
        for route in config.routes
        if route.digest is not None
    ]


def queue_digests(
    config: Config,
    store: Store,
    now: datetime,
) -> int:
    """Queue every digest due at `now` that is not queued yet; returns how many were.

    The caller holds the store lock, so two processes cannot both find a period's
    digest missing.
    """
    due = [d for d in due_digests(config, now) if not store.alert_queued(digest_key(*d))]
    previous = _previous_ends(store) if due else {}
    # None for a period an earlier digest already reached past (the clock stepped back,
    # or the schedule moved), checked first: it is cheap, and stays so until the next period.
    due = [(r, p) for r, p in due if _since(previous.get(r.name), p) < p.end]
    if due:  # never "no changes" for a period that ended before anything was watched
        began = _watching_since(config, store)
        due = [(r, p) for r, p in due if began is not None and began < p.end]
    if not due:
        return 0
    watches = [_health(store, page) for page in config.pages]
    soon = _takes_effect_soon(config, store, now)
    found: dict[tuple[datetime, datetime], list[DigestChange]] = {}
    items = []
    for route, period in due:
        since, end = _since(previous.get(route.name), period), period.end
        if (since, end) not in found:
            found[since, end] = list(_changes(config, store, since, end))
        changes = [c for c in found[since, end] if c.severity >= route.min_severity]
        alert = digest_alert(
            digest_key(route, period),
            replace(period, start=since),
            changes,
            watches,
            now,
            takes_effect_soon=soon,
            web_view=config.defaults.base_url,
            floor=route.min_severity,
        )
        period_bounds = {"period_start": iso(since), "period_end": iso(end)}
        items.append({**outbox_entry(alert, route, now, key=alert.key), **period_bounds})
    queued = store.enqueue_alerts(items)
    for item in items:
        log.info("route=%s digest queued for %s", item["route"], item["period_end"])
    return queued


def _takes_effect_soon(config: Config, store: Store, now: datetime) -> list[TakesEffect]:
    """The dates the latest versions state within SOON of the digest, linked to the page."""
    today = now.date()
    return [
        TakesEffect(event.on.isoformat(), event.name, event.sentence, event.url)
        for event in latest_events(store, [page.id for page in config.pages])
        if today <= event.on <= today + SOON
    ]


def _previous_ends(store: Store) -> dict[str, datetime]:
    """Where each route's last queued digest ended: the next one starts there."""
    ends: dict[str, datetime] = {}
    for entry in store.alerts(payloads=False):  # the entries say it; no payload is read
        if entry.get("kind") == "digest" and entry.get("period_end"):
            end = parse_iso(entry["period_end"])
            ends[entry["route"]] = max(end, ends.get(entry["route"], end))
    return ends


def _watching_since(config: Config, store: Store) -> datetime | None:
    """When the store first heard of any watched page: its first version or failed poll."""
    stamps = []
    for page in config.pages:
        first = store.snapshots(page.id)[:1]
        stamps += [s.captured_at for s in first]
        stamps += [o["at"] for o in store.outcomes(page.id)[:1] if o.get("at")]
    return min(map(parse_iso, stamps), default=None)


def _since(previous_end: datetime | None, period: Period) -> datetime:
    """Where the route's previous digest ended: earlier than the period's start after
    downtime (no gap), later when the schedule moved (no change listed twice)."""
    if previous_end is None:
        return period.start
    return max(previous_end, period.end - MAX_CATCH_UP)


def _changes(
    config: Config, store: Store, since: datetime, end: datetime
) -> Iterator[DigestChange]:
    """Every version fetched in [since, end) that an alert would announce, compared with the
    version before it by the same diff and rules as the alert, loudest level included."""
    for page in config.pages:
        history = store.snapshots(page.id)
        for i, (old, new) in enumerate(pairwise(history)):
            if new.origin != "fetch" or not since <= parse_iso(new.captured_at) < end:
                continue
            # A flip of a flapping page is no change an alert announced (the page state's
            # poll count is not kept per version: how long `old` was held decides).
            if back_before_settling(page, {}, history[: i + 1], old, new):
                continue
            try:
                diff = store.diff(old, new, config.rules_for(page))
            except StoreError as exc:
                log.warning(
                    "page=%s version %s left out of the digest: %s",
                    page.id,
                    short_id(new.id),
                    exc.message,
                )
                continue
            level = change_severity(diff, alert_on_cosmetic=config.defaults.alert_on_cosmetic)
            if level is None:
                continue
            section, sentence = first_change(diff)
            yield DigestChange(
                page=page_name(page, new),
                marketplace=page.marketplace or new.marketplace,
                severity=level,
                section=section,
                sentence=sentence,
                captured_at=new.captured_at,
                permalink=change_url(config.defaults.base_url, page.id, old.id, new.id),
                command=cli_command(
                    "diff",
                    page.id,
                    short_id(old.id),
                    short_id(new.id),
                    config_path=config.path,
                    data_dir=str(store.data_dir),
                ),
            )


def _health(store: Store, page: PageSpec) -> WatchHealth:
    state = store.page_state(page.id)
    return WatchHealth(
        name=page_name(page),
        last_ok_at=state.get("last_ok_at"),
        failing_since=state.get("unreachable_since"),
        interval=page.interval,
    )


class LoopDigests:
    """`policywatch run`'s part: each turn, queue the digests of periods that just ended.

    It remembers the keys it saw queued, so a turn opens the store only when a period
    has ended; a busy store (a cron `check`) or a failure is tried again later.
    """

    def __init__(self) -> None:
        self.queued: set[str] = set()
        self.retry_at = 0.0

    def turn(self, config: Config, data_dir: Path) -> bool:
        """Queue what is due; True when a digest was queued and wants delivering."""
        now = utcnow()
        keys = {digest_key(*due) for due in due_digests(config, now)}
        if keys <= self.queued or time.monotonic() < self.retry_at:
            return False
        try:
            with Store(data_dir) as store, store.lock(LOCK_WAIT, purpose="policywatch run"):
                queued = queue_digests(config, store, now)
        except StoreLocked:
            return False
        except Exception:
            log.exception("queuing the digests failed; trying again in a minute")
            self.retry_at = time.monotonic() + RETRY_AFTER
            return False
        self.queued |= keys
        return queued > 0
