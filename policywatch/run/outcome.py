"""What one page's poll came to, and what that does to the page's health.

A page that fails often enough gets one "unreachable" alert, and one "recovered" when it
answers again; every outcome names the page's URL (redacted) and marketplace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from policywatch.alerts import compose, health
from policywatch.clock import iso
from policywatch.content import FetchResult
from policywatch.history.store import Store
from policywatch.logs import redact_text
from policywatch.models import Config, PageSpec, Severity
from policywatch.redact import redact_page_url

if TYPE_CHECKING:  # deliver loads apprise (~0.1 s), which a check without routes never needs
    from policywatch.alerts.deliver import DeliveryReport

log = logging.getLogger("policywatch.pipeline")  # the name operators filter on


Status = Literal["new", "unchanged", "changed", "blocked", "error"]


@dataclass(frozen=True)
class PageOutcome:
    page_id: str
    status: Status
    url: str
    changed_sections: int = 0
    reason: str | None = None
    snapshot_id: str | None = None
    severity: Severity | None = None
    revert_of: str | None = None  # id of the earlier snapshot this content equals
    revert_seen_at: str | None = None  # when that earlier content was first seen
    silent_edit: bool = False  # the wording changed but the "Last updated" date did not
    date_bumped: str | None = None  # only the page's own date moved: "<new line> (was <old>)"
    flapping: bool = False  # a flip of a flapping page: kept, announced once it settles
    via: str = "http"
    marketplace: str | None = None


@dataclass
class CheckReport:
    outcomes: list[PageOutcome] = field(default_factory=list)
    delivery: DeliveryReport | None = None

    @property
    def exit_code(self) -> int:
        """0 when every page was checked (changes are success), 1 when any could not be."""
        return 1 if any(o.status in ("blocked", "error") for o in self.outcomes) else 0


def page_outcome(page: PageSpec, status: Status, **fields: Any) -> PageOutcome:
    """An outcome that names the page's URL and marketplace, as every report shows them."""
    fields.setdefault("url", redact_page_url(page.url))
    return PageOutcome(page.id, status, marketplace=page.marketplace, **fields)


def succeeded(
    config: Config, store: Store, page: PageSpec, result: FetchResult, now: datetime
) -> None:
    """Remember validators and close an unreachable episode with one "recovered" alert."""
    state = store.page_state(page.id)
    fields: dict[str, object] = {"consecutive_failures": 0, "last_ok_at": iso(now)}
    if result.via == "http" and result.status == "ok":
        fields["etag"] = result.etag
        fields["last_modified"] = result.last_modified
    down_since = state.get("unreachable_since")
    if down_since:
        fields["unreachable_since"] = None
        if state.get("unreachable_alerted"):
            alert = health.recovered_alert(page, down_since)
            store.enqueue_alerts(compose.outbox_items(alert, config.routes, iso(now)))
        fields["unreachable_alerted"] = False
    store.set_page_state(page.id, **fields)


def failed_poll(
    config: Config,
    store: Store,
    page: PageSpec,
    status: Literal["blocked", "error"],
    reason: str,
    now: datetime,
    via: str,
) -> PageOutcome:
    """Log the failure; after N in a row, queue one "unreachable" alert for the episode."""
    at = iso(now)
    reason = redact_text(reason)  # fetch reasons quote URLs, which may carry credentials
    store.record_outcome(page.id, {"at": at, "status": status, "reason": reason, "via": via})
    state = store.page_state(page.id)
    failures = int(state.get("consecutive_failures") or 0) + 1
    since = state.get("unreachable_since") or at
    # Validators are forgotten: the next poll downloads in full, so a version that was
    # fetched but not stored (a crash while recording it) cannot hide behind a 304.
    fields: dict[str, object] = {
        "consecutive_failures": failures,
        "unreachable_since": since,
        "etag": None,
        "last_modified": None,
    }
    if failures >= config.defaults.failures_before_alert and not state.get("unreachable_alerted"):
        alert = health.unreachable_alert(
            page, failures, reason, since, config_path=config.path, data_dir=str(store.data_dir)
        )
        store.enqueue_alerts(compose.outbox_items(alert, config.routes, at))
        fields["unreachable_alerted"] = True
    store.set_page_state(page.id, **fields)
    # INFO: `check` prints the reason on stdout already, and `run` logs at INFO.
    log.info("page=%s status=%s reason=%s", page.id, status, reason)
    return page_outcome(page, status, reason=reason, via=via)
