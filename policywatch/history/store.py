"""The data directory: every version of every page, per-page state, and the alert outbox.

Layout of DATA_DIR (schema 3):

    index.json                  TinyDB: meta, pages (the page list), outbox
    pages/<page>/state.json     TinyDB: page state, outcome log, and the latest version
    pages/<page>/state.log      what unchanged polls changed since state.json, a line each
    pages/<page>/versions.json  TinyDB: every version of the page, in recorded order
    blobs/ab/<sha256>.gz        raw HTML, Document JSON, alert payloads and one small
                                record per version, gzip, named by the sha256 of the bytes
    .lock                       flock held by whoever writes (a cron `check`, the `run` daemon)

Each file is a TinyDB file kept in memory and replaced atomically (temp file, fsync,
rename) only when it changed, so one poll costs the same however long the history:
an unchanged poll appends a line to its page's state.log (state.json takes the lines
in every few polls), and a page's versions.json is read only when its history is
needed (a change, `history`, a REF).

The Store is a facade over one part per concern: `Index` (index.json: schema, page
list, outbox table), `Blobs`, `Versions` (and `refs` for command-line REFs), `Pages`
(page state and outcomes), `Outbox`, and the lock (`history.lock`). Callers use only
the Store; the parts share its lock and its write order.

Write order makes every crash harmless: blobs, then the outbox (index.json), then the
page's state.json, then versions.json. A crash after the outbox leaves the alert
queued; the change is seen again next poll and its alert has the same key. state.json
holds the latest version whole, so versions.json is completed from it if needed.
Unchanged polls, page state and outcomes are batched in memory and written by the next
write, `flush()`, the end of `lock()` or `close()`.

Older data directories (schema 1 and 2: one index.json) are migrated on first open,
after copying index.json to index.json.bak-<schema>.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from policywatch.content import Document, Snapshot
from policywatch.errors import StoreError
from policywatch.history import refs
from policywatch.history.blobs import Blobs
from policywatch.history.files import os_errors
from policywatch.history.index import Index
from policywatch.history.lock import WriteLock, command_line
from policywatch.history.migrate import migrate
from policywatch.history.outbox import Outbox
from policywatch.history.pages import Pages
from policywatch.history.records import INDEX_NAME, SCHEMA_VERSION, Stamp, new_snapshot_id, stamp
from policywatch.history.versions import Versions
from policywatch.models import DiffResult, Rule


class Store:
    """Every stored version, page state and pending alert under one data directory.

    Opening reads index.json (StoreError if it is damaged, from a newer policywatch,
    or gone while stored content remains); nothing is created until the first write.
    """

    new_snapshot_id = staticmethod(new_snapshot_id)

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.index_path = self.data_dir / INDEX_NAME
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise StoreError(
                f"{self.data_dir} is not a directory",
                hint="point -d/--data-dir (or $POLICYWATCH_DATA) at a directory",
            )
        self._write_lock = WriteLock(self.data_dir)
        self._lock_depth = 0
        self._cleaned = False  # leftovers of a writer that died mid-write, once per Store
        self._closed = False
        self._index = Index(self.data_dir, self._locked)
        self._blobs = Blobs(self.data_dir, self.index_path, self._before_blob)
        self._pages = Pages(self.data_dir, self._locked)
        self._versions = Versions(self._index, self._pages, self._blobs)
        self._outbox = Outbox(self._index, self._blobs, self._durable)
        if self._index.schema and self._index.schema < SCHEMA_VERSION:
            with self.lock():
                if self._index.schema < SCHEMA_VERSION:
                    migrate(self.data_dir, self._index.schema)
                    self._index.load()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write whatever is batched; the Store is not used afterwards."""
        self._closed = True
        try:
            self.flush()
        finally:
            if self._lock_depth == 0:  # inside lock(), closed on the way out (see `lock`)
                self._write_lock.close()

    # ------------------------------------------------------------------ locking and writing

    def _locked(self) -> bool:
        return self._lock_depth > 0

    @contextmanager
    def lock(self, timeout: float = 10, *, purpose: str | None = None) -> Iterator[Store]:
        """Hold the data directory's write lock; batched changes are written on the way out.

        Waits up to `timeout` seconds for another writer, then raises StoreLocked naming
        it. Re-entrant. `purpose` (e.g. "policywatch run") is shown to whoever waits.
        """
        if self._lock_depth and not self._write_lock.held:
            self._lock_depth = 0  # forked while the parent held it: this process holds nothing
        if self._lock_depth == 0:
            self._acquire(timeout, purpose or command_line())
        self._lock_depth += 1
        entered_by = os.getpid()
        try:
            yield self
        finally:
            if os.getpid() != entered_by:
                pass  # a forked child leaving its parent's hold: nothing of it is the child's
            elif self._lock_depth == 1:
                try:
                    self._save()
                finally:
                    self._lock_depth = 0
                    self._write_lock.release()
                    if self._closed:
                        self._write_lock.close()
            else:
                self._lock_depth -= 1

    def _acquire(self, timeout: float, purpose: str) -> None:
        self._write_lock.acquire(timeout, purpose)
        try:
            if not self._cleaned:
                for leftover in self.data_dir.glob(f".{INDEX_NAME}.*.tmp"):
                    leftover.unlink(missing_ok=True)
                self._cleaned = True
            if self._index.stale():
                self._index.load()
            self._pages.lock_taken()
        except BaseException:
            self._write_lock.release()
            raise

    def _durable(self, op: Callable[[], Any]) -> Any:
        """Apply a change under the lock and write the changed files before returning."""
        with self.lock():
            result = op()
            self._save(durable=True)
        return result

    def _before_blob(self) -> None:
        with self.lock():
            self._index.mark_schema()

    def _save(self, durable: bool = False) -> None:
        """Write the changed files: index.json first, then each changed page's files.

        `durable`: page state written with queued alerts reaches the disk with them.
        """
        pages = self._pages.to_write()
        if self._index.dirty or pages:
            self._index.mark_schema()
        with os_errors(self.data_dir, "write the index"):
            if self._index.dirty:
                self._index.save()
            for page in pages:
                page.save(durable)
        self._pages.written()

    def flush(self) -> None:
        """Write batched changes (unchanged polls, page state, outcomes)."""
        if self._index.dirty or self._pages.dirty():
            with self.lock():
                self._save()

    # ------------------------------------------------------------------ blobs

    def document(self, snap: Snapshot) -> Document:
        """The extracted sections of a stored version."""
        return self._blobs.document(snap)

    def diff(self, old: Snapshot, new: Snapshot, rules: Sequence[Rule]) -> DiffResult:
        """Two stored versions compared as alerts, digests and the web view compare them."""
        # Imported here: the differ (sentence splitting, watched terms) is for a change,
        # and opening the store for an unchanged check or a listing never needs it.
        from policywatch.diff.compare import diff_documents

        return diff_documents(
            self.document(old),
            self.document(new),
            page_id=new.page_id,
            old_id=old.id,
            new_id=new.id,
            rules=tuple(rules),
        )

    def raw_html(self, snap: Snapshot) -> bytes:
        """The page bytes as fetched, kept so a better extractor can re-derive sections."""
        return self._blobs.get(snap.raw_key)

    # ------------------------------------------------------------------ versions

    def page_ids(self) -> list[str]:
        """Pages with at least one stored snapshot, sorted."""
        return self._index.page_ids()

    def snapshots(self, page_id: str) -> list[Snapshot]:
        """Every stored version of a page, in recorded order (see `record_snapshot`)."""
        return self._versions.snapshots(page_id)

    def latest(self, page_id: str) -> Snapshot | None:
        """The version recorded last: by sequence, whatever the clocks said."""
        return self._versions.latest(page_id)

    def find_by_digest(self, page_id: str, digest: str) -> Snapshot | None:
        """The earliest version with this content, to recognise a revert."""
        return self._versions.find_by_digest(page_id, digest)

    def record_snapshot(
        self, snap: Snapshot, raw: bytes, doc: Document, alerts: Sequence[Mapping[str, Any]] = ()
    ) -> Snapshot:
        """Store a new version and queue its alerts; returns it (see `Versions.record`)."""
        if snap.digest != doc.digest:
            raise ValueError(f"snapshot digest {snap.digest} is not its document's {doc.digest}")
        entries = self._outbox.entries(alerts)
        with self.lock():
            stored = self._versions.record(snap, raw, doc, lambda: self._outbox.insert(entries))
            self._save()
        return stored

    def replace_documents(
        self, documents: Sequence[tuple[str, Document]], *, rederived_at: Stamp
    ) -> list[Snapshot]:
        """Give versions a new reading of their raw HTML (see `Versions.replace_documents`)."""
        with self.lock():
            done = self._versions.replace_documents(documents, stamp(rederived_at))
            self._save()
        return [self._versions.page_of(i).by_id[i].snap for i in done]

    def touch(self, page_id: str, snapshot_id: str, seen_at: Stamp) -> None:
        """An unchanged poll: move the version's last_seen_at forward, written at the next flush."""
        self._pages.touch(page_id, snapshot_id, seen_at)

    def resolve(self, page_id: str, ref: str) -> Snapshot:
        """The one snapshot a command-line REF names (see `refs.resolve`)."""
        return refs.resolve(self._versions, page_id, ref)

    # ------------------------------------------------------------------ page state and outcomes

    def page_state(self, page_id: str) -> dict[str, Any]:
        """What the pipeline remembers about a page (etag, failures, fetch path ...)."""
        return self._pages.state(page_id)

    def set_page_state(self, page_id: str, **fields: Any) -> None:
        """Merge fields into the page's state; batched until the next write."""
        self._pages.set_state(page_id, **fields)

    def record_outcome(self, page_id: str, outcome: Mapping[str, Any]) -> None:
        """Log a poll's outcome ({at, status, reason, http_status}); the last 50 are kept."""
        self._pages.record_outcome(page_id, outcome)

    def outcomes(self, page_id: str) -> list[dict[str, Any]]:
        """The page's recent poll outcomes, oldest first."""
        return self._pages.outcomes(page_id)

    # ------------------------------------------------------------------ outbox

    def enqueue_alerts(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue alerts durably, skipping keys already queued; returns how many were new."""
        return self._outbox.enqueue(items)

    def alerts(self, status: str | None = None, *, payloads: bool = True) -> list[dict[str, Any]]:
        """Outbox entries, oldest first, each with its `payload` unless `payloads` is False;
        optionally one status only."""
        return self._outbox.alerts(status, payloads=payloads)

    def pending_alerts(self, now: Stamp) -> list[dict[str, Any]]:
        """Alerts waiting to be sent whose next attempt is due at `now`."""
        return self._outbox.pending(now)

    def mark_sent(self, key: str, at: Stamp) -> None:
        self._outbox.mark_sent(key, at)

    def mark_attempt_failed(self, key: str, error: str, *retry: Any, **how: bool) -> None:
        """Count a failed delivery: retry later, or give up (see `Outbox.mark_attempt_failed`)."""
        self._outbox.mark_attempt_failed(key, error, *retry, **how)

    def alert_queued(self, key: str) -> bool:
        """Whether an alert with this key is already in the outbox (queuing it adds nothing)."""
        return self._outbox.queued(key)

    def mark_in_flight(self, key: str, at: Stamp) -> bool:
        """Record, on disk before the send starts, that the alert is being sent (see `Outbox`)."""
        return self._outbox.mark_in_flight(key, at)

    def retry_failed(self, now: Stamp) -> int:
        """Give every parked alert a fresh start (pending, due at `now`); returns how many."""
        return self._outbox.retry_failed(now)
