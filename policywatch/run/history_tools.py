"""Reworking stored history: importing saved copies of a page, and re-deriving every version
from its raw HTML after the extraction rules changed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from policywatch.clock import iso, utcnow
from policywatch.content import Document, FetchResult, Snapshot
from policywatch.document.extract import (
    rules_key,
)
from policywatch.fetch.decode import decode_html
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec, short_id
from policywatch.run.fetching import Candidate, accept
from policywatch.run.outcome import PageOutcome, page_outcome
from policywatch.run.record import record_change

log = logging.getLogger("policywatch.pipeline")  # the name operators filter on


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
    follow_rule_changes(store, page, None)
    outcomes = []
    for name, raw, at in sorted(files, key=lambda f: f[2]):
        result = FetchResult(
            url=page.url, status="ok", final_url=page.url, text=decode_html(raw), raw=raw
        )
        candidate = accept(page, result)
        if not isinstance(candidate, Candidate):
            outcomes.append(page_outcome(page, "blocked", url=name, reason=candidate))
            continue
        before = _in_force(store, page.id, iso(at))
        if before is not None and before.digest == candidate.document.digest:
            store.touch(page.id, before.id, at)
            outcomes.append(page_outcome(page, "unchanged", url=name, snapshot_id=before.id))
            continue
        recorded = record_change(config, store, page, candidate, before, at, origin="import")
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
        candidate = accept(page, result)
        if not isinstance(candidate, Candidate):
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


def follow_rule_changes(store: Store, page: PageSpec, now: datetime | None) -> None:
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
