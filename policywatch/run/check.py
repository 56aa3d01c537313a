"""One poll of the watchlist: fetch, gate, extract, compare, store, queue alerts.

This is the only place the stages meet. Every outcome of a page is decided
here, in one function per concern, so `check`, `run` and `import` share one
path and one set of rules about what counts as a new version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from policywatch.alerts import compose, notify
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.config import format_interval
from policywatch.diff.compare import diff_documents
from policywatch.document.extract import (
    NotPolicy,
    extract_document,
    page_date_line,
    parse_html,
    prepare,
    rules_key,
)
from policywatch.errors import StoreError, UsageError
from policywatch.fetch import gate
from policywatch.fetch.http import Fetcher, decode_html
from policywatch.history.store import Store
from policywatch.logs import redact_text
from policywatch.models import (
    Config,
    DiffResult,
    Document,
    FetchResult,
    PageSpec,
    Severity,
    Snapshot,
    short_id,
)
from policywatch.redact import redact_page_url
from policywatch.rules import link_only_routes
from policywatch.rules import severity as change_severity

log = logging.getLogger("policywatch.pipeline")  # the name operators filter on

Status = Literal["new", "unchanged", "changed", "blocked", "error"]

# A fetch that drops this share of the words (or any whole section) is fetched again
# before it is believed: half a page vanishing is more often a glitch than a policy.
LOST_WORDS_SHARE = 0.25
# How an outcome says a drastic change was not confirmed by the second fetch.
UNCONFIRMED = "unconfirmed change"

# Seconds a check waits for the store to record one page's result. Writers hold the
# lock only for such short steps, never across a fetch, so this is generous.
RECORD_WAIT = 60.0


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
    delivery: notify.DeliveryReport | None = None

    @property
    def exit_code(self) -> int:
        """0 when every page was checked (changes are success), 1 when any could not be."""
        return 1 if any(o.status in ("blocked", "error") for o in self.outcomes) else 0


@dataclass(frozen=True)
class _Candidate:
    """A fetched page that passed the gate and extracted to a policy document."""

    result: FetchResult
    document: Document
    fingerprint: str


def select_pages(
    config: Config, page_ids: Sequence[str] | None, *, skip_unknown: bool = False
) -> list[PageSpec]:
    """The pages to check; a bare id also selects all its marketplaces (`id@UK`, `id@DE`).

    An id the watchlist does not have is a usage error naming the ids it has, or,
    with `skip_unknown` (the daemon, whose due list may outlive a reload), a warning.
    """
    if not page_ids:
        return list(config.pages)
    chosen: list[PageSpec] = []
    for wanted in page_ids:
        matches = [p for p in config.pages if p.id == wanted or p.id.split("@", 1)[0] == wanted]
        if not matches and skip_unknown:
            log.warning("page=%s is no longer in %s; skipped", wanted, config.path)
        elif not matches:
            known = ", ".join(p.id for p in config.pages) or "none"
            raise UsageError(
                f"no page {wanted!r} in {config.path}",
                hint=f"pages in the watchlist: {known}",
            )
        chosen.extend(p for p in matches if p not in chosen)
    return chosen


def check_pages(
    config: Config,
    store: Store,
    *,
    page_ids: Sequence[str] | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_outcome: Callable[[PageOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
    browser: object | None = None,
    deliver: bool = True,
    skip_unknown: bool = False,
    lock_wait: float = 10.0,
    purpose: str | None = None,
) -> CheckReport:
    """Poll the pages once, holding the store lock only to read state and to record.

    The fetches run without the lock, so a slow site never keeps a cron `check`
    or the daemon out of the store; each page's result is decided and written
    under the lock, against the store as it is then (another process may have
    recorded the same change meanwhile). Raises StoreLocked when the store stays
    locked past `lock_wait` seconds at the start, and UsageError for a page id
    not in the watchlist unless `skip_unknown`.
    """
    pages = select_pages(config, page_ids, skip_unknown=skip_unknown)
    report = CheckReport()
    own_fetcher = fetcher is None
    run = _Run(
        config, store, fetcher or Fetcher(config.defaults), _BrowserPool(config, browser), now
    )
    with store.lock(lock_wait, purpose=purpose):
        for page in pages:
            _follow_rule_changes(store, page, now)
        known = {page.id: _known_version(store, page) for page in pages}
        by_browser = [page for page in pages if _fetch_path(store, page) == "browser"]
        http_jobs = [_conditional_job(store, page) for page in pages if page not in by_browser]
    record_wait = max(lock_wait, RECORD_WAIT)

    def read(page: PageSpec, result: FetchResult) -> _Fetched:
        return _read(page, result, known[page.id])

    def finished(page: PageSpec, fetched: _Fetched) -> None:
        fetched = run.follow_up(page, fetched, known[page.id])
        # Unchanged polls stay batched to the one write at the end; a version is written at once.
        with store.lock(record_wait, purpose=purpose, write=False):
            outcome = run.process(page, fetched)
        report.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
        if progress:
            progress(len(report.outcomes), len(pages))

    try:
        for page in by_browser:
            finished(page, read(page, run.browsers.fetch(page)))
        for page, fetched in run.fetcher.fetch_each(http_jobs, read):
            finished(page, fetched)
    finally:
        run.browsers.close()
        if own_fetcher:
            run.fetcher.close()
        store.flush()
    order = {p.id: i for i, p in enumerate(pages)}
    report.outcomes.sort(key=lambda o: order[o.page_id])
    if deliver and config.routes:
        with store.lock(record_wait, purpose=purpose):
            report.delivery = notify.deliver_pending(store, config.routes, now or utcnow())
    return report


def _follow_rule_changes(store: Store, page: PageSpec, now: datetime | None) -> None:
    """Re-read stored versions when the page's select/remove/ignore changed since.

    Otherwise the first poll after a watchlist edit would report our new reading
    of an unchanged page as a policy change: crying wolf. Re-deriving alerts no one.
    """
    key = rules_key(page)
    before = store.page_state(page.id).get("rules_key")
    if before == key:
        return
    if before is not None and store.latest(page.id) is not None:
        done = rederive(store, page, now)
        if done.reason:
            log.warning(
                "page=%s extraction rules changed but history was not re-derived (%s); "
                "the next version is a new baseline and alerts no one",
                page.id,
                done.reason,
            )
            store.set_page_state(page.id, rebaseline=True)
        else:
            log.info(
                "page=%s extraction rules changed: re-derived %d of %d versions, no alert",
                page.id,
                len(done.changed),
                done.versions,
            )
    store.set_page_state(page.id, rules_key=key)


def _fetch_path(store: Store, page: PageSpec) -> str:
    if page.fetch != "auto":
        return page.fetch
    return store.page_state(page.id).get("fetch_path", "http")


def _conditional_job(store: Store, page: PageSpec) -> tuple[PageSpec, str | None, str | None]:
    """The http job for a page, with validators only when we hold a version to fall back on."""
    if store.latest(page.id) is None:
        return (page, None, None)
    state = store.page_state(page.id)
    return (page, state.get("etag"), state.get("last_modified"))


@dataclass(frozen=True)
class _Known:
    """The version we held when the check started, and its cleaned-body fingerprint."""

    fingerprint: str | None = None
    snapshot_id: str | None = None


def _known_version(store: Store, page: PageSpec) -> _Known:
    latest = store.latest(page.id)
    if latest is None:
        return _Known()
    state = store.page_state(page.id)
    fingerprint = state.get("fingerprint") if state.get("fingerprint_of") == latest.id else None
    return _Known(fingerprint, latest.id)


class _BrowserPool:
    """Starts the headless browser only when a page needs it, and once per run."""

    def __init__(self, config: Config, browser: object | None) -> None:
        self._config = config
        self._browser = browser
        self._owned = False

    def fetch(self, page: PageSpec) -> FetchResult:
        if self._browser is None:
            from policywatch.fetch.browser import BrowserFetcher

            self._browser = BrowserFetcher(self._config.defaults)
            self._owned = True
        return self._browser.fetch(page)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._owned and self._browser is not None:
            self._browser.close()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Fetched:
    """A fetch and what reading it found: the policy, a reason it holds none, or None (same).

    None means "the same as the version `known` names". `by_browser` marks an
    `auto` page that only the browser could read; `confirmed` a loss of most
    sections that a second fetch saw too.
    """

    result: FetchResult
    verdict: _Candidate | str | None
    known: _Known = _Known()
    by_browser: bool = False
    confirmed: bool = False


def _read(page: PageSpec, result: FetchResult, known: _Known) -> _Fetched:
    """Parse and judge one fetched body; runs in the fetch worker, so it never raises."""
    try:
        return _Fetched(result, _accept(page, result, unchanged_if=known.fingerprint), known)
    except Exception as exc:  # the run must survive any single page
        log.exception("page=%s unexpected failure while reading the page", page.id)
        return _Fetched(result, f"internal error while reading the page: {exc!r}", known)


@dataclass
class _Run:
    """What every page's decision in one check shares."""

    config: Config
    store: Store
    fetcher: Fetcher
    browsers: _BrowserPool
    now: datetime | None

    def follow_up(self, page: PageSpec, fetched: _Fetched, known: _Known) -> _Fetched:
        """The fetches a first answer may call for, made before the lock is taken.

        An `auto` page that plain HTTP could not read goes to the browser; a page
        that lost most of its sections is fetched again before either is believed.
        """
        try:
            return self._follow_up(page, fetched, known)
        except Exception as exc:  # the run must survive any single page
            log.exception("page=%s unexpected failure while fetching again", page.id)
            return replace(fetched, verdict=f"internal error while fetching again: {exc!r}")

    def _follow_up(self, page: PageSpec, fetched: _Fetched, known: _Known) -> _Fetched:
        result, candidate = fetched.result, fetched.verdict
        if isinstance(candidate, str) and _auto_needs_browser(page, result, candidate):
            log.info(
                "page=%s plain HTTP gave no policy (%s); trying the browser", page.id, candidate
            )
            fetched = _read(page, self.browsers.fetch(page), known)
            fetched = replace(fetched, by_browser=not isinstance(fetched.verdict, str))
        latest = self.store.latest(page.id)
        candidate = fetched.verdict
        if (
            isinstance(candidate, _Candidate)
            and latest is not None
            and latest.digest != candidate.document.digest
            and _drastic(self.store, latest, candidate.document)
        ):
            log.warning("page=%s lost sections or much wording; re-fetching to confirm", page.id)
            second = self._second_look(page, candidate, latest)
            if isinstance(second, str):
                return replace(fetched, verdict=second)
            return replace(fetched, result=second.result, verdict=second, confirmed=True)
        return fetched

    def process(self, page: PageSpec, fetched: _Fetched) -> PageOutcome:
        """Decide what one fetch means, under the lock; one page never stops the others."""
        now = self.now or utcnow()
        try:
            return self._decide(page, fetched, now)
        except StoreError:
            # A store that cannot write (a full disk) fails every page alike, and its
            # error already says what to do: stop with it rather than log a traceback.
            raise
        except Exception as exc:  # the run must survive any single page
            log.exception("page=%s unexpected failure while checking", page.id)
            reason = f"internal error while checking: {exc.__class__.__name__}: {exc}"
            return _failed(self.config, self.store, page, "error", reason, now, fetched.result.via)

    def _decide(self, page: PageSpec, fetched: _Fetched, now: datetime) -> PageOutcome:
        config, store = self.config, self.store
        result, candidate = fetched.result, fetched.verdict
        latest = store.latest(page.id)
        if fetched.by_browser:
            store.set_page_state(page.id, fetch_path="browser")
        if candidate is None and latest is not None and latest.id != fetched.known.snapshot_id:
            # Another process stored a version while we fetched: compare in full.
            candidate = _accept(page, result)
        if latest is not None and (result.status == "not_modified" or candidate is None):
            return _unchanged(config, store, page, result, latest, now)
        if not isinstance(candidate, _Candidate):
            status = "error" if result.status == "error" else "blocked"
            reason = candidate or f"fetch {result.status}"
            return _failed(config, store, page, status, reason, now, result.via)
        if (
            latest is not None
            and not fetched.confirmed
            and latest.digest != candidate.document.digest
            and _drastic(store, latest, candidate.document)
        ):
            reason = "page lost sections or much wording against a version stored meanwhile"
            return _failed(config, store, page, "blocked", reason, now, result.via)
        # The date the page showed last time, even when only the date moved (no version).
        shown_date = store.page_state(page.id).get("last_updated")
        if latest is not None and latest.digest == candidate.document.digest:
            outcome = _unchanged(config, store, page, result, latest, now)
            bumped = _date_bump(shown_date or latest.metadata.get("last_updated"), candidate)
            if bumped:
                store.record_outcome(
                    page.id,
                    {"at": iso(now), "status": "date bumped", "reason": bumped, "via": result.via},
                )
                outcome = replace(outcome, date_bumped=bumped)
        else:
            outcome = _record(config, store, page, candidate, latest, now, shown_date=shown_date)
            _succeeded(config, store, page, result, now)  # validators only once it is stored
        store.set_page_state(
            page.id,
            fingerprint=candidate.fingerprint,
            fingerprint_of=outcome.snapshot_id,
            last_updated=candidate.document.metadata.get("last_updated"),
        )
        return outcome

    def _second_look(
        self, page: PageSpec, candidate: _Candidate, latest: Snapshot
    ) -> _Candidate | str:
        """Fetch again a page that seems to have lost sections or much of its wording.

        Half-rendered pages and flaky CDNs lose sections for one request; only a
        change seen twice is real. The same content again confirms it; the version
        we hold means the first fetch was a glitch; anything else records nothing
        and the next poll decides.
        """
        fetch = self.fetcher.fetch if candidate.result.via == "http" else self.browsers.fetch
        again = _accept(page, fetch(page))
        if isinstance(again, _Candidate) and again.document.digest in (
            candidate.document.digest,
            latest.digest,
        ):
            return again
        return (
            f"{UNCONFIRMED}: the page lost sections or much of its wording and a second "
            "fetch did not show the same; nothing recorded, the next poll decides"
        )


def _unchanged(
    config: Config,
    store: Store,
    page: PageSpec,
    result: FetchResult,
    latest: Snapshot,
    now: datetime,
) -> PageOutcome:
    store.touch(page.id, latest.id, iso(now))
    _succeeded(config, store, page, result, now)
    _settle(config, store, page, latest, now)
    return _outcome(page, "unchanged", snapshot_id=latest.id, via=result.via)


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
        alert = compose.settled_alert(page, latest, announced or latest, since, severity)
    else:
        diff = diff_documents(
            store.document(announced),
            store.document(latest),
            page_id=page.id,
            old_id=announced.id,
            new_id=latest.id,
            rules=config.rules_for(page),
        )
        level = change_severity(diff, alert_on_cosmetic=config.defaults.alert_on_cosmetic)
        alert = compose.change_alert(
            diff,
            page,
            level or severity,
            announced,
            latest,
            config_path=config.path,
            data_dir=str(store.data_dir),
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


def _outcome(page: PageSpec, status: Status, **fields: Any) -> PageOutcome:
    """An outcome that names the page's URL and marketplace, as every report shows them."""
    fields.setdefault("url", redact_page_url(page.url))
    return PageOutcome(page.id, status, marketplace=page.marketplace, **fields)


def _auto_needs_browser(page: PageSpec, result: FetchResult, reason: str) -> bool:
    """Plain HTTP got the app shell, not the article: only a browser can render it."""
    return (
        page.fetch == "auto"
        and result.via == "http"
        and reason.startswith((gate.NEEDS_JAVASCRIPT, gate.NO_SELECTOR_MATCH))
    )


def _accept(
    page: PageSpec, result: FetchResult, unchanged_if: str | None = None
) -> _Candidate | str | None:
    """The policy document in a fetch, or the reason this fetch holds none.

    None means the cleaned policy body has the fingerprint `unchanged_if`, taken
    from the version we hold: the page is unchanged and sectioning it is skipped.
    """
    if result.status != "ok" or result.text is None:
        return result.reason or f"fetch {result.status}"
    final_url = result.final_url or page.url
    if result.raw is not None and (binary := gate.not_html(result.raw)):
        return binary
    tree = parse_html(result.text)
    reason = gate.classify_response(
        result.text, final_url, result.http_status or 200, page, via=result.via, tree=tree
    )
    if reason:
        return reason
    try:
        prepared = prepare(tree, page, final_url)
    except NotPolicy as exc:
        return f"{gate.NO_SELECTOR_MATCH}: {exc.reason}"
    if unchanged_if is not None and prepared.fingerprint == unchanged_if:
        return None
    document = extract_document(prepared, page, final_url)
    return gate.check_document(document, page) or _Candidate(result, document, prepared.fingerprint)


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


def _drastic(store: Store, latest: Snapshot, document: Document) -> bool:
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


def _record(
    config: Config,
    store: Store,
    page: PageSpec,
    candidate: _Candidate,
    latest: Snapshot | None,
    now: datetime,
    origin: Literal["fetch", "import"] = "fetch",
    shown_date: str | None = None,
) -> PageOutcome:
    """Store a new version and, unless it is the baseline, queue its alerts in the same write.

    `shown_date` is the "Last updated" date the page showed on the previous poll,
    which is newer than `latest`'s when only the date moved since.
    """
    snapshot = _new_snapshot(store, page, candidate, now, origin)
    raw = candidate.result.raw or (candidate.result.text or "").encode("utf-8")
    via = candidate.result.via
    if latest is None:
        store.set_page_state(page.id, polls_on_latest=1, announced_id=snapshot.id, flapping=None)
        store.record_snapshot(snapshot, raw, candidate.document)
        log.info("page=%s status=new snapshot=%s", page.id, short_id(snapshot.id))
        return _outcome(page, "new", snapshot_id=snapshot.id, via=via)
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
    return _outcome(
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
    candidate: _Candidate,
    latest: Snapshot,
    problem: StoreError,
    now: datetime,
) -> PageOutcome:
    """The latest stored version cannot be read: keep the new one as a fresh baseline.

    Erroring instead would repeat on every poll and never record the change; the
    seller is told once that this change could not be compared.
    """
    log.warning("page=%s latest version unreadable (%s); re-baselining", page.id, problem.message)
    alert = compose.history_lost_alert(page, latest, problem.message)
    items = compose.outbox_items(alert, config.routes, iso(now))
    store.record_snapshot(snapshot, raw, candidate.document, items)
    return _outcome(
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
    state = store.page_state(page.id)
    history = store.snapshots(page.id)
    flapping = state.get("flapping")
    if flapping:
        worst = max(level, Severity.parse(flapping["severity"]))
        store.set_page_state(page.id, flapping={**flapping, "severity": str(worst)})
        return None, True
    common = {"config_path": config.path, "data_dir": str(store.data_dir)}
    if _back_before_settling(page, state, history, latest, snapshot):
        since = latest.captured_at
        store.set_page_state(page.id, flapping={"since": since, "severity": str(level)})
        pair = [_first_seen(history, d) for d in (snapshot.digest, latest.digest)]
        settle = f"{page.settle.polls} polls and {format_interval(page.settle.seconds)}"
        notice = compose.flapping_alert(page, pair, since, settle, level, **common)
        return notice, True
    back = _return(history, latest, snapshot)
    alert = compose.change_alert(
        diff, page, level, latest, snapshot, revert_of=back, silent_edit=silent, **common
    )
    store.set_page_state(page.id, announced_id=snapshot.id)
    return alert, False


def _back_before_settling(
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
) -> compose.Return | None:
    """Whether the new version is wording the page had before: back to the older wording
    of the two is a revert; back to the newer one is a withdrawn change reinstated."""
    seen = [i for i, s in enumerate(history) if s.digest == snapshot.digest]
    if not seen:
        return None
    first = history[seen[0]]
    if first.captured_at <= _first_seen(history, latest.digest).captured_at:
        return compose.Return(first)
    withdrawn = history[seen[-1] + 1] if seen[-1] + 1 < len(history) else latest
    return compose.Return(first, withdrawn.captured_at)


def _new_snapshot(
    store: Store,
    page: PageSpec,
    candidate: _Candidate,
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


def _date_bump(before: str | None, candidate: _Candidate) -> str | None:
    """ "Last updated: July 3, 2023 (was March 16, 2023)" when only the page's date moved."""
    after = candidate.document.metadata.get("last_updated")
    return page_date_line(before, after) if before and after and before != after else None


def _silent_edit(before: str | None, new: Document) -> bool:
    """The body changed but the page's own "Last updated" date did not move."""
    return bool(before) and before == new.metadata.get("last_updated")


def _succeeded(
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
            alert = compose.recovered_alert(page, down_since)
            store.enqueue_alerts(compose.outbox_items(alert, config.routes, iso(now)))
        fields["unreachable_alerted"] = False
    store.set_page_state(page.id, **fields)


def _failed(
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
        alert = compose.unreachable_alert(
            page, failures, reason, since, config_path=config.path, data_dir=str(store.data_dir)
        )
        store.enqueue_alerts(compose.outbox_items(alert, config.routes, at))
        fields["unreachable_alerted"] = True
    store.set_page_state(page.id, **fields)
    # INFO: `check` prints the reason on stdout already, and `run` logs at INFO.
    log.info("page=%s status=%s reason=%s", page.id, status, reason)
    return _outcome(page, status, reason=reason, via=via)


def import_files(
    config: Config,
    store: Store,
    page: PageSpec,
    files: Iterable[tuple[str, bytes, datetime]],
) -> list[PageOutcome]:
    """Backfill history from saved HTML (name, bytes, when), oldest first, alerting no one.

    Each file is judged like a fetch and compared with the version in force at its
    date, so saved copies may also fill a gap before or inside a live history.
    Outcomes carry the file name as their `url`.
    """
    _follow_rule_changes(store, page, None)
    outcomes = []
    for name, raw, at in sorted(files, key=lambda f: f[2]):
        result = FetchResult(
            url=page.url, status="ok", final_url=page.url, text=decode_html(raw), raw=raw
        )
        candidate = _accept(page, result)
        if not isinstance(candidate, _Candidate):
            outcomes.append(_outcome(page, "blocked", url=name, reason=candidate))
            continue
        before = _in_force(store, page.id, iso(at))
        if before is not None and before.digest == candidate.document.digest:
            store.touch(page.id, before.id, at)
            outcomes.append(_outcome(page, "unchanged", url=name, snapshot_id=before.id))
            continue
        recorded = _record(config, store, page, candidate, before, at, origin="import")
        outcomes.append(replace(recorded, url=name))
        # The live page's validators vouch for the version fetched live, which an
        # import dated later is not: the next poll must download and compare.
        store.set_page_state(page.id, etag=None, last_modified=None)
    store.flush()
    return outcomes


def _in_force(store: Store, page_id: str, at: str) -> Snapshot | None:
    """The version a reader saw at `at`: the last one captured then or before."""
    earlier = [s for s in store.snapshots(page_id) if s.captured_at <= at]
    return earlier[-1] if earlier else None


@dataclass(frozen=True)
class Rederived:
    """What `rederive` did to one page's history."""

    page_id: str
    versions: int = 0  # stored versions read again
    changed: tuple[str, ...] = ()  # ids of the versions whose extraction now differs
    reason: str | None = None  # why nothing was rewritten


def rederive(store: Store, page: PageSpec, now: datetime | None = None) -> Rederived:
    """Re-extract every stored version of a page from its raw HTML with today's rules.

    After a `select`/`remove`/`ignore` or normaliser change, the next poll would
    report the new reading of the page as a policy change, and old versions would
    no longer compare like with like with new ones. So all versions are re-derived
    or none (one that no longer extracts stops the page), in one index write, with
    no alert: the policy did not change, our reading of it did. Ids, capture times
    and the raw HTML stay; running it again with the old rules undoes it.
    """
    snapshots = store.snapshots(page.id)
    redone: list[tuple[str, Document]] = []
    for snap in snapshots:
        raw = store.raw_html(snap)
        result = FetchResult(
            url=snap.url, status="ok", final_url=snap.url, text=decode_html(raw), raw=raw
        )
        candidate = _accept(page, result)
        if not isinstance(candidate, _Candidate):
            why = f"version {short_id(snap.id)} ({snap.captured_at[:10]}) no longer extracts: "
            return Rederived(page.id, len(snapshots), reason=why + str(candidate))
        document = candidate.document
        if (document.digest, document.title, dict(document.metadata)) != (
            snap.digest,
            snap.title,
            dict(snap.metadata),
        ):
            redone.append((snap.id, document))
    if redone:
        store.replace_documents(redone, rederived_at=now or utcnow())
        store.set_page_state(page.id, fingerprint=None, fingerprint_of=None)
    store.set_page_state(page.id, rules_key=rules_key(page))
    store.flush()
    return Rederived(page.id, len(snapshots), tuple(snap_id for snap_id, _ in redone))
