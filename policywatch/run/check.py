"""One poll of the watchlist: fetch, gate, extract, compare, store, queue alerts.

This is the only place the stages meet. Every outcome of a page is decided
here, in one function per concern, so `check`, `run` and `import` share one
path and one set of rules about what counts as a new version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from policywatch.clock import iso, utcnow
from policywatch.content import Snapshot
from policywatch.errors import StoreError, UsageError
from policywatch.fetch.http import Fetcher
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec
from policywatch.run.fetching import (
    BrowserPool,
    Candidate,
    Fetched,
    Known,
    PageReader,
    accept,
    auto_needs_browser,
    conditional_job,
    fetch_path_of,
    known_version,
    read_fetch,
    read_in_full,
)
from policywatch.run.history_tools import follow_rule_changes
from policywatch.run.lag import queue_translation_lag
from policywatch.run.outcome import CheckReport, PageOutcome, failed_poll, succeeded
from policywatch.run.record import date_bump, drastic_change, record_change, record_unchanged

log = logging.getLogger("policywatch.pipeline")  # kept from pipeline.py: operators filter on it


# How an outcome says a drastic change was not confirmed by the second fetch.
UNCONFIRMED = "unconfirmed change"
# Another check (a cron run beside the daemon) recorded the page while this one read it.
STORED_MEANWHILE = "a version stored meanwhile"

# Seconds a check waits for the store to record one page's result. Writers hold the
# lock only for such short steps, never across a fetch, so this is generous.
RECORD_WAIT = 60.0


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
    queue: bool = True,
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
    not in the watchlist unless `skip_unknown`. `queue`: queue the digests and
    reminders that are due (the daemon's loop does that on its own turns).
    """
    pages = select_pages(config, page_ids, skip_unknown=skip_unknown)
    report = CheckReport()
    own_fetcher = fetcher is None
    started = now or utcnow()  # what a full read is dated (see fetching.may_read_quickly)
    run = _Run(
        config,
        store,
        fetcher or Fetcher(config.defaults),
        BrowserPool(config, browser),
        now,
        started,
    )
    with store.lock(lock_wait, purpose=purpose):
        for page in pages:
            follow_rule_changes(store, page, now)
        known = {page.id: known_version(store, page) for page in pages}
        by_browser = [page for page in pages if fetch_path_of(store, page) == "browser"]
        http_jobs = [conditional_job(store, page) for page in pages if page not in by_browser]
    reader = PageReader(known)
    record_wait = max(lock_wait, RECORD_WAIT)

    def finished(page: PageSpec, fetched: Fetched) -> None:
        fetched = run.follow_up(page, fetched, known[page.id])
        # Written as soon as decided: the write overlaps the other fetches, and a check
        # killed halfway keeps every poll it finished.
        with store.lock(record_wait, purpose=purpose):
            outcome = run.process(page, fetched)
        report.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
        if progress:
            progress(len(report.outcomes), len(pages))

    try:
        # A page we hold a version of is first read quickly: most polls find it unchanged.
        for page, result in run.browsers.fetch_each(by_browser, reader.tests(by_browser, started)):
            finished(page, reader.read(page, result))
        for page, fetched in run.fetcher.fetch_each(http_jobs, reader.read):
            finished(page, fetched)
    finally:
        run.browsers.close()
        if own_fetcher:
            run.fetcher.close()
        store.flush()
    order = {p.id: i for i, p in enumerate(pages)}
    report.outcomes.sort(key=lambda o: order[o.page_id])
    if config.routes:
        # Imported here and only when some route needs them: digests and reminders read
        # effective dates (~70 ms of imports), which a cron `check` would pay on every run.
        from policywatch.alerts.deliver import deliver_pending

        with store.lock(record_wait, purpose=purpose):
            try:  # queued even by --no-deliver; the daemon's loop queues them itself (`queue`)
                if queue and any(route.digest for route in config.routes):
                    from policywatch.run.digests import queue_digests

                    queue_digests(config, store, now or utcnow())
                if queue and any(route.remind for route in config.routes):
                    from policywatch.run.reminders import queue_reminders

                    queue_reminders(config, store, now or utcnow())
            except Exception:  # a digest or a reminder must never hold back the alerts
                log.exception("queuing digests or reminders failed; alerts are still delivered")
            if deliver:
                report.delivery = deliver_pending(store, config.routes, now or utcnow())
    return report


@dataclass
class _Run:
    """What every page's decision in one check shares."""

    config: Config
    store: Store
    fetcher: Fetcher
    browsers: BrowserPool
    now: datetime | None
    started: datetime  # when the check began: one date for every decision to read in full

    def follow_up(self, page: PageSpec, fetched: Fetched, known: Known) -> Fetched:
        """The fetches a first answer may call for, made before the lock is taken.

        An `auto` page that plain HTTP could not read goes to the browser; a page
        that lost most of its sections is fetched again before either is believed.
        """
        try:
            return self._follow_up(page, fetched, known)
        except Exception as exc:  # the run must survive any single page
            log.exception("page=%s unexpected failure while fetching again", page.id)
            return replace(fetched, verdict=f"internal error while fetching again: {exc!r}")

    def _follow_up(self, page: PageSpec, fetched: Fetched, known: Known) -> Fetched:
        result, candidate = fetched.result, fetched.verdict
        if isinstance(candidate, str) and auto_needs_browser(page, result, candidate):
            log.info(
                "page=%s plain HTTP gave no policy (%s); trying the browser", page.id, candidate
            )
            fetched = read_fetch(page, self.browsers.fetch(page), known)
            fetched = replace(fetched, by_browser=not isinstance(fetched.verdict, str))
        candidate = fetched.verdict
        if not isinstance(candidate, Candidate):  # unchanged (most polls), blocked or failed
            return fetched
        latest = self.store.latest(page.id)
        if (
            latest is not None
            and latest.digest != candidate.document.digest
            and drastic_change(self.store, latest, candidate.document)
        ):
            log.warning("page=%s lost sections or much wording; re-fetching to confirm", page.id)
            second = self._second_look(page, candidate, latest)
            if isinstance(second, str):
                return replace(fetched, verdict=second)
            return replace(fetched, result=second.result, verdict=second, confirmed=True)
        return fetched

    def process(self, page: PageSpec, fetched: Fetched) -> PageOutcome:
        """Decide what one fetch means, under the lock; one page never stops the others."""
        now = self.now or utcnow()
        try:
            outcome = self._decide(page, fetched, now)
            if read_in_full(fetched.result) and outcome.snapshot_id is not None:
                self.store.set_page_state(page.id, read_in_full_at=iso(self.started))
            if page.siblings and outcome.status not in ("blocked", "error"):
                queue_translation_lag(self.config, self.store, page, now)
            return outcome
        except StoreError:
            # A store that cannot write (a full disk) fails every page alike, and its
            # error already says what to do: stop with it rather than log a traceback.
            raise
        except Exception as exc:  # the run must survive any single page
            log.exception("page=%s unexpected failure while checking", page.id)
            reason = f"internal error while checking: {exc.__class__.__name__}: {exc}"
            return failed_poll(
                self.config, self.store, page, "error", reason, now, fetched.result.via
            )

    def _decide(self, page: PageSpec, fetched: Fetched, now: datetime) -> PageOutcome:
        config, store = self.config, self.store
        result, candidate = fetched.result, fetched.verdict
        latest = store.latest(page.id)
        if fetched.by_browser:
            store.set_page_state(page.id, fetch_path="browser")
        if result.quick and (latest is None or latest.id != fetched.known.snapshot_id):
            # It recognised the version we knew; only a full read may be compared with another.
            reason = f"{STORED_MEANWHILE}, after a quick read; the next poll reads it in full"
            return failed_poll(config, store, page, "blocked", reason, now, result.via)
        if candidate is None and latest is not None and latest.id != fetched.known.snapshot_id:
            # Another process stored a version while we fetched: compare in full.
            candidate = accept(page, result)
        if latest is not None and (result.status == "not_modified" or candidate is None):
            return record_unchanged(config, store, page, result, latest, now)
        if not isinstance(candidate, Candidate):
            status = "error" if result.status == "error" else "blocked"
            reason = candidate or f"fetch {result.status}"
            return failed_poll(config, store, page, status, reason, now, result.via)
        if (
            latest is not None
            and latest.id != fetched.known.snapshot_id  # the follow-up judged the one it knew
            and not fetched.confirmed
            and latest.digest != candidate.document.digest
            and drastic_change(store, latest, candidate.document)
        ):
            reason = f"page lost sections or much wording against {STORED_MEANWHILE}"
            return failed_poll(config, store, page, "blocked", reason, now, result.via)
        # The date the page showed last time, even when only the date moved (no version).
        shown_date = store.page_state(page.id).get("last_updated")
        if latest is not None and latest.digest == candidate.document.digest:
            outcome = record_unchanged(config, store, page, result, latest, now)
            bumped = date_bump(shown_date or latest.metadata.get("last_updated"), candidate)
            if bumped:
                store.record_outcome(
                    page.id,
                    {"at": iso(now), "status": "date bumped", "reason": bumped, "via": result.via},
                )
                outcome = replace(outcome, date_bumped=bumped)
        else:
            outcome = record_change(
                config, store, page, candidate, latest, now, shown_date=shown_date
            )
            succeeded(config, store, page, result, now)  # validators only once it is stored
        store.set_page_state(
            page.id,
            fingerprint=candidate.fingerprint,
            fingerprint_of=outcome.snapshot_id,
            last_updated=candidate.document.metadata.get("last_updated"),
        )
        return outcome

    def _second_look(
        self, page: PageSpec, candidate: Candidate, latest: Snapshot
    ) -> Candidate | str:
        """Fetch again a page that seems to have lost sections or much of its wording.

        Half-rendered pages and flaky CDNs lose sections for one request; only a
        change seen twice is real. The same content again confirms it; the version
        we hold means the first fetch was a glitch; anything else records nothing
        and the next poll decides.
        """
        fetch = self.fetcher.fetch if candidate.result.via == "http" else self.browsers.fetch
        again = accept(page, fetch(page))
        if isinstance(again, Candidate) and again.document.digest in (
            candidate.document.digest,
            latest.digest,
        ):
            return again
        return (
            f"{UNCONFIRMED}: the page lost sections or much of its wording and a second "
            "fetch did not show the same; nothing recorded, the next poll decides"
        )
