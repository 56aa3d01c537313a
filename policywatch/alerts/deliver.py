"""Delivering the outbox: every pending alert to its route, with backoff, then parked.

Each send is marked in flight on disk before it starts, so a crash or a timeout cannot
lose an alert nor repeat it unflagged; `notify-test` sends the probe through the same path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from policywatch.alerts.health import probe_alert
from policywatch.clock import iso, utcnow
from policywatch.errors import UsageError
from policywatch.models import Route

if TYPE_CHECKING:
    from policywatch.alerts.notify import Sent

log = logging.getLogger("policywatch.notify")  # the name operators filter on

# --------------------------------------------------------------------------- the outbox


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: sent now, failed now, and still waiting afterwards."""

    sent: int = 0
    failed: int = 0  # failed this run (retried later, or given up: see gave_up)
    pending: int = 0  # due entries still pending after this run (failed or unknown route)
    gave_up: int = 0  # parked as "failed" this run; `policywatch alerts retry` requeues them


def backoff_delay(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed runs: 1, 2, 4 ... minutes, capped at 1 h."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


GIVE_UP_AFTER = timedelta(hours=24)  # of accumulated waiting, then the alert is parked
_warned_routes: set[str] = set()


def _given_up(attempts: int, backoff: Callable[[int], timedelta], give_up_after: timedelta) -> bool:
    """Whether retries have spanned `give_up_after`; counted from attempts, not from the
    creation time, so `alerts retry` (which resets attempts) really gives a fresh start."""
    return sum((backoff(n) for n in range(1, attempts + 1)), timedelta()) >= give_up_after


class _Sender:
    """Sends for one delivery run: a few quick tries per alert, and a polite pace per route.

    Most failures (a dropped connection, a 503 while a server restarts) last
    seconds, so an alert gets `tries` attempts with short pauses before it waits
    for the next run. Two alerts to one route go at least SEND_INTERVAL apart
    (chat webhooks take about one a second); we pace here rather than let apprise
    sleep, so tests can pass a `sleep` that does not wait.
    """

    def __init__(self, tries: int, pause: float, sleep: Callable[[float], None]) -> None:
        self.tries, self.pause, self.sleep = max(tries, 1), pause, sleep
        self._last: dict[str, float] = {}

    def send(self, route: Route, payload: Mapping[str, Any], key: str) -> Sent:
        """Send, retrying quick failures; never after a timeout, which may have delivered."""
        # Imported at the first send: apprise takes ~0.1 s to import, which a cron `check`
        # with nothing to deliver (nearly every run) would pay for nothing.
        from policywatch.alerts.notify import SEND_INTERVAL, send_once

        wait = self._last.get(route.name, -SEND_INTERVAL) + SEND_INTERVAL - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        sent = send_once(route, payload, key=key)
        for n in range(1, self.tries):
            if sent.ok or sent.maybe_arrived:
                break
            self.sleep(self.pause * 2 ** (n - 1))
            sent = send_once(route, payload, key=key)
        self._last[route.name] = time.monotonic()
        return sent


def deliver_pending(
    store: Any,
    routes: Sequence[Route],
    now: datetime | None = None,
    *,
    max_attempts_per_run: int = 3,
    backoff: Callable[[int], timedelta] = backoff_delay,
    give_up_after: timedelta = GIVE_UP_AFTER,
    pause: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send every due outbox entry; failures are retried later, never dropped silently.

    An entry whose route is no longer configured stays pending (a renamed or
    removed route must not swallow alerts); we warn once per route name. After a
    route fails, its other entries in this run are counted as failed without
    another wait. `store` is a policywatch.store.Store (typed loosely: store
    imports nothing from here, and this module must not import store's locking).
    """
    now = now or utcnow()
    by_name = {route.name: route for route in routes}
    sender = _Sender(max_attempts_per_run, pause, sleep)
    down: dict[str, Sent] = {}  # route -> how its first failure of this run went
    sent_count = failed = pending = gave_up = 0
    for entry in store.pending_alerts(now):
        key, name = entry["key"], entry["route"]
        route = by_name.get(name)
        if route is None:
            if name not in _warned_routes:
                _warned_routes.add(name)
                log.warning(
                    "route=%s alerts stay queued: no notify route of that name in the watchlist",
                    name,
                )
            pending += 1
            continue
        if name in down:
            sent = replace(down[name], maybe_arrived=False)  # not sent: it surely did not arrive
        else:
            if store.mark_in_flight(key, now):
                from policywatch.alerts.notify import IDEMPOTENCY_HEADER

                log.warning(
                    "route=%s page=%s sending again an alert whose last send was cut off or "
                    "unanswered; it may arrive twice (same %s)",
                    name,
                    entry.get("page_id"),
                    IDEMPOTENCY_HEADER,
                )
            sent = sender.send(route, entry["payload"], key)
        if sent.ok:
            store.mark_sent(key, now)
            sent_count += 1
            log.info("route=%s page=%s alert sent", name, entry.get("page_id"))
            continue
        reason = sent.reason or "unknown failure"
        down[name] = sent
        attempts = int(entry.get("attempts") or 0) + 1
        give_up = _given_up(attempts, backoff, give_up_after)
        store.mark_attempt_failed(
            key, reason, now + backoff(attempts), give_up=give_up, maybe_arrived=sent.maybe_arrived
        )
        failed += 1
        if give_up:
            gave_up += 1
            log.error(
                "route=%s page=%s alert not delivered after %d attempts, parked as failed "
                "(run `policywatch alerts retry` once the route works): %s",
                name,
                entry.get("page_id"),
                attempts,
                reason,
            )
        else:
            pending += 1
            log.warning(
                "route=%s page=%s alert not delivered (attempt %d), retrying at %s: %s",
                name,
                entry.get("page_id"),
                attempts,
                iso(now + backoff(attempts), "seconds"),
                reason,
            )
    return DeliveryReport(sent=sent_count, failed=failed, pending=pending, gave_up=gave_up)


def notify_test(
    routes: Sequence[Route], name: str | None = None
) -> list[tuple[Route, bool, str | None]]:
    """Send a test message to every route (or the one named): what `notify-test` runs."""
    chosen = [route for route in routes if name is None or route.name == name]
    if name is not None and not chosen:
        known = ", ".join(route.name for route in routes) or "none"
        raise UsageError(
            f"no notify route named {name!r}", hint=f"routes in the watchlist: {known}"
        )
    from policywatch.alerts.notify import send

    payload = probe_alert().to_payload()
    return [(route, *send(route, payload)) for route in chosen]
