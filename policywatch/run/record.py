"""Recording what a fetch found: an unchanged poll, a new version, a flip of a flapping page,
or a page that settled; and the alert each one owes the seller."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from policywatch.alerts import compose, health
from policywatch.clock import iso, parse_iso
from policywatch.content import Document, FetchResult, Snapshot
from policywatch.document.dates import page_date_line
from policywatch.errors import StoreError
from policywatch.history.store import Store
from policywatch.models import Config, DiffResult, PageSpec, Severity, short_id
from policywatch.redact import redact_page_url
from policywatch.run.fetching import Candidate
from policywatch.run.outcome import PageOutcome, page_outcome, succeeded
from policywatch.watchlist.checks import format_interval
from policywatch.watchlist.rules import link_only_routes
from policywatch.watchlist.rules import severity as change_severity

if TYPE_CHECKING:
    # The differ and the change alert are imported where a version is recorded: most polls
    # are unchanged, and a cron `check` would pay their renderers' imports on each run.
    from policywatch.alerts import changes

log = logging.getLogger("policywatch.pipeline")  # the name operators filter on

# A fetch that drops this share of the words (or any whole section) is fetched again
# before it is believed: half a page vanishing is more often a glitch than a policy.
LOST_WORDS_SHARE = 0.25


def record_unchanged(
    config: Config,
    store: Store,
    page: PageSpec,
    result: FetchResult,
    latest: Snapshot,
    now: datetime,
) -> PageOutcome:
    store.touch(page.id, latest.id, iso(now))
    succeeded(config, store, page, result, now)
    _settle(config, store, page, latest, now)
    return page_outcome(page, "unchanged", snapshot_id=latest.id, via=result.via)


def _settle(config: Config, store: Store, page: PageSpec, latest: Snapshot, now: datetime) -> None:
    """Count a poll on the version in force; a flapping page that stayed on it long enough
    gets its one "settled" alert, compared with the version the seller last heard of."""
    state = store.page_state(page.id)
    polls = int(state.get("polls_on_latest") or 0) + 1
    store.set_page_state(page.id, polls_on_latest=polls)
    flapping = state.get("flapping")
    held = (now - parse_iso(latest.captured_at)).total_seconds()
    if not flapping or polls < page.settle.polls or held < page.settle.seconds:
        return
    since, severity = flapping["since"], Severity.parse(flapping["severity"])
    announced = _announced(store, page.id, state.get("announced_id"), since)
    if announced is None or announced.digest == latest.digest:
        alert = health.settled_alert(page, latest, announced or latest, since, severity)
    else:
        from policywatch.alerts import changes  # only on a change: see the imports above

        diff = store.diff(announced, latest, config.rules_for(page))
        level = change_severity(diff, alert_on_cosmetic=config.defaults.alert_on_cosmetic)
        alert = changes.change_alert(
            diff,
            page,
            level or severity,
            announced,
            latest,
            config_path=config.path,
            data_dir=str(store.data_dir),
            base_url=config.defaults.base_url,
            settled_from=since,
        )
    items = compose.outbox_items(alert, config.routes, iso(now))
    store.set_page_state(page.id, flapping=None, announced_id=latest.id)  # in the same write
    queued = store.enqueue_alerts(items)
    log.info("page=%s status=settled snapshot=%s alerts=%d", page.id, short_id(latest.id), queued)


def _announced(store: Store, page_id: str, announced_id: str | None, since: str) -> Snapshot | None:
    """The version of the last change alert; for a history from before we kept it, the
    version in force before the flapping began."""
    history = store.snapshots(page_id)
    chosen = next((s for s in history if s.id == announced_id), None)
    return chosen or next((s for s in reversed(history) if s.captured_at < since), None)


def _substantive_sections(diff: DiffResult) -> int:
    """Sections a reader would call changed: new, gone, renamed, moved, or reworded.

    A version that differs only by punctuation or quote style is still kept, but
    counts zero: only substantive changes count toward "changed".
    """
    return sum(
        1
        for s in diff.sections
        if s.kind in ("added", "removed", "renamed", "moved")
        or any(c.substantive for c in s.changes)
    )


def drastic_change(store: Store, latest: Snapshot, document: Document) -> bool:
    """Whether a new reading removes whole sections or a large share of the words.

    That is what a half-rendered or truncated fetch looks like, so it must be
    seen twice before it becomes a version (and two false alerts).
    """
    if set(latest.section_digests) - {s.label for s in document.sections}:
        return True
    try:
        before = _words(store.document(latest))
    except StoreError:
        return False  # nothing to weigh against: recording re-baselines with a notice
    return before > 0 and _words(document) < before * (1 - LOST_WORDS_SHARE)


def _words(document: Document) -> int:
    return sum(len(section.text.split()) for section in document.sections)


def record_change(
    config: Config,
    store: Store,
    page: PageSpec,
    candidate: Candidate,
    latest: Snapshot | None,
    now: datetime,
    origin: Literal["fetch", "import"] = "fetch",
    shown_date: str | None = None,
) -> PageOutcome:
    """Store a new version and, unless it is the baseline, queue its alerts in the same write.

    `shown_date` is the "Last updated" date the page showed on the previous poll,
    which is newer than `latest`'s when only the date moved since.
    """
    from policywatch.diff.compare import diff_documents  # only on a change: see the imports above

    snapshot = _new_snapshot(store, page, candidate, now, origin)
    raw = candidate.result.raw or (candidate.result.text or "").encode("utf-8")
    via = candidate.result.via
    if latest is None:
        store.set_page_state(page.id, polls_on_latest=1, announced_id=snapshot.id, flapping=None)
        store.record_snapshot(snapshot, raw, candidate.document)
        log.info("page=%s status=new snapshot=%s", page.id, short_id(snapshot.id))
        return page_outcome(page, "new", snapshot_id=snapshot.id, via=via)
    earlier = store.find_by_digest(page.id, snapshot.digest)
    if earlier is not None and earlier.captured_at > snapshot.captured_at:
        earlier = None  # an import older than the history it joins is no revert
    try:
        old_doc = store.document(latest)
    except StoreError as exc:
        return _rebaseline_lost(config, store, page, snapshot, raw, candidate, latest, exc, now)
    silent = _silent_edit(shown_date or old_doc.metadata.get("last_updated"), candidate.document)
    diff = diff_documents(
        old_doc,
        candidate.document,
        page_id=page.id,
        old_id=latest.id,
        new_id=snapshot.id,
        rules=config.rules_for(page),
    )
    level = change_severity(diff, alert_on_cosmetic=config.defaults.alert_on_cosmetic)
    # After new extraction rules that old versions cannot be read with, the first new
    # version differs from history by our reading, not by the policy: no alert.
    rebaseline = origin == "fetch" and bool(store.page_state(page.id).get("rebaseline"))
    if rebaseline:
        store.set_page_state(page.id, rebaseline=False)
    routes = config.routes
    if level is None:  # a route may still want to hear that only a link's target changed
        routes = link_only_routes(diff, routes)
        level = Severity.MINOR if routes else None
    items: list[dict] = []
    flapping = False
    if level is not None and origin == "fetch" and not rebaseline:
        alert, flapping = _announcement(config, store, page, diff, level, latest, snapshot, silent)
        items = compose.outbox_items(alert, routes, iso(now)) if alert else []
    if origin == "fetch":
        store.set_page_state(page.id, polls_on_latest=1)
    queued = sum(not store.alert_queued(item["key"]) for item in items)
    # Page state set above goes to disk in the same write as the version and its alerts.
    store.record_snapshot(snapshot, raw, candidate.document, items)
    changed = _substantive_sections(diff)
    log.info(
        "page=%s status=changed sections=%d severity=%s snapshot=%s alerts=%d%s",
        page.id,
        changed,
        level,
        short_id(snapshot.id),
        queued,
        " flapping" if flapping else "",
    )
    return page_outcome(
        page,
        "changed",
        changed_sections=changed,
        snapshot_id=snapshot.id,
        severity=level,
        revert_of=earlier.id if earlier else None,
        revert_seen_at=earlier.captured_at if earlier else None,
        silent_edit=silent,
        flapping=flapping,
        via=via,
    )


def _rebaseline_lost(
    config: Config,
    store: Store,
    page: PageSpec,
    snapshot: Snapshot,
    raw: bytes,
    candidate: Candidate,
    latest: Snapshot,
    problem: StoreError,
    now: datetime,
) -> PageOutcome:
    """The latest stored version cannot be read: keep the new one as a fresh baseline.

    Erroring instead would repeat on every poll and never record the change; the
    seller is told once that this change could not be compared.
    """
    log.warning("page=%s latest version unreadable (%s); re-baselining", page.id, problem.message)
    alert = health.history_lost_alert(page, latest, problem.message)
    items = compose.outbox_items(alert, config.routes, iso(now))
    store.record_snapshot(snapshot, raw, candidate.document, items)
    return page_outcome(
        page, "new", snapshot_id=snapshot.id, via=candidate.result.via, reason=problem.message
    )


def _announcement(
    config: Config,
    store: Store,
    page: PageSpec,
    diff: DiffResult,
    level: Severity,
    latest: Snapshot,
    snapshot: Snapshot,
    silent: bool,
) -> tuple[compose.Alert | None, bool]:
    """What to tell the seller about a new version, and whether the page is flapping.

    A page that comes back to a version it showed moments ago, before it settled
    on the one it leaves, is flapping: one notice, then silence per flip until it
    settles (`_settle`). Any other change, the first one included, alerts now.
    """
    from policywatch.alerts import changes  # only on a change: see the imports above

    state = store.page_state(page.id)
    history = store.snapshots(page.id)
    flapping = state.get("flapping")
    if flapping:
        worst = max(level, Severity.parse(flapping["severity"]))
        store.set_page_state(page.id, flapping={**flapping, "severity": str(worst)})
        return None, True
    common = {"config_path": config.path, "data_dir": str(store.data_dir)}
    if back_before_settling(page, state, history, latest, snapshot):
        since = latest.captured_at
        store.set_page_state(page.id, flapping={"since": since, "severity": str(level)})
        pair = [_first_seen(history, d) for d in (snapshot.digest, latest.digest)]
        settle = f"{page.settle.polls} polls and {format_interval(page.settle.seconds)}"
        notice = health.flapping_alert(page, pair, since, settle, level, **common)
        return notice, True
    back = _return(history, latest, snapshot)
    alert = changes.change_alert(
        diff,
        page,
        level,
        latest,
        snapshot,
        revert_of=back,
        silent_edit=silent,
        base_url=config.defaults.base_url,
        **common,
    )
    store.set_page_state(page.id, announced_id=snapshot.id)
    return alert, False


def back_before_settling(
    page: PageSpec,
    state: dict[str, Any],
    history: Sequence[Snapshot],
    latest: Snapshot,
    snapshot: Snapshot,
) -> bool:
    """The page returns to a version it showed within the settle window, leaving one it
    never settled on (fewer polls or less time than `settle`)."""
    settle = page.settle
    polls = int(state.get("polls_on_latest") or settle.polls)
    held = (parse_iso(latest.last_seen_at) - parse_iso(latest.captured_at)).total_seconds()
    if polls >= settle.polls and held >= settle.seconds:
        return False
    seen = [s for s in history if s.digest == snapshot.digest]
    if not seen:
        return False
    window = max(settle.seconds, settle.polls * page.interval)
    gone = (parse_iso(latest.captured_at) - parse_iso(seen[-1].last_seen_at)).total_seconds()
    return gone <= window


def _first_seen(history: Sequence[Snapshot], digest: str) -> Snapshot:
    return next(s for s in history if s.digest == digest)


def _return(
    history: Sequence[Snapshot], latest: Snapshot, snapshot: Snapshot
) -> changes.Return | None:
    """Whether the new version is wording the page had before: back to the older wording
    of the two is a revert; back to the newer one is a withdrawn change reinstated."""
    from policywatch.alerts import changes  # only on a change: see the imports above

    seen = [i for i, s in enumerate(history) if s.digest == snapshot.digest]
    if not seen:
        return None
    first = history[seen[0]]
    if first.captured_at <= _first_seen(history, latest.digest).captured_at:
        return changes.Return(first)
    withdrawn = history[seen[-1] + 1] if seen[-1] + 1 < len(history) else latest
    return changes.Return(first, withdrawn.captured_at)


def _new_snapshot(
    store: Store,
    page: PageSpec,
    candidate: Candidate,
    now: datetime,
    origin: Literal["fetch", "import"],
) -> Snapshot:
    document = candidate.document
    captured = iso(now)
    return Snapshot(
        id=store.new_snapshot_id(page.id, document.digest, captured),
        page_id=page.id,
        digest=document.digest,
        captured_at=captured,
        last_seen_at=captured,
        url=redact_page_url(candidate.result.final_url or page.url),
        raw_key="",
        doc_key="",
        title=document.title,
        section_digests={s.label: s.digest for s in document.sections},
        metadata=dict(document.metadata),
        origin=origin,
        marketplace=page.marketplace,
    )


def date_bump(before: str | None, candidate: Candidate) -> str | None:
    """ "Last updated: July 3, 2023 (was March 16, 2023)" when only the page's date moved."""
    after = candidate.document.metadata.get("last_updated")
    return page_date_line(before, after) if before and after and before != after else None


def _silent_edit(before: str | None, new: Document) -> bool:
    """The body changed but the page's own "Last updated" date did not move."""
    return bool(before) and before == new.metadata.get("last_updated")
