"""The data directory: every version of every page, per-page state, and the alert outbox.

Layout of DATA_DIR:

    index.json              TinyDB tables: snapshots, pages, outcomes, outbox, meta
    blobs/ab/<sha256>.gz    raw HTML, Document JSON and alert payloads, gzip, named by
                            the sha256 of the bytes
    .lock                   flock held by whoever writes (a cron `check`, the `run` daemon)

TinyDB rewrites its whole JSON file on every write, so large content lives in
content-addressed blobs and the index grows by one small entry per change (and per
alert and route), never per poll: an outbox entry names its payload (the rendered
email, Slack and text bodies) by blob key, and routes sending the same alert share it.
Every index write replaces the file atomically (temp file, fsync, rename, fsync of the
directory): a crash at any moment leaves the previous or the next complete index,
readers never see a torn one, and blobs are durable before the index names them.

A snapshot and the alerts it causes are written in one index replacement, so an alert
is never lost (queued but snapshot missing) nor sent twice (snapshot stored, alert
missing, and the change not seen again). Unchanged polls, page state and outcomes are
batched in memory and written by the next write, `flush()`, the end of `lock()` or
`close()`: one index write per check cycle.

A Store belongs to one thread; separate Stores (in any process) coordinate through the
lock and by reloading the index whenever another writer has replaced it.
"""

from __future__ import annotations

import bisect
import copy
import difflib
import fcntl
import gzip
import json
import os
import re
import secrets
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from policywatch import __version__
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import RefError, StoreError, StoreLocked
from policywatch.models import Document, Snapshot, sha256_hex

# 2: outbox payloads live in blobs (`payload_key`); schema-1 stores are moved over on
# their first write, and an older policywatch refuses a schema-2 store.
SCHEMA_VERSION = 2
OUTCOME_LOG_SIZE = 50
INDEX_NAME = "index.json"
LOCK_NAME = ".lock"

REF_FORMS = (
    "a snapshot id or a unique prefix of it (at least 4 characters), `latest`, "
    "`latest~N` (N versions before the latest), or an ISO date/time such as 2026-01-01 "
    "or 2026-01-01T12:00:00Z (the version in force then; a bare date means 00:00 UTC)"
)

_LATEST = re.compile(r"latest(?:~(\d+))?", re.IGNORECASE)
_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}", re.IGNORECASE)
_BLOB_KEY = re.compile(r"[0-9a-f]{64}")
_SHOWN_CANDIDATES = 8
_OUTBOX_REQUIRED = ("key", "page_id", "route", "severity", "payload")
_STORED_WIDTH = len("2026-01-01T00:00:00.000000Z")  # clock.iso(): fixed width, sorts as text

Stamp = datetime | str


def new_snapshot_id(page_id: str, digest: str, captured_at: Stamp) -> str:
    """A stable id for one version: the same page, content and capture time give the same id."""
    when = iso(captured_at) if isinstance(captured_at, datetime) else captured_at
    return sha256_hex(f"{page_id}\n{digest}\n{when}")


def document_bytes(doc: Document) -> bytes:
    """The canonical JSON of a Document, so equal documents share one blob."""
    return _canonical_json(doc.to_dict())


def _canonical_json(value: Any) -> bytes:
    """One spelling of a JSON value (datetimes as stored times), so equal values share a blob."""
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=lambda o: _stamp(o) if isinstance(o, datetime) else str(o),
    )
    return text.encode("utf-8")


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


def _without_page_id(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "page_id"}


def _later(a: str, b: str) -> bool:
    """Whether time `a` is after time `b`; stored times compare as strings, others are parsed."""
    if len(a) == len(b) == _STORED_WIDTH and a[-1] == b[-1] == "Z":
        return a > b
    return parse_iso(a) > parse_iso(b)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target, then rename over it: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _damaged(path: Path, why: str) -> StoreError:
    return StoreError(
        f"{path} is damaged ({why})",
        hint=(
            "restore it from a backup, or move it aside (e.g. rename it to index.json.damaged) "
            "to start a new history; the stored page contents in blobs/ are not affected"
        ),
    )


def _file_signature(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class _IndexStorage(Storage):
    """TinyDB storage that keeps the index in memory and replaces the file on `save()`.

    TinyDB writes after every table operation; deferring the file write lets the Store
    put a snapshot and its alerts into one atomic replacement and batch unchanged polls.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signature: tuple[int, int, int] | None = None
        self._data: dict[str, dict[str, Any]] | None = self._load()

    def _load(self) -> dict[str, dict[str, Any]] | None:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.path}: {exc.strerror}",
                hint="check the permissions of the data directory (-d/--data-dir)",
            ) from exc
        self.signature = _file_signature(stat)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _damaged(self.path, f"not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise _damaged(self.path, "not a map of TinyDB tables")
        return data

    def changed_on_disk(self) -> bool:
        """Whether another writer replaced the file since we read or wrote it."""
        try:
            current = _file_signature(os.stat(self.path))
        except FileNotFoundError:
            current = None
        return current != self.signature

    def read(self) -> dict[str, dict[str, Any]] | None:
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data

    def save(self) -> None:
        text = json.dumps(self._data or {}, ensure_ascii=False, separators=(",", ":"))
        _atomic_write(self.path, text.encode("utf-8"))
        self.signature = _file_signature(os.stat(self.path))


@dataclass(slots=True)
class _Row:
    """A snapshot in the in-memory per-page index, with its capture time parsed once."""

    when: datetime
    doc_id: int
    snap: Snapshot

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.when, self.doc_id)


class Store:
    """Every stored version, page state and pending alert under one data directory.

    Opening reads the index (StoreError if it is damaged or from a newer policywatch);
    nothing is created until the first write.
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
        self._pending: list[Callable[[], Any]] = []  # applied in memory, not yet on disk
        self._touches: dict[str, str] = {}  # snapshot id -> last seen, not yet on disk
        self._state_changes: dict[str, dict[str, Any]] = {}  # page id -> fields not on disk
        self._logged: dict[str, list[dict[str, Any]]] = {}  # page id -> outcomes not on disk
        self._load()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write whatever is batched; the Store is not used afterwards."""
        self.flush()
        self._db.close()

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        """(Re)read the index, rebuild the lookups, and re-apply our unwritten changes."""
        self._db = TinyDB(self.index_path, storage=_IndexStorage)
        self._storage: _IndexStorage = self._db.storage  # type: ignore[assignment]
        self._snapshots = self._db.table("snapshots", cache_size=0)
        self._pages = self._db.table("pages", cache_size=0)
        self._outcomes = self._db.table("outcomes", cache_size=0)
        self._outbox = self._db.table("outbox", cache_size=0)
        self._meta = self._db.table("meta", cache_size=0)
        self._check_schema()
        self._rows: dict[str, list[_Row]] = {}
        self._row_by_id: dict[str, _Row] = {}
        try:
            for doc in self._snapshots:
                self._add_row(doc.doc_id, Snapshot.from_dict(doc))
        except (KeyError, TypeError, ValueError) as exc:
            raise _damaged(self.index_path, f"a snapshot entry is incomplete: {exc}") from None
        self._outbox_docs = {doc["key"]: doc.doc_id for doc in self._outbox}
        self._inline_payloads = any("payload" in doc for doc in self._outbox)  # schema 1
        for op in self._pending:
            op()
        self._touches = {s: seen for s, seen in self._touches.items() if self._bump_seen(s, seen)}
        self._page_docs = {doc["page_id"]: doc.doc_id for doc in self._pages}
        self._states = {doc["page_id"]: _without_page_id(doc) for doc in self._pages}
        for page_id, fields in self._state_changes.items():
            self._states.setdefault(page_id, {}).update(fields)
        self._outcome_docs = {doc["page_id"]: doc.doc_id for doc in self._outcomes}
        self._logs = {doc["page_id"]: list(doc["log"]) for doc in self._outcomes}
        for page_id, entries in self._logged.items():
            self._log(page_id, entries)

    def _check_schema(self) -> None:
        if not self._storage.read():
            return
        schema = max((doc.get("schema", 0) for doc in self._meta), default=0)
        if not schema:
            raise _damaged(self.index_path, "it has no policywatch schema marker")
        if schema > SCHEMA_VERSION:
            raise StoreError(
                f"{self.data_dir} was written by a newer policywatch "
                f"(store schema {schema}; this version reads up to {SCHEMA_VERSION})",
                hint="upgrade policywatch, or point -d/--data-dir at another directory",
            )

    def _fresh(self) -> None:
        """Readers without the lock pick up what another process wrote (one stat per call)."""
        if self._lock_depth == 0 and self._storage.changed_on_disk():
            self._load()

    def _add_row(self, doc_id: int, snap: Snapshot) -> None:
        row = _Row(parse_iso(snap.captured_at), doc_id, snap)
        bisect.insort(self._rows.setdefault(snap.page_id, []), row, key=lambda r: r.order)
        self._row_by_id[snap.id] = row

    def _bump_seen(self, snapshot_id: str, seen: str) -> bool:
        row = self._row_by_id.get(snapshot_id)
        if row is None or not _later(seen, row.snap.last_seen_at):
            return False
        row.snap = replace(row.snap, last_seen_at=seen)
        return True

    # ------------------------------------------------------------------ locking and writing

    @contextmanager
    def lock(self, timeout: float = 10, *, purpose: str | None = None) -> Iterator[Store]:
        """Hold the data directory's write lock; batched changes are written on the way out.

        Waits up to `timeout` seconds for another writer, then raises StoreLocked naming
        it. Re-entrant. `purpose` (e.g. "policywatch run") is shown to whoever waits.
        """
        if self._lock_depth == 0:
            self._acquire(timeout, purpose or _command_line())
        self._lock_depth += 1
        try:
            yield self
        finally:
            if self._lock_depth == 1:
                try:
                    self._save_batched()
                finally:
                    self._lock_depth = 0
                    self._release()
            else:
                self._lock_depth -= 1

    def _acquire(self, timeout: float, purpose: str) -> None:
        with self._os_errors("create the lock file"):
            self.data_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.data_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(handle)
                    handle.close()
                    raise self._locked_error(holder, timeout) from None
                time.sleep(0.05)
        self._lock_file = handle
        try:
            handle.seek(0)
            handle.truncate()
            holder = {"pid": os.getpid(), "command": purpose, "since": iso(utcnow())}
            handle.write(json.dumps(holder))
            handle.flush()
            for leftover in self.data_dir.glob(f".{INDEX_NAME}.*.tmp"):
                leftover.unlink(missing_ok=True)  # from a writer that died mid-write
            if self._storage.changed_on_disk():
                self._load()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _locked_error(self, holder: Mapping[str, Any], timeout: float) -> StoreLocked:
        try:
            clock = f"since {parse_iso(str(holder['since'])):%H:%M} UTC"
        except (KeyError, TypeError, ValueError):
            clock = ""
        details = ", ".join(
            part
            for part in (f"pid {holder.get('pid', '?')}", f"`{holder.get('command', '?')}`", clock)
            if part
        )
        return StoreLocked(
            f"another policywatch ({details}) is using {self.data_dir}; wait for it or stop it",
            hint=f"waited {timeout:g}s; the lock is released as soon as that process exits",
        )

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

    def _apply(self, op: Callable[[], Any]) -> Any:
        """Change the in-memory index now; remember the change until it is on disk."""
        result = op()
        self._pending.append(op)
        return result

    def _durable(self, op: Callable[[], Any]) -> Any:
        """Apply a change under the lock and write the index before returning."""
        with self.lock():
            result = self._apply(op)
            self._save()
        return result

    def _save(self) -> None:
        if self._touches:
            touches = dict(self._touches)
            self._snapshots.update(
                lambda doc: doc.__setitem__("last_seen_at", touches[doc["id"]]),
                doc_ids=[self._row_by_id[s].doc_id for s in touches if s in self._row_by_id],
            )
        self._put_per_page(self._pages, self._page_docs, self._state_changes, self._states)
        logs = {page_id: {"log": log} for page_id, log in self._logs.items()}
        self._put_per_page(self._outcomes, self._outcome_docs, self._logged, logs)
        if self._inline_payloads:
            self._payloads_to_blobs()
        if not len(self._meta):
            self._meta.insert(
                {"schema": SCHEMA_VERSION, "created_at": iso(utcnow()), "by": __version__}
            )
        elif max(doc.get("schema", 0) for doc in self._meta) < SCHEMA_VERSION:
            self._meta.update({"schema": SCHEMA_VERSION, "upgraded_by": __version__})
        with self._os_errors("write the index"):
            self._storage.save()
        self._pending.clear()
        self._touches.clear()
        self._state_changes.clear()
        self._logged.clear()

    @staticmethod
    def _put_per_page(
        table: Table,
        doc_ids: dict[str, int],
        changed: Mapping[str, object],
        values: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Write the changed pages' entries of a one-entry-per-page table in O(table) steps.

        Whole values are written, not the changes, so writing again after a failed
        save is harmless. Values are copied one level deep: the store changes its
        state maps in place but only ever replaces what they hold.
        """
        known = [doc_ids[page_id] for page_id in changed if page_id in doc_ids]
        if known:
            table.update(lambda doc: doc.update(values[doc["page_id"]]), doc_ids=known)
        new = [page_id for page_id in changed if page_id not in doc_ids]
        if new:
            entries = [{"page_id": p, **values[p]} for p in new]
            doc_ids.update(zip(new, table.insert_multiple(entries), strict=True))

    def _unsaved(self) -> bool:
        return bool(self._pending or self._touches or self._state_changes or self._logged)

    def _save_batched(self) -> None:
        if self._unsaved():
            self._save()

    def flush(self) -> None:
        """Write batched changes (unchanged polls, page state, outcomes) in one index write."""
        if self._unsaved():
            with self.lock():
                self._save_batched()

    # ------------------------------------------------------------------ blobs

    def _blob_path(self, key: str) -> Path:
        if not _BLOB_KEY.fullmatch(key):
            raise _damaged(self.index_path, f"{key!r} is not a blob key")
        return self.data_dir / "blobs" / key[:2] / f"{key}.gz"

    def put_blob(self, data: bytes) -> str:
        """Store bytes once under their sha256 (skipped when already there); returns the key."""
        key = sha256_hex(data)
        path = self._blob_path(key)
        if not path.exists():
            with self._os_errors("write a blob"):
                if not path.parent.is_dir():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _fsync_dir(path.parent.parent)
                _atomic_write(path, gzip.compress(data, compresslevel=6, mtime=0))
        return key

    def get_blob(self, key: str) -> bytes:
        """The bytes stored under `key`, checked against it (StoreError if missing or damaged)."""
        path = self._blob_path(key)
        try:
            data = gzip.decompress(path.read_bytes())
        except FileNotFoundError:
            raise StoreError(
                f"{path} is missing",
                hint="restore the data directory's blobs/ from a backup",
            ) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise _damaged(path, str(exc)) from None
        if sha256_hex(data) != key:
            raise _damaged(path, "its content does not match its name")
        return data

    def document(self, snap: Snapshot) -> Document:
        """The extracted sections of a stored version."""
        return Document.from_dict(json.loads(self.get_blob(snap.doc_key)))

    def raw_html(self, snap: Snapshot) -> bytes:
        """The page bytes as fetched, kept so a better extractor can re-derive sections."""
        return self.get_blob(snap.raw_key)

    # ------------------------------------------------------------------ snapshots

    def page_ids(self) -> list[str]:
        """Pages with at least one stored snapshot, sorted."""
        self._fresh()
        return sorted(self._rows)

    def snapshots(self, page_id: str) -> list[Snapshot]:
        """Every stored version of a page, oldest capture first."""
        self._fresh()
        return [row.snap for row in self._rows.get(page_id, ())]

    def latest(self, page_id: str) -> Snapshot | None:
        self._fresh()
        rows = self._rows.get(page_id)
        return rows[-1].snap if rows else None

    def find_by_digest(self, page_id: str, digest: str) -> Snapshot | None:
        """The earliest version with this content, to recognise a revert."""
        self._fresh()
        return next((r.snap for r in self._rows.get(page_id, ()) if r.snap.digest == digest), None)

    def record_snapshot(
        self, snap: Snapshot, raw: bytes, doc: Document, alerts: Sequence[Mapping[str, Any]] = ()
    ) -> Snapshot:
        """Store a new version and queue its alerts in one index write; returns it as stored.

        The blobs are written first and `raw_key`/`doc_key` filled in from them. Recording
        the same snapshot id again stores nothing new (alerts are still de-duplicated by key).
        """
        if snap.digest != doc.digest:
            raise ValueError(f"snapshot digest {snap.digest} is not its document's {doc.digest}")
        stored = replace(
            snap, raw_key=self.put_blob(raw), doc_key=self.put_blob(document_bytes(doc))
        )
        entries = self._outbox_entries(alerts)

        def op() -> None:
            if stored.id not in self._row_by_id:
                self._add_row(self._snapshots.insert(stored.to_dict()), stored)
            self._insert_alerts(entries)

        self._durable(op)
        return stored

    def replace_documents(
        self, documents: Sequence[tuple[str, Document]], *, rederived_at: Stamp
    ) -> list[Snapshot]:
        """Give stored versions a new reading of their raw HTML, all in one index write.

        For `rederive`, after the extraction rules changed: each version keeps its
        id, capture times and raw HTML, and takes the Document's digest, title,
        sections and metadata. The Document blobs are written first. Returns the
        versions as stored; KeyError for an unknown snapshot id.
        """
        at = _stamp(rederived_at)
        fields: dict[str, dict[str, Any]] = {}
        for snapshot_id, doc in documents:
            if snapshot_id not in self._row_by_id:
                raise KeyError(f"no snapshot {snapshot_id}")
            fields[snapshot_id] = {
                "digest": doc.digest,
                "doc_key": self.put_blob(document_bytes(doc)),
                "title": doc.title,
                "section_digests": {s.label: s.digest for s in doc.sections},
                "metadata": dict(doc.metadata),
                "rederived_at": at,
            }

        def op() -> list[Snapshot]:
            rows = [self._row_by_id[i] for i in fields if i in self._row_by_id]
            for row in rows:
                row.snap = replace(row.snap, **copy.deepcopy(fields[row.snap.id]))
            self._snapshots.update(
                lambda doc: doc.update(copy.deepcopy(fields[doc["id"]])),
                doc_ids=[row.doc_id for row in rows],
            )
            return [row.snap for row in rows]

        return self._durable(op)

    def touch(self, page_id: str, snapshot_id: str, seen_at: Stamp) -> None:
        """An unchanged poll: move the version's last_seen_at forward, written at the next flush."""
        row = self._row_by_id.get(snapshot_id)
        if row is None or row.snap.page_id != page_id:
            raise KeyError(f"no snapshot {snapshot_id} of page {page_id}")
        seen = _stamp(seen_at)
        if self._bump_seen(snapshot_id, seen):
            self._touches[snapshot_id] = seen

    # ------------------------------------------------------------------ references

    def resolve(self, page_id: str, ref: str) -> Snapshot:
        """The one snapshot a command-line REF names, or RefError saying what to type instead.

        REF is an id prefix (unique within the page), `latest`, `latest~N`, or an ISO
        date/time meaning the version in force then: the latest captured at or before it.
        A bare date is that day's start, 00:00 UTC, like a policy "effective January 1":
        `show PAGE 2026-01-01` is what sellers were bound by as the day began, and a
        change first seen during that day shows from `2026-01-02` (or give a time).
        """
        self._fresh()
        rows = self._rows.get(page_id)
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
        index = bisect.bisect_right(rows, when, key=lambda r: r.when) - 1
        if index < 0:
            raise RefError(
                f"nothing of {page_id} was stored as of {text}",
                hint=f"its first snapshot was captured {iso(rows[0].when, 'seconds')}; "
                "give that time or later",
            )
        return rows[index].snap

    def _latest_minus(self, page_id: str, rows: list[_Row], back: int) -> Snapshot:
        if back >= len(rows):
            raise RefError(
                f"{page_id} has {len(rows)} snapshot{'s' if len(rows) != 1 else ''}, "
                f"so there is no latest~{back}",
                hint=f"the oldest is latest~{len(rows) - 1}, "
                f"captured {iso(rows[0].when, 'seconds')}",
            )
        return rows[-1 - back].snap

    def _by_prefix(self, page_id: str, rows: list[_Row], prefix: str) -> Snapshot:
        matches = [row for row in rows if row.snap.id.startswith(prefix)]
        if len(matches) == 1:
            return matches[0].snap
        if matches:
            raise RefError(
                f"{prefix!r} matches {len(matches)} snapshots of {page_id}",
                hint="type more of the id: " + _candidates(matches),
            )
        elsewhere = sorted(
            {r.snap.page_id for r in self._row_by_id.values() if r.snap.id.startswith(prefix)}
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
        known = sorted(self._rows)
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

    # Every poll reads and sets these, so they live in plain dicts (`_states`, `_logs`)
    # and reach the TinyDB tables only when the index is written.

    def page_state(self, page_id: str) -> dict[str, Any]:
        """What the pipeline remembers about a page (etag, failures, fetch path ...)."""
        self._fresh()
        return _copy_plain(self._states.get(page_id, {}))

    def set_page_state(self, page_id: str, **fields: Any) -> None:
        """Merge fields into the page's state; batched until the next write."""
        values = _plain(fields)
        self._states.setdefault(page_id, {}).update(values)
        self._state_changes.setdefault(page_id, {}).update(values)

    def record_outcome(self, page_id: str, outcome: Mapping[str, Any]) -> None:
        """Log a poll's outcome ({at, status, reason, http_status}); the last 50 are kept."""
        entry = _plain(dict(outcome))
        self._log(page_id, [entry])
        self._logged.setdefault(page_id, []).append(entry)

    def _log(self, page_id: str, entries: list[dict[str, Any]]) -> None:
        self._logs[page_id] = [*self._logs.get(page_id, ()), *entries][-OUTCOME_LOG_SIZE:]

    def outcomes(self, page_id: str) -> list[dict[str, Any]]:
        """The page's recent poll outcomes, oldest first."""
        self._fresh()
        return [_copy_plain(entry) for entry in self._logs.get(page_id, ())]

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
        entry["payload_key"] = self.put_blob(_canonical_json(payload))
        return entry

    def _payloads_to_blobs(self) -> None:
        """Move the payloads an older policywatch kept in the index into blobs, once."""
        self._outbox.update(
            lambda doc: self._payload_to_blob(doc, doc.pop("payload")),
            doc_ids=[doc.doc_id for doc in self._outbox if "payload" in doc],
        )
        self._inline_payloads = False

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
        if key is not None:  # else a schema-1 entry, payload inline, until the next write
            if key not in blobs:
                blobs[key] = self.get_blob(key)
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


def _candidates(rows: Sequence[_Row]) -> str:
    shown = [f"{r.snap.id[:12]} ({iso(r.when, 'seconds')})" for r in rows[:_SHOWN_CANDIDATES]]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _read_holder(handle: IO[str]) -> dict[str, Any]:
    """Who holds the lock, as its holder wrote it (empty if it has not written yet)."""
    try:
        handle.seek(0)
        holder = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _command_line() -> str:
    """How this process was started, for the lock file; URLs are left out (they hold secrets)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("__main__.py", "policywatch"):
        name = "policywatch"
    words = [name, *("<url>" if "://" in arg else arg for arg in sys.argv[1:])]
    return " ".join(words)[:120]
