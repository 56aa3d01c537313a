"""`policywatch fsck`: check a data directory end to end, and rebuild what can be rebuilt.

Every version with new content has a small record blob (see records.version_record),
so a lost or damaged index.json or versions.json is rebuilt from the blobs; what
cannot be rebuilt (the alert outbox, episodes, page state) is named in the report.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywatch import __version__
from policywatch.atomic import atomic_write
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.content import Snapshot
from policywatch.errors import StoreError
from policywatch.history.files import (
    all_blob_keys,
    blob_path,
    open_db,
    read_blob,
    read_tables,
    storage_of,
)
from policywatch.history.index import Index
from policywatch.history.lock import locked
from policywatch.history.page import PageFiles, Row, page_dir_name
from policywatch.history.records import INDEX_NAME, SCHEMA_VERSION, VERSION_RECORD
from policywatch.history.store import Store


@dataclass
class FsckReport:
    """What is wrong (`problems`), and after --repair, what was rebuilt and what is gone."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def _records(data_dir: Path, report: FsckReport) -> tuple[dict[str, list[Snapshot]], set[str]]:
    """Version records by page (from blobs), and the keys of every intact blob."""
    records: dict[str, list[Snapshot]] = {}
    intact: set[str] = set()
    for key in all_blob_keys(data_dir):
        try:
            data = read_blob(blob_path(data_dir, key), key)
        except StoreError as exc:
            report.problems.append(exc.message)
            continue
        intact.add(key)
        if not data.startswith(b'{"captured_at"'):  # records sort first; skips HTML fast
            continue
        try:
            row = json.loads(data)
            if row.get("kind") == VERSION_RECORD:
                snap = Snapshot.from_dict({**row, "last_seen_at": row["captured_at"]})
                records.setdefault(snap.page_id, []).append(snap)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return records, intact


def fsck(data_dir: Path, *, repair: bool = False, wait: float = 10) -> FsckReport:
    """Check index.json, every page's files and every blob; with `repair`, rebuild.

    Holds the directory's lock alone (a damaged directory cannot be opened as a
    Store to lock it), after letting Store upgrade an old directory first.
    """
    with contextlib.suppress(StoreError):  # reported below, under the lock
        Store(data_dir)
    with locked(data_dir, wait, "policywatch fsck"):
        return _fsck(data_dir, repair)


def _fsck(data_dir: Path, repair: bool) -> FsckReport:
    report = FsckReport()
    records, intact = _records(data_dir, report)
    index = data_dir / INDEX_NAME
    try:
        if not read_tables(index):
            raise StoreError(f"{index} is missing or empty")
        Store(data_dir)
    except StoreError as exc:
        report.problems.append(exc.message)
        if not repair:
            return _pages(data_dir, records, intact, report, repair)
        _rebuild_index(data_dir, tables_or_none(index), records, report)
    stored_index = Index(data_dir)
    _outbox(stored_index, intact, report, repair)
    _pages(data_dir, records, intact, report, repair)
    listed = set(stored_index.page_ids())
    stored = {p for p in records if PageFiles(data_dir, p).latest() is not None}
    for page_id in sorted(stored - listed):
        report.problems.append(f"{index}: page {page_id} is not in the page list")
        if repair:
            stored_index.list_page(page_id)
            stored_index.save()
            report.repaired.append(f"{index}: listed page {page_id} again")
    return report


def _outbox(index: Index, intact: set[str], report: FsckReport, repair: bool) -> None:
    """Every alert's payload must be readable, or `alerts` and delivery fail on it."""
    broken = [doc for doc in index.outbox if doc.get("payload_key") not in intact]
    for doc in broken:
        report.problems.append(
            f"{index.path}: the payload of alert {str(doc['key'])[:12]} "
            f"({doc.get('title') or doc.get('route')}, {doc['status']}) is missing or damaged"
        )
    if repair and broken:
        index.outbox.remove(doc_ids=[doc.doc_id for doc in broken])
        index.save()
        report.lost.extend(
            f"alert {str(doc['key'])[:12]} ({doc.get('title') or doc.get('route')}, "
            f"{doc['status']}): removed from the outbox"
            for doc in broken
        )


def _pages(
    data_dir: Path,
    records: dict[str, list[Snapshot]],
    intact: set[str],
    report: FsckReport,
    repair: bool,
) -> FsckReport:
    folders = {p.name for p in (data_dir / "pages").glob("*") if p.is_dir()}
    for page_id in sorted(set(records) | {f for f in folders if page_dir_name(f) == f}):
        try:
            page = PageFiles(data_dir, page_id)
            rows = page.versions()
        except StoreError as exc:
            report.problems.append(exc.message)
            if not repair:
                continue
            page = _rebuilt_page(data_dir, page_id, records.get(page_id, []), report)
            rows = page.versions()
        _journal(page, report, repair)
        known = {r.snap.id for r in rows}
        missing = [s for s in records.get(page_id, []) if s.id not in known]
        for snap in missing:
            report.problems.append(f"{page_id}: version {snap.id[:12]} is not in its index")
            if repair:
                when = parse_iso(snap.captured_at)
                page.insert(Row(when, snap), sum(1 for r in rows if r.when <= when))
        if repair and missing:
            page.save()
            report.repaired.append(f"{page_id}: restored {len(missing)} version(s)")
        for row in rows:
            for what, key in (("document", row.snap.doc_key), ("raw HTML", row.snap.raw_key)):
                if key in intact:
                    continue
                report.problems.append(
                    f"{page_id}: the {what} of version {row.snap.id[:12]} "
                    f"(captured {row.snap.captured_at}) is missing or damaged"
                )
                if repair:
                    report.lost.append(
                        f"{page_id}: the {what} of version {row.snap.id[:12]} "
                        "(if it is the latest, the next change is kept as a new baseline)"
                    )
    return report


def _journal(page: PageFiles, report: FsckReport, repair: bool) -> None:
    """Lines of state.log a crash cut short or something damaged: skipped on every read."""
    skipped = page.journal.unreadable
    if not skipped:
        return
    report.problems.append(
        f"{page.journal.path}: {skipped} line(s) cannot be read (cut short by a crash, or "
        f"damaged) and are skipped, so the page's state may be up to {skipped} poll(s) old"
    )
    if repair:
        page.state_dirty = True
        page.save(durable=True)  # state.json whole, under a new generation: the log is gone
        report.repaired.append(f"{page.page_id}: wrote its state.json whole; state.log is gone")
        report.lost.append(
            f"{page.page_id}: what the unreadable line(s) of state.log recorded "
            "(the last-seen time and page state of as many unchanged polls)"
        )


def _rebuilt_page(
    data_dir: Path, page_id: str, records: list[Snapshot], report: FsckReport
) -> PageFiles:
    """A page's files anew from its version records, the damaged ones kept beside."""
    folder = data_dir / "pages" / page_dir_name(page_id)
    for name in ("state.json", "versions.json"):
        path = folder / name
        if path.exists():
            path.rename(path.with_name(name + ".damaged"))
    page = PageFiles(data_dir, page_id)
    page.rows, page.versions_db = [], open_db(folder / "versions.json")
    for snap in sorted(records, key=lambda s: s.captured_at):
        page.insert(Row(parse_iso(snap.captured_at), snap))
    page.state_dirty = True
    page.save()
    report.repaired.append(f"{page_id}: rebuilt {len(page.rows)} version(s) from their records")
    report.lost.append(
        f"{page_id}: returns to earlier versions, last-seen times, page state and outcome "
        f"log (the damaged files are kept in {folder} as *.damaged)"
    )
    return page


def tables_or_none(index: Path) -> dict[str, Any] | None:
    try:
        return read_tables(index)
    except StoreError:
        return None


def _rebuild_index(
    data_dir: Path,
    tables: dict[str, Any] | None,
    records: dict[str, list[Snapshot]],
    report: FsckReport,
) -> None:
    """A new index.json: schema, the page list from the records, the outbox entries that hold."""
    index = data_dir / INDEX_NAME
    if index.exists():
        atomic_write(index.with_name(INDEX_NAME + ".damaged"), index.read_bytes())
    entries = list((tables or {}).get("outbox", {}).values())
    outbox = [e for e in entries if all(isinstance(e.get(k), str) for k in ("key", "status"))]
    dropped = [e for e in entries if e not in outbox]
    # Written over the damaged file in one rename: a repair cut short keeps it, and its outbox.
    db = open_db(index, fresh=True)
    db.table("meta").insert(
        {"schema": SCHEMA_VERSION, "created_at": iso(utcnow()), "by": __version__}
    )
    db.table("pages").insert_multiple({"page_id": p} for p in sorted(records))
    db.table("outbox").insert_multiple(outbox)
    storage_of(db).save()
    report.repaired.append(
        f"{index}: rebuilt with {len(records)} page(s) and {len(outbox)} alert(s)"
    )
    if tables is None or "outbox" not in tables:
        report.lost.append("the alert outbox (alerts not yet sent, and the record of sent ones)")
    report.lost.extend(
        "a damaged outbox entry: "
        + ", ".join(
            f"{k}={str(e[k])[:40]}" for k in ("page_id", "route", "title", "status") if k in e
        )
        for e in dropped
    )
