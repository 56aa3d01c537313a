"""What the web view reads from the data directory, cached so a request stays fast.

One Store is kept for the life of the server: its page files are read again only when
another writer (`run`, a cron `check`) replaced them, and it is opened anew when index.json
changes (a new page). The merged timeline is rebuilt only when some page's history changed.
Nothing here takes the lock or writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from policywatch.content import Snapshot
from policywatch.history.store import Store
from policywatch.models import Config, Rule, short_id
from policywatch.watchlist.rules import rules_of
from policywatch.web.summaries import ChangeSummary, Summaries


@dataclass(frozen=True, slots=True)
class Watch:
    """One row of the overview: a page in one marketplace and how it is doing."""

    page_id: str
    title: str
    marketplace: str | None
    state: str  # "ok" | "changed" | "blocked" | "failing" | "unchecked" (no version yet)
    since: str | None  # when it started failing or being blocked
    reason: str | None
    last_check: str | None
    latest: Snapshot | None
    last_change: ChangeSummary | None


class Desk:
    """The data directory as the web view sees it; `config` (optional) gives titles and terms."""

    def __init__(self, data_dir: Path, config: Config | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.config = config
        self.summaries = Summaries()
        self._store: Store | None = None
        self._index_stamp: tuple[int, int] | None = None
        self._histories: dict[str, tuple[tuple[int, str], list[ChangeSummary]]] = {}
        self._timeline: tuple[tuple, list[ChangeSummary]] | None = None
        self._raw_sizes: dict[str, int] = {}  # blob key -> bytes; a blob never changes

    def refresh(self) -> None:
        """Once per request: open the store anew if index.json changed (a page was added)."""
        stamp = _stamp(self.data_dir / "index.json")
        if self._store is None or stamp != self._index_stamp:
            self._store, self._index_stamp = Store(self.data_dir), stamp

    @property
    def store(self) -> Store:
        if self._store is None:
            self.refresh()
        assert self._store is not None
        return self._store

    def rules(self, page_id: str) -> tuple[Rule, ...]:
        """The watched terms of a page, so the web view flags what its alert flagged."""
        return rules_of(self.config, page_id)

    def title(self, page_id: str, latest: Snapshot | None) -> str:
        page = self.config.page(page_id) if self.config else None
        return (page.title if page else "") or (latest.title if latest else "") or page_id

    def page_ids(self) -> list[str]:
        return self.store.page_ids()

    def markets(self) -> list[str]:
        """The marketplaces changes can be picked by: the stored pages' and the watchlist's.

        A change's marketplace is its version's, so the list comes from the versions, not
        from how page ids are spelled ("conduct@DE.de-DE" is in marketplace DE).
        """
        found = {versions[-1].marketplace for versions in map(self.snapshots, self.page_ids())}
        if self.config is not None:
            found |= {page.marketplace for page in self.config.pages}
        return sorted(m for m in found if m)

    def snapshots(self, page_id: str) -> list[Snapshot]:
        return self.store.snapshots(page_id)

    def raw_size(self, snap: Snapshot) -> int:
        """The size of a version's HTML as fetched, read once per blob, not per request."""
        if not snap.raw_key:
            return 0
        if snap.raw_key not in self._raw_sizes:
            self._raw_sizes[snap.raw_key] = len(self.store.raw_html(snap))
        return self._raw_sizes[snap.raw_key]

    def changes(self, page_id: str) -> list[ChangeSummary]:
        """Every change of one page, oldest first; recomputed only when its history grew."""
        versions = self.snapshots(page_id)
        key = (len(versions), versions[-1].id if versions else "")
        known = self._histories.get(page_id)
        if known is None or known[0] != key:
            rules = self.rules(page_id)
            known = self._histories[page_id] = (
                key,
                self.summaries.pairs(self.store, versions, rules),
            )
        return known[1]

    def timeline(self) -> list[ChangeSummary]:
        """Every change of every page, newest first."""
        pages = self.page_ids()
        histories = [self.changes(p) for p in pages]
        key = tuple(
            (p, len(h), h[-1].new.id if h else "") for p, h in zip(pages, histories, strict=True)
        )
        if self._timeline is None or self._timeline[0] != key:
            merged = [c for h in histories for c in h]
            merged.sort(key=lambda c: c.at, reverse=True)
            self._timeline = (key, merged)
        return self._timeline[1]

    def find_change(self, page_id: str, old: str, new: str) -> ChangeSummary | None:
        """The change a permalink names, by the short ids it spells (looked up, never a path)."""
        if page_id not in self.page_ids():
            return None
        return next(
            (
                c
                for c in self.changes(page_id)
                if short_id(c.old.id) == old and short_id(c.new.id) == new
            ),
            None,
        )

    def watches(self) -> list[Watch]:
        """Every watch: those with versions, and those of the watchlist with none yet (a page
        blocked from its first check must show as blocked, not be missing)."""
        stored = self.page_ids()
        known = set(stored)
        waiting = [p.id for p in self.config.pages if p.id not in known] if self.config else []
        return [self.watch(p) for p in [*stored, *waiting]]

    def watch(self, page_id: str) -> Watch:
        store = self.store
        state = store.page_state(page_id)
        outcomes = store.outcomes(page_id)
        history = self.changes(page_id)
        versions = self.snapshots(page_id)
        latest = versions[-1] if versions else None
        failures = int(state.get("consecutive_failures") or 0)
        last = outcomes[-1] if outcomes else {}
        seen = [latest.last_seen_at if latest else None, state.get("last_ok_at"), last.get("at")]
        if failures and last.get("status") in ("blocked", "error"):
            kind = "blocked" if last["status"] == "blocked" else "failing"
            since = state.get("unreachable_since") or _first_failure(outcomes)
            reason = last.get("reason")
        elif latest is None:
            kind, since, reason = "unchecked", None, None
        else:
            fresh = history and history[-1].new.id == latest.id
            kind = "changed" if fresh and int(state.get("polls_on_latest") or 1) <= 1 else "ok"
            since = reason = None
        return Watch(
            page_id=page_id,
            title=self.title(page_id, latest),
            marketplace=latest.marketplace if latest else self._marketplace(page_id),
            state=kind,
            since=since,
            reason=reason,
            last_check=max((s for s in seen if s), default=None),
            latest=latest,
            last_change=history[-1] if history else None,
        )

    def _marketplace(self, page_id: str) -> str | None:
        page = self.config.page(page_id) if self.config else None
        return page.marketplace if page else None


def _first_failure(outcomes: list[dict]) -> str | None:
    """When the failures in a row at the end of the outcome log began."""
    since = None
    for outcome in reversed(outcomes):
        if outcome.get("status") not in ("blocked", "error"):
            break
        since = outcome.get("at")
    return since


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
