"""The data directory: every version of every page, per-page state, and the alert outbox.

Layout of DATA_DIR (schema 3):

    index.json                  TinyDB: meta, pages (the page list), outbox
    pages/<page>/state.json     TinyDB: page state, outcome log, and the latest version
    pages/<page>/versions.json  TinyDB: every version of the page, in recorded order
    blobs/ab/<sha256>.gz        raw HTML, Document JSON, alert payloads and one small
                                record per version, gzip, named by the sha256 of the bytes
    .lock                       flock held by whoever writes (a cron `check`, the `run` daemon)

Each file is a TinyDB file kept in memory and replaced atomically (temp file, fsync,
rename) only when it changed, so one poll costs the same however long the history:
an unchanged poll rewrites its page's small state.json and nothing else, and a page's
versions.json is read only when its history is needed (a change, `history`, a REF).

A return to a version already stored (a revert, a page flapping A→B→A) adds an
*episode*: a compact entry naming the earlier version it repeats, not a copy of it.
Versions are ordered by the sequence they were recorded in, never by capture time, so
a clock that jumped forward for one poll cannot keep a stale version "latest";
imports are the exception (see `record_snapshot`).

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

import copy
import difflib
import fcntl
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from policywatch import __version__
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import RefError, StoreError
from policywatch.history.files import (
    BLOB_KEY,
    blob_path,
    damaged,
    open_db,
    read_blob,
    storage_of,
    write_blob,
)
from policywatch.history.lock import command_line, take_lock
from policywatch.history.page import OUTCOME_LOG_SIZE, PageFiles, Row, snapshot_from
from policywatch.models import Document, Snapshot, sha256_hex

# 3: per-page files and episodes; 2: outbox payloads in blobs. Older stores are
# migrated on open, and an older policywatch refuses a newer store.
SCHEMA_VERSION = 3
INDEX_NAME = "index.json"
VERSION_RECORD = "policywatch.version"  # marks the blob that lets fsck rebuild a row

REF_FORMS = (
    "a snapshot id or a unique prefix of it (at least 4 characters), `latest`, "
    "`latest~N` (N versions before the latest), or an ISO date/time such as 2026-01-01 "
    "or 2026-01-01T12:00:00Z (the version in force then; a bare date means 00:00 UTC)"
)

_LATEST = re.compile(r"latest(?:~(\d+))?", re.IGNORECASE)
_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}", re.IGNORECASE)
_SHOWN_CANDIDATES = 8
_OUTBOX_REQUIRED = ("key", "page_id", "route", "severity", "payload")

Stamp = datetime | str


def new_snapshot_id(page_id: str, digest: str, captured_at: Stamp) -> str:
    """A stable id for one version: the same page, content and capture time give the same id."""
    when = iso(captured_at) if isinstance(captured_at, datetime) else captured_at
    return sha256_hex(f"{page_id}\n{digest}\n{when}")


def document_bytes(doc: Document) -> bytes:
    """The canonical JSON of a Document, so equal documents share one blob."""
    return canonical_json(doc.to_dict())


def canonical_json(value: Any) -> bytes:
    """One spelling of a JSON value (datetimes as stored times), so equal values share a blob."""
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=lambda o: _stamp(o) if isinstance(o, datetime) else str(o),
    )
    return text.encode("utf-8")


def version_record(snap: Snapshot) -> bytes:
    """What fsck --repair rebuilds a lost index row from: the row, minus what moves."""
    row = {k: v for k, v in snap.to_dict().items() if k != "last_seen_at"}
    return canonical_json({"kind": VERSION_RECORD, **row})


def _when(value: Stamp) -> datetime:
    """A time given as a datetime (naive means UTC) or an ISO string, as an aware UTC datetime."""
    if isinstance(value, str):
        return parse_iso(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stamp(value: Stamp) -> str:
    """Times are stored in the one fixed-width form, whatever form they were given in."""
    return iso(_when(value))


_SCALARS = (str, int, float, bool, type(None))  # exactly these: an IntEnum is made plain


def _plain(value: Any) -> Any:
    """A deep, JSON-safe copy (datetimes become ISO strings): what the index can hold."""
    if type(value) is dict and all(
        type(k) is str and type(v) in _SCALARS for k, v in value.items()
    ):
        return dict(value)  # the common case, as cheap as it can be: every poll sets state
    return json.loads(
        json.dumps(value, default=lambda o: _stamp(o) if isinstance(o, datetime) else str(o))
    )


def _copy_plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy the caller may change freely (nested lists and maps copied too)."""
    return {k: v if type(v) in _SCALARS else copy.deepcopy(v) for k, v in value.items()}


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
        self._lock_file: IO[str] | None = None
        self._lock_depth = 0
        self._pages: dict[str, PageFiles] = {}
        self._touches: dict[str, dict[str, str]] = {}  # page -> snapshot id -> last seen
        self._state_changes: dict[str, dict[str, Any]] = {}  # page -> fields not on disk
        self._logged: dict[str, list[dict[str, Any]]] = {}  # page -> outcomes not on disk
        self._load_index()
        if self._schema and self._schema < SCHEMA_VERSION:
            from policywatch.history.migrate import migrate

            with self.lock():
                if self._schema < SCHEMA_VERSION:
                    migrate(self.data_dir, self._schema)
                    self._load_index()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write whatever is batched; the Store is not used afterwards."""
        self.flush()

    # ------------------------------------------------------------------ loading

    def _load_index(self) -> None:
        """(Re)read index.json: the schema, the page list and the outbox."""
        self._db = open_db(self.index_path)
        self._index = storage_of(self._db)
        self._meta = self._db.table("meta", cache_size=0)
        self._page_list = self._db.table("pages", cache_size=0)
        self._outbox = self._db.table("outbox", cache_size=0)
        self._schema = self._check_schema()
        try:
            self._stored_pages = {doc["page_id"] for doc in self._page_list}
            self._outbox_docs = {doc["key"]: doc.doc_id for doc in self._outbox}
        except KeyError as exc:
            raise damaged(self.index_path, f"an entry has no {exc}") from None
        if not all(isinstance(doc.get("status"), str) for doc in self._outbox):
            raise damaged(self.index_path, "an outbox entry has no status")

    def _check_schema(self) -> int:
        """The store's schema (0: nothing stored yet); refuses what this version cannot read."""
        if not self._index.read():
            self._refuse_lost_index()
            return 0
        schemas = [doc.get("schema", 0) for doc in self._meta]
        if not all(type(s) is int for s in schemas):
            raise damaged(self.index_path, "its schema marker is not a number")
        schema = max(schemas, default=0)
        if not schema:
            raise damaged(self.index_path, "it has no policywatch schema marker")
        if schema > SCHEMA_VERSION:
            raise StoreError(
                f"{self.data_dir} was written by a newer policywatch "
                f"(store schema {schema}; this version reads up to {SCHEMA_VERSION})",
                hint="upgrade policywatch, or point -d/--data-dir at another directory",
            )
        return schema

    def _refuse_lost_index(self) -> None:
        """Stored content without an index is damage, never a fresh start that loses history."""
        if any((self.data_dir / "blobs").glob("??/*.gz")):
            state = "empty" if self.index_path.exists() else "missing"
            raise StoreError(
                f"{self.index_path} is {state} but {self.data_dir / 'blobs'} holds stored versions",
                hint="run `policywatch fsck --repair` to rebuild the index from them",
            )

    def _page(self, page_id: str) -> PageFiles:
        """The page's files, read again when another writer replaced them."""
        page = self._pages.get(page_id)
        if page is None or (self._lock_depth == 0 and page.changed_on_disk()):
            page = self._reload_page(page_id)
        return page

    def _reload_page(self, page_id: str) -> PageFiles:
        """Read the page's files and re-apply our changes not yet on disk."""
        page = self._pages[page_id] = PageFiles(self.data_dir, page_id)
        page.state.update(self._state_changes.get(page_id, {}))
        page.log = (page.log + self._logged.get(page_id, []))[-OUTCOME_LOG_SIZE:]
        page.state_dirty = page_id in self._state_changes or page_id in self._logged
        for snapshot_id, seen in self._touches.get(page_id, {}).items():
            page.bump_seen(snapshot_id, seen)
        return page

    def _fresh(self) -> None:
        """Readers without the lock pick up what another process wrote to index.json."""
        if self._lock_depth == 0 and self._index.changed_on_disk():
            self._load_index()

    # ------------------------------------------------------------------ locking and writing

    @contextmanager
    def lock(
        self, timeout: float = 10, *, purpose: str | None = None, write: bool = True
    ) -> Iterator[Store]:
        """Hold the data directory's write lock; batched changes are written on the way out.

        Waits up to `timeout` seconds for another writer, then raises StoreLocked naming
        it. Re-entrant. `purpose` (e.g. "policywatch run") is shown to whoever waits.
        `write=False` leaves batched changes for a later write (`flush()`): they are
        re-applied over whatever another writer stores meanwhile.
        """
        if self._lock_depth == 0:
            self._acquire(timeout, purpose or command_line())
        self._lock_depth += 1
        try:
            yield self
        finally:
            if self._lock_depth == 1:
                try:
                    if write:
                        self._save()
                finally:
                    self._lock_depth = 0
                    self._release()
            else:
                self._lock_depth -= 1

    def _acquire(self, timeout: float, purpose: str) -> None:
        with self._os_errors("create the lock file"):
            self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = take_lock(self.data_dir, timeout, purpose)
        self._lock_file = handle
        try:
            for leftover in self.data_dir.glob(f".{INDEX_NAME}.*.tmp"):
                leftover.unlink(missing_ok=True)  # from a writer that died mid-write
            if self._index.changed_on_disk():
                self._load_index()
            for page_id in [p for p, page in self._pages.items() if page.changed_on_disk()]:
                self._reload_page(page_id)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    @contextmanager
    def _os_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StoreError(
                f"cannot {action} in {self.data_dir}: {exc.strerror or exc}",
                hint="check that the directory is writable and the disk is not full, "
                "or choose another with -d/--data-dir",
            ) from exc

    def _durable(self, op: Callable[[], Any]) -> Any:
        """Apply a change under the lock and write the changed files before returning."""
        with self.lock():
            result = op()
            self._save()
        return result

    def _mark_schema(self) -> None:
        """The first write creates index.json before any blob, so blobs never lack an index."""
        if not len(self._meta):
            self._meta.insert(
                {"schema": SCHEMA_VERSION, "created_at": iso(utcnow()), "by": __version__}
            )
            with self._os_errors("write the index"):
                self._index.save()
            self._schema = SCHEMA_VERSION

    def _save(self) -> None:
        """Write the changed files: index.json first, then each changed page's files."""
        if self._index.dirty or self._dirty_pages():
            self._mark_schema()
        with self._os_errors("write the index"):
            if self._index.dirty:
                self._index.save()
            for page in self._dirty_pages():
                page.save()
        self._touches.clear()
        self._state_changes.clear()
        self._logged.clear()

    def _dirty_pages(self) -> list[PageFiles]:
        return [p for p in self._pages.values() if p.state_dirty or p.versions_dirty]

    def flush(self) -> None:
        """Write batched changes (unchanged polls, page state, outcomes)."""
        if self._index.dirty or self._dirty_pages():
            with self.lock():
                self._save()

    # ------------------------------------------------------------------ blobs

    def _blob_path(self, key: str) -> Path:
        if not BLOB_KEY.fullmatch(key):
            raise damaged(self.index_path, f"{key!r} is not a blob key")
        return blob_path(self.data_dir, key)

    def put_blob(self, data: bytes) -> str:
        """Store bytes once under their sha256 (skipped when already there); returns the key."""
        with self.lock():
            self._mark_schema()
        with self._os_errors("write a blob"):
            return write_blob(self.data_dir, data)

    def get_blob(self, key: str) -> bytes:
        """The bytes stored under `key`, checked against it (StoreError if missing or damaged)."""
        return read_blob(self._blob_path(key), key)

    def document(self, snap: Snapshot) -> Document:
        """The extracted sections of a stored version."""
        data = self.get_blob(snap.doc_key)
        try:
            return Document.from_dict(json.loads(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(self._blob_path(snap.doc_key), f"not a document: {exc!r}") from None

    def raw_html(self, snap: Snapshot) -> bytes:
        """The page bytes as fetched, kept so a better extractor can re-derive sections."""
        return self.get_blob(snap.raw_key)

    # ------------------------------------------------------------------ snapshots

    def page_ids(self) -> list[str]:
        """Pages with at least one stored snapshot, sorted."""
        self._fresh()
        return sorted(self._stored_pages)

    def snapshots(self, page_id: str) -> list[Snapshot]:
        """Every stored version of a page, in recorded order (see `record_snapshot`)."""
        return [row.snap for row in self._page(page_id).versions()]

    def latest(self, page_id: str) -> Snapshot | None:
        """The version recorded last: by sequence, whatever the clocks said."""
        return self._page(page_id).latest()

    def find_by_digest(self, page_id: str, digest: str) -> Snapshot | None:
        """The earliest version with this content, to recognise a revert."""
        rows = self._page(page_id).versions()
        return next((r.snap for r in rows if r.snap.digest == digest), None)

    def record_snapshot(
        self, snap: Snapshot, raw: bytes, doc: Document, alerts: Sequence[Mapping[str, Any]] = ()
    ) -> Snapshot:
        """Store a new version and queue its alerts; returns it as stored.

        A fetched version goes after every other (recorded order is what `latest` and
        `latest~N` count in). An import goes where its capture time puts it, after the
        last version captured at or before it, so saved copies fill a gap in history
        and `show PAGE <date>` finds them; an import dated later than everything simply
        becomes the latest, and the next poll records the live page after it.

        Content already stored for this page becomes an episode naming that version (no
        second raw copy); new content gets its blobs and a version record written first.
        Recording the same snapshot id again stores nothing new (alerts are still
        de-duplicated by key).
        """
        if snap.digest != doc.digest:
            raise ValueError(f"snapshot digest {snap.digest} is not its document's {doc.digest}")
        entries = self._outbox_entries(alerts)
        with self.lock():
            page = self._page(snap.page_id)
            page.versions()
            known = page.by_id.get(snap.id)
            if known is not None:
                self._insert_alerts(entries)
                self._save()
                return known.snap
            base = next((r for r in page.versions() if r.snap.digest == snap.digest), None)
            if base is not None:
                base_id = base.of or base.snap.id
                stored = snapshot_from(snap.to_dict(), page.by_id[base_id].snap)
                row = Row(parse_iso(stored.captured_at), stored, base_id)
            else:
                stored = replace(
                    snap, raw_key=self.put_blob(raw), doc_key=self.put_blob(document_bytes(doc))
                )
                self.put_blob(version_record(stored))
                row = Row(parse_iso(stored.captured_at), stored)
            at = None
            if snap.origin == "import":
                at = sum(1 for r in page.versions() if r.when <= row.when)
            self._insert_alerts(entries)
            if snap.page_id not in self._stored_pages:
                self._page_list.insert({"page_id": snap.page_id})
                self._stored_pages.add(snap.page_id)
            page.insert(row, at)
            self._save()
        return stored

    def replace_documents(
        self, documents: Sequence[tuple[str, Document]], *, rederived_at: Stamp
    ) -> list[Snapshot]:
        """Give stored versions a new reading of their raw HTML, all in one write per page.

        For `rederive`, after the extraction rules changed: each version keeps its
        id, capture times and raw HTML, and takes the Document's digest, title,
        sections and metadata (an episode's go to the version it repeats). The
        Document blobs are written first. Returns the versions as stored; KeyError
        for an unknown snapshot id.
        """
        at = _stamp(rederived_at)
        done: list[str] = []
        with self.lock():
            for snapshot_id, doc in documents:
                page = self._page_of(snapshot_id)
                fields = {
                    "digest": doc.digest,
                    "doc_key": self.put_blob(document_bytes(doc)),
                    "title": doc.title,
                    "section_digests": {s.label: s.digest for s in doc.sections},
                    "metadata": dict(doc.metadata),
                    "rederived_at": at,
                }
                row = page.by_id[snapshot_id]
                base_id = row.of or snapshot_id
                for other in page.versions():
                    if other.snap.id == base_id or other.of == base_id:
                        other.snap = replace(other.snap, **copy.deepcopy(fields))
                if page.head is not None and page.head.id in page.by_id:
                    page.head = page.by_id[page.head.id].snap
                    page.state_dirty = True
                page.versions_dirty = True
                done.append(snapshot_id)
            self._save()
        return [self._page_of(i).by_id[i].snap for i in done]

    def _page_of(self, snapshot_id: str) -> PageFiles:
        for page_id in self.page_ids():
            page = self._page(page_id)
            page.versions()
            if snapshot_id in page.by_id:
                return page
        raise KeyError(f"no snapshot {snapshot_id}")

    def touch(self, page_id: str, snapshot_id: str, seen_at: Stamp) -> None:
        """An unchanged poll: move the version's last_seen_at forward, written at the next flush."""
        page = self._page(page_id)
        if not (page.head is not None and page.head.id == snapshot_id):
            page.versions()
            if snapshot_id not in page.by_id:
                raise KeyError(f"no snapshot {snapshot_id} of page {page_id}")
        seen = _stamp(seen_at)
        if page.bump_seen(snapshot_id, seen):
            self._touches.setdefault(page_id, {})[snapshot_id] = seen

    # ------------------------------------------------------------------ references

    def resolve(self, page_id: str, ref: str) -> Snapshot:
        """The one snapshot a command-line REF names, or RefError saying what to type instead.

        REF is an id prefix (unique within the page), `latest`, `latest~N`, or an ISO
        date/time meaning the version in force then: the last recorded of those captured
        at or before it (a version stamped by a clock that ran ahead is skipped).
        A bare date is that day's start, 00:00 UTC, like a policy "effective January 1":
        `show PAGE 2026-01-01` is what sellers were bound by as the day began, and a
        change first seen during that day shows from `2026-01-02` (or give a time).
        """
        rows = self._page(page_id).versions()
        if not rows:
            raise self._unknown_page(page_id)
        text = ref.strip()
        if match := _LATEST.fullmatch(text):
            return self._latest_minus(page_id, rows, int(match.group(1) or 0))
        if _ID_PREFIX.fullmatch(text):
            return self._by_prefix(page_id, rows, text.lower())
        try:
            when = parse_iso(text)
        except ValueError:
            raise RefError(f"cannot read {ref!r} as a snapshot reference", hint=REF_FORMS) from None
        in_force = [row for row in rows if row.when <= when]
        if not in_force:
            first = min(row.when for row in rows)
            raise RefError(
                f"nothing of {page_id} was stored as of {text}",
                hint=f"its first snapshot was captured {iso(first, 'seconds')}; "
                "give that time or later",
            )
        return in_force[-1].snap

    def _latest_minus(self, page_id: str, rows: list[Row], back: int) -> Snapshot:
        if back >= len(rows):
            raise RefError(
                f"{page_id} has {len(rows)} snapshot{'s' if len(rows) != 1 else ''}, "
                f"so there is no latest~{back}",
                hint=f"the oldest is latest~{len(rows) - 1}, "
                f"captured {iso(rows[0].when, 'seconds')}",
            )
        return rows[-1 - back].snap

    def _by_prefix(self, page_id: str, rows: list[Row], prefix: str) -> Snapshot:
        matches = [row for row in rows if row.snap.id.startswith(prefix)]
        if len(matches) == 1:
            return matches[0].snap
        if matches:
            raise RefError(
                f"{prefix!r} matches {len(matches)} snapshots of {page_id}",
                hint="type more of the id: " + _candidates(matches),
            )
        elsewhere = sorted(
            other
            for other in self.page_ids()
            if other != page_id
            and any(r.snap.id.startswith(prefix) for r in self._page(other).versions())
        )
        if elsewhere:
            raise RefError(
                f"snapshot {prefix} belongs to {', '.join(elsewhere)}, not {page_id}",
                hint=f"run `policywatch show {elsewhere[0]} {prefix}`",
            )
        hint = f"`policywatch history {page_id}` lists its ids; the newest: " + _candidates(
            rows[::-1]
        )
        if prefix.isdigit():
            hint += "; dates are written 2026-01-01"
        raise RefError(f"no snapshot of {page_id} has an id starting with {prefix!r}", hint=hint)

    def _unknown_page(self, page_id: str) -> RefError:
        known = self.page_ids()
        last = self.outcomes(page_id)[-1:]
        if last:
            why = f"; its last check was {last[0].get('status')}: {last[0].get('reason')}"
            return RefError(
                f"no snapshots of {page_id} yet{why}",
                hint=f"fix that, then run `policywatch check {page_id}`",
            )
        if not known:
            return RefError(
                f"no snapshots yet in {self.data_dir}",
                hint="run `policywatch check` to take the first ones (or check -d/--data-dir)",
            )
        close = difflib.get_close_matches(page_id, known, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(close) + "?"
        else:
            shown = ", ".join(known[:_SHOWN_CANDIDATES])
            shown += ", ..." if len(known) > _SHOWN_CANDIDATES else ""
            hint = (
                f"stored pages: {shown}; a page never checked needs `policywatch check {page_id}`"
            )
        return RefError(f"no snapshots of {page_id!r} in {self.data_dir}", hint=hint)

    # ------------------------------------------------------------------ page state and outcomes

    # Every poll reads and sets these; they live in the page's state.json, written at
    # the next flush.

    def page_state(self, page_id: str) -> dict[str, Any]:
        """What the pipeline remembers about a page (etag, failures, fetch path ...)."""
        return _copy_plain(self._page(page_id).state)

    def set_page_state(self, page_id: str, **fields: Any) -> None:
        """Merge fields into the page's state; batched until the next write."""
        values = _plain(fields)
        page = self._page(page_id)
        page.state.update(values)
        page.state_dirty = True
        self._state_changes.setdefault(page_id, {}).update(values)

    def record_outcome(self, page_id: str, outcome: Mapping[str, Any]) -> None:
        """Log a poll's outcome ({at, status, reason, http_status}); the last 50 are kept."""
        entry = _plain(dict(outcome))
        page = self._page(page_id)
        page.log = [*page.log, entry][-OUTCOME_LOG_SIZE:]
        page.state_dirty = True
        self._logged.setdefault(page_id, []).append(entry)

    def outcomes(self, page_id: str) -> list[dict[str, Any]]:
        """The page's recent poll outcomes, oldest first."""
        return [_copy_plain(entry) for entry in self._page(page_id).log]

    # ------------------------------------------------------------------ outbox

    def enqueue_alerts(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue alerts durably, skipping keys already queued; returns how many were new."""
        entries = self._outbox_entries(items)
        return self._durable(lambda: self._insert_alerts(entries))

    def _outbox_entries(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Complete outbox entries (status, attempts, times) from what the alert stage gives.

        Each payload is written to a blob here, before the index write that will name
        it; the entry keeps the blob key and the title, enough to list alerts.
        """
        now = iso(utcnow())
        entries = []
        for item in items:
            missing = [k for k in _OUTBOX_REQUIRED if k not in item]
            if missing:
                raise ValueError(f"outbox item lacks {', '.join(missing)}: {dict(item)!r}")
            entry = _plain(
                {
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": None,
                    "last_error": None,
                    "sent_at": None,
                    **{k: v for k, v in item.items() if k != "payload"},
                    "severity": str(item["severity"]),
                }
            )
            entry["next_attempt_at"] = entry["next_attempt_at"] or entry["created_at"]
            entries.append(self._payload_to_blob(entry, item["payload"]))
        return entries

    def _payload_to_blob(self, entry: dict[str, Any], payload: Any) -> dict[str, Any]:
        title = payload.get("title") if isinstance(payload, Mapping) else None
        entry.setdefault("title", str(title or ""))
        entry["payload_key"] = self.put_blob(canonical_json(payload))
        return entry

    def _insert_alerts(self, entries: list[dict[str, Any]]) -> int:
        added = 0
        for entry in entries:
            if entry["key"] not in self._outbox_docs:
                self._outbox_docs[entry["key"]] = self._outbox.insert(entry)
                added += 1
        return added

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """Outbox entries, oldest first, optionally only those with one status.

        Each carries its `payload`, read from its blob (once per call for the
        routes that share it).
        """
        self._fresh()
        blobs: dict[str, bytes] = {}
        return [
            self._with_payload(doc, blobs)
            for doc in self._outbox
            if status is None or doc["status"] == status
        ]

    def _with_payload(self, doc: Mapping[str, Any], blobs: dict[str, bytes]) -> dict[str, Any]:
        entry = copy.deepcopy(dict(doc))
        key = entry.pop("payload_key", None)
        if key not in blobs:
            blobs[key] = self.get_blob(str(key))
        entry["payload"] = json.loads(blobs[key])
        return entry

    def pending_alerts(self, now: Stamp) -> list[dict[str, Any]]:
        """Alerts waiting to be sent whose next attempt is due at `now`."""
        cutoff = _when(now)
        return [
            entry
            for entry in self.alerts("pending")
            if not entry.get("next_attempt_at") or parse_iso(entry["next_attempt_at"]) <= cutoff
        ]

    def mark_sent(self, key: str, at: Stamp) -> None:
        sent_at = _stamp(at)

        def sent(doc: dict[str, Any]) -> None:
            doc.update(
                status="sent",
                sent_at=sent_at,
                attempts=doc.get("attempts", 0) + 1,
                next_attempt_at=None,
                last_error=None,
            )
            doc.pop("in_flight_since", None)

        self._durable(lambda: self._update_alert(key, sent))

    def mark_attempt_failed(
        self,
        key: str,
        error: str,
        next_attempt_at: Stamp | None,
        give_up: bool = False,
        *,
        maybe_arrived: bool = False,
    ) -> None:
        """Count a failed delivery: retry at `next_attempt_at`, or park it as failed.

        `maybe_arrived` (the receiver took the message but did not answer in time)
        leaves the entry in flight, so its next send is flagged as a possible repeat.
        """
        retry_at = None if give_up or next_attempt_at is None else _stamp(next_attempt_at)

        def failed(doc: dict[str, Any]) -> None:
            doc.update(
                status="failed" if give_up else "pending",
                attempts=doc.get("attempts", 0) + 1,
                last_error=error,
                next_attempt_at=retry_at,
            )
            if not maybe_arrived:
                doc.pop("in_flight_since", None)

        self._durable(lambda: self._update_alert(key, failed))

    def alert_queued(self, key: str) -> bool:
        """Whether an alert with this key is already in the outbox (queuing it adds nothing)."""
        self._fresh()
        return key in self._outbox_docs

    def mark_in_flight(self, key: str, at: Stamp) -> bool:
        """Record, on disk before the send starts, that the alert is being sent.

        A send cut off by a crash or a timeout leaves the mark; the next send of the
        same entry is then flagged `possibly_delivered_twice` (the receiver may have
        the first copy) and True is returned. At most one repeat per crash or timeout.
        """
        since = _stamp(at)
        again: list[bool] = []

        def flying(doc: dict[str, Any]) -> None:
            again.append(bool(doc.get("in_flight_since")))
            doc["in_flight_since"] = since
            doc["possibly_delivered_twice"] = doc.get("possibly_delivered_twice") or again[0]

        self._durable(lambda: self._update_alert(key, flying))
        return again[0]

    def retry_failed(self, now: Stamp) -> int:
        """Give every parked alert a fresh start (pending, due at `now`); returns how many.

        The caller passes its clock so a retried alert is due on the same clock that
        `pending_alerts` is later asked with (tests run on injected times).
        """
        due = _stamp(now)

        def revive(doc: dict[str, Any]) -> None:
            doc.update(status="pending", attempts=0, next_attempt_at=due)

        def op() -> int:
            doc_ids = [doc.doc_id for doc in self._outbox if doc["status"] == "failed"]
            if doc_ids:
                self._outbox.update(revive, doc_ids=doc_ids)
            return len(doc_ids)

        return self._durable(op)

    def _update_alert(self, key: str, change: Callable[[dict[str, Any]], None]) -> None:
        doc_id = self._outbox_docs.get(key)
        if doc_id is None:
            raise KeyError(f"no alert with key {key!r} in the outbox")
        self._outbox.update(change, doc_ids=[doc_id])


def _candidates(rows: Sequence[Row]) -> str:
    shown = [f"{r.snap.id[:12]} ({iso(r.when, 'seconds')})" for r in rows[:_SHOWN_CANDIDATES]]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
