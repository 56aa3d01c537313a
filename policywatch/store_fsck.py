"""`policywatch fsck`: check a data directory end to end, and rebuild what can be rebuilt.

Every version with new content has a small record blob (see store.version_record),
so a lost or damaged index.json or versions.json is rebuilt from the blobs; what
cannot be rebuilt (the alert outbox, episodes, page state) is named in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywatch.clock import parse_iso
from policywatch.errors import StoreError
from policywatch.models import Snapshot
from policywatch.store_files import (
    all_blob_keys,
    atomic_write,
    blob_path,
    open_db,
    read_blob,
    read_tables,
    storage_of,
)


@dataclass
class FsckReport:
    """What is wrong (`problems`), and after --repair, what was rebuilt and what is gone."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def _records(data_dir: Path, report: FsckReport) -> tuple[dict[str, list[Snapshot]], set[str]]:
    """Version records by page (from blobs), and the keys of every intact blob."""
    from policywatch.store import VERSION_RECORD

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


def fsck(data_dir: Path, *, repair: bool = False) -> FsckReport:
    """Check index.json, every page's files and every blob; with `repair`, rebuild."""
    from policywatch.store import INDEX_NAME, Store
    from policywatch.store_page import PageFiles, Row, page_dir_name

    report = FsckReport()
    records, intact = _records(data_dir, report)
    index = data_dir / INDEX_NAME
    try:
        tables = read_tables(index)
        if not tables:
            raise StoreError(f"{index} is missing or empty")
        Store(data_dir)
    except StoreError as exc:
        report.problems.append(exc.message)
        if repair:
            _rebuild_index(data_dir, tables_or_none(index), records, report)
    page_ids = sorted(set(records) | {p.name for p in (data_dir / "pages").glob("*") if p.is_dir()})
    for page_id in page_ids:
        page_dir = data_dir / "pages" / page_dir_name(page_id)
        try:
            page = PageFiles(data_dir, page_id)
            rows = page.versions()
        except StoreError as exc:
            report.problems.append(exc.message)
            if not repair:
                continue
            for name in ("state.json", "versions.json"):
                path = page_dir / name
                if path.exists():
                    path.rename(path.with_name(name + ".damaged"))
            page = PageFiles(data_dir, page_id)
            page.rows, page.versions_db = [], open_db(page_dir / "versions.json")
            for snap in sorted(records.get(page_id, []), key=lambda s: s.captured_at):
                page.insert(Row(parse_iso(snap.captured_at), snap))
            page.state_dirty = True
            page.save()
            report.repaired.append(
                f"{page_id}: rebuilt {len(page.rows)} version(s) from their records"
            )
            report.lost.append(
                f"{page_id}: returns to earlier versions, last-seen times, page state and "
                "outcome log (damaged files kept as *.damaged)"
            )
            rows = page.rows
        known = {r.snap.id for r in rows}
        missing = [s for s in records.get(page_id, []) if s.id not in known]
        for snap in missing:
            report.problems.append(f"{page_id}: version {snap.id[:12]} is not in its index")
        if repair and missing:
            for snap in missing:
                page.insert(Row(parse_iso(snap.captured_at), snap))
            page.rows.sort(key=lambda r: r.when)
            page.head, page.head_of = page.rows[-1].snap, page.rows[-1].of
            page.state_dirty = page.versions_dirty = True
            page.save()
            report.repaired.append(f"{page_id}: restored {len(missing)} version(s)")
        for row in rows:
            for what, key in (("document", row.snap.doc_key), ("raw HTML", row.snap.raw_key)):
                if key not in intact:
                    report.problems.append(
                        f"{page_id}: the {what} of version {row.snap.id[:12]} "
                        f"(captured {row.snap.captured_at}) is missing or damaged"
                    )
                    if repair:
                        report.lost.append(
                            f"{page_id}: {what} of version {row.snap.id[:12]}; the next "
                            "change is kept as a new baseline"
                        )
    return report


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
    from policywatch import __version__
    from policywatch.clock import iso, utcnow
    from policywatch.store import INDEX_NAME, SCHEMA_VERSION

    index = data_dir / INDEX_NAME
    if index.exists():
        atomic_write(index.with_name(INDEX_NAME + ".damaged"), index.read_bytes())
    outbox = [
        e
        for e in (tables or {}).get("outbox", {}).values()
        if isinstance(e, dict)
        and isinstance(e.get("key"), str)
        and isinstance(e.get("status"), str)
    ]
    dropped = len((tables or {}).get("outbox", {})) - len(outbox)
    index.unlink(missing_ok=True)
    db = open_db(index)
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
    elif dropped:
        report.lost.append(f"{dropped} damaged outbox entr{'y' if dropped == 1 else 'ies'}")
