"""Translation lag: after each poll of one language of a policy, whether it has fallen
behind a change of the same policy in another language of the marketplace."""

from __future__ import annotations

import logging
from datetime import datetime

from policywatch.alerts import compose, health
from policywatch.clock import iso
from policywatch.document.languages import translation_lag
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec

log = logging.getLogger("policywatch.pipeline")


def queue_translation_lag(config: Config, store: Store, page: PageSpec, now: datetime) -> int:
    """Queue one alert per sibling change this language has not followed in time.

    Only the lagging language raises it, and only for a real change of the sibling
    (its baseline is no change). A sibling change that came after this page's own
    change may be its translation arriving late, so it is not held against this page.
    """
    latest = store.latest(page.id)  # the latest versions come from the small state files:
    if latest is None:  # an unchanged poll reads no history unless a sibling is ahead in time
        return 0
    queued = 0
    for sibling in page.siblings:
        newest = store.latest(sibling)
        if newest is None or newest.captured_at <= latest.captured_at:
            continue
        days = page.translation_lag / 86400
        lag = translation_lag(
            (_locale(page.id), latest), (_locale(sibling), newest), now=now, days=days
        )
        if lag is None:
            continue
        theirs, mine = store.snapshots(sibling), store.snapshots(page.id)
        if len(theirs) < 2 or (len(mine) > 1 and latest.captured_at > theirs[-2].captured_at):
            continue
        alert = health.translation_lag_alert(
            page, sibling, newest, lag, config_path=config.path, data_dir=str(store.data_dir)
        )
        queued += store.enqueue_alerts(compose.outbox_items(alert, config.routes, iso(now)))
    if queued:
        log.info("page=%s status=translation lag alerts=%d", page.id, queued)
    return queued


def _locale(watch: str) -> str:
    """ "de-DE" for `conduct@de-DE` and `conduct@DE.de-DE`."""
    return watch.rpartition("@")[2].rpartition(".")[2]
