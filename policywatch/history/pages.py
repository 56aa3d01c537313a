"""Per-page state: what the pipeline remembers about a page and its recent poll outcomes.

Every poll reads and sets these; they live in the page's state.json and are batched in
memory until the next write. The batch is kept apart from the files so it can be laid
again over whatever another writer stored meanwhile (see `Pages._reload`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from policywatch.history.page import OUTCOME_LOG_SIZE, PageFiles
from policywatch.history.records import Stamp, copy_plain, plain, stamp


class Pages:
    """The pages' files read so far, and the changes to them not yet on disk."""

    def __init__(self, data_dir: Path, locked: Callable[[], bool]) -> None:
        self.data_dir = data_dir
        self.locked = locked
        self._files: dict[str, PageFiles] = {}
        self._touches: dict[str, dict[str, str]] = {}  # page -> snapshot id -> last seen
        self._state_changes: dict[str, dict[str, Any]] = {}  # page -> fields not on disk
        self._logged: dict[str, list[dict[str, Any]]] = {}  # page -> outcomes not on disk
        self._checked: set[str] = set()  # pages whose files were checked in this lock hold
        # Pages handed out since the last write: only they can have changed. A check
        # writes once per page, and looking through every loaded page each time made
        # a cycle of N pages cost N^2.
        self._handed: dict[str, None] = {}

    def files(self, page_id: str) -> PageFiles:
        """The page's files, read again when another writer replaced them.

        Under the lock a page is checked once per hold, when first used: nobody else
        writes while we hold it. Checking every page at each acquisition instead cost
        a check of N pages O(N^2) stats, as it takes the lock once per page.
        """
        page = self._files.get(page_id)
        if page is None or (self._unchecked(page_id) and page.changed_on_disk()):
            page = self._reload(page_id)
        self._handed[page_id] = None
        return page

    def _unchecked(self, page_id: str) -> bool:
        """Whether another writer may have replaced the page's files since we looked."""
        if not self.locked():
            return True
        if page_id in self._checked:
            return False
        self._checked.add(page_id)
        return True

    def _reload(self, page_id: str) -> PageFiles:
        """Read the page's files and re-apply our changes not yet on disk."""
        page = self._files[page_id] = PageFiles(self.data_dir, page_id)
        if self.locked():
            self._checked.add(page_id)
        page.state.update(self._state_changes.get(page_id, {}))
        page.log = (page.log + self._logged.get(page_id, []))[-OUTCOME_LOG_SIZE:]
        page.state_dirty = page_id in self._state_changes or page_id in self._logged
        for snapshot_id, seen in self._touches.get(page_id, {}).items():
            page.bump_seen(snapshot_id, seen)
        return page

    def lock_taken(self) -> None:
        """Another writer may have stored anything before this hold: check pages anew."""
        self._checked.clear()

    def dirty(self) -> bool:
        return bool(self._pending())

    def to_write(self) -> list[PageFiles]:
        """Pages with changes to write, each over what another writer may have stored."""
        return [self.files(page_id) for page_id in self._pending()]

    def _pending(self) -> list[str]:
        files = self._files
        return [p for p in self._handed if files[p].state_dirty or files[p].versions_dirty]

    def written(self) -> None:
        """The batch is on disk now."""
        self._touches.clear()
        self._state_changes.clear()
        self._logged.clear()
        self._handed.clear()

    def touch(self, page_id: str, snapshot_id: str, seen_at: Stamp) -> None:
        """An unchanged poll: move the version's last_seen_at forward, written at the next flush."""
        page = self.files(page_id)
        if not (page.head is not None and page.head.id == snapshot_id):
            page.versions()
            if snapshot_id not in page.by_id:
                raise KeyError(f"no snapshot {snapshot_id} of page {page_id}")
        seen = stamp(seen_at)
        if page.bump_seen(snapshot_id, seen):
            self._touches.setdefault(page_id, {})[snapshot_id] = seen

    def state(self, page_id: str) -> dict[str, Any]:
        """What the pipeline remembers about a page (etag, failures, fetch path ...)."""
        return copy_plain(self.files(page_id).state)

    def set_state(self, page_id: str, **fields: Any) -> None:
        """Merge fields into the page's state; batched until the next write."""
        values = plain(fields)
        page = self.files(page_id)
        page.state.update(values)
        page.state_dirty = True
        self._state_changes.setdefault(page_id, {}).update(values)

    def record_outcome(self, page_id: str, outcome: Mapping[str, Any]) -> None:
        """Log a poll's outcome ({at, status, reason, http_status}); the last 50 are kept."""
        entry = plain(dict(outcome))
        page = self.files(page_id)
        page.log = [*page.log, entry][-OUTCOME_LOG_SIZE:]
        page.state_dirty = True
        self._logged.setdefault(page_id, []).append(entry)

    def outcomes(self, page_id: str) -> list[dict[str, Any]]:
        """The page's recent poll outcomes, oldest first."""
        return [copy_plain(entry) for entry in self.files(page_id).log]
