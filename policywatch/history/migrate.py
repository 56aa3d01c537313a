"""Moving a data directory written by an older policywatch (schema 1 or 2) to schema 3.

Schemas 1 and 2 kept everything in one index.json that was rewritten whole on every
write. The migration copies it to index.json.bak-<schema> first, writes every page's
files, and replaces index.json last: a crash part-way leaves the old index in charge
and the migration simply runs again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from policywatch import __version__
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.content import Snapshot
from policywatch.errors import StoreError
from policywatch.history.files import damaged, open_db, read_tables, storage_of, write_blob
from policywatch.history.page import PageFiles, Row
from policywatch.history.records import INDEX_NAME, SCHEMA_VERSION, canonical_json, version_record


def migrate(data_dir: Path, schema: int) -> None:
    """Rewrite an old single-index directory in the per-page layout (caller holds the lock)."""
    index = data_dir / INDEX_NAME
    tables = read_tables(index) or {}
    backup = data_dir / f"{INDEX_NAME}.bak-{schema}"
    try:
        shutil.copy2(index, backup)
    except OSError as exc:
        raise StoreError(
            f"cannot back up {index} before upgrading it: {exc.strerror}",
            hint="check that the data directory is writable and the disk is not full",
        ) from exc
    try:
        versions = sorted(
            (
                (parse_iso(doc["captured_at"]), int(doc_id), Snapshot.from_dict(doc))
                for doc_id, doc in tables.get("snapshots", {}).items()
            ),
            key=lambda v: (v[0], v[1]),
        )
        states = {d["page_id"]: d for d in tables.get("pages", {}).values()}
        logs = {d["page_id"]: list(d["log"]) for d in tables.get("outcomes", {}).values()}
    except (KeyError, TypeError, ValueError) as exc:
        raise damaged(index, f"an entry is incomplete: {exc!r}") from None
    page_ids = sorted({v[2].page_id for v in versions} | set(states) | set(logs))
    for page_id in page_ids:
        page = PageFiles(data_dir, page_id)
        page.rows, page.versions_db = [], open_db(page.folder / "versions.json")
        for when, _, snap in (v for v in versions if v[2].page_id == page_id):
            write_blob(data_dir, version_record(snap))
            page.insert(Row(when, snap))
        page.state = {k: v for k, v in states.get(page_id, {}).items() if k != "page_id"}
        page.log = logs.get(page_id, [])
        page.state_dirty = True
        page.save()
    db = open_db(index)
    for name in ("snapshots", "pages", "outcomes", "outbox", "meta"):
        db.drop_table(name)
    db.table("meta").insert(
        {
            "schema": SCHEMA_VERSION,
            "created_at": iso(utcnow()),
            "by": __version__,
            "migrated_from": schema,
            "backup": backup.name,
        }
    )
    db.table("pages").insert_multiple(
        {"page_id": p} for p in sorted({v[2].page_id for v in versions})
    )
    outbox = []
    for entry in tables.get("outbox", {}).values():
        moved: dict[str, Any] = dict(entry)
        if "payload" in moved:  # schema 1 kept the payload inline
            payload = moved.pop("payload")
            title = payload.get("title") if isinstance(payload, dict) else None
            moved.setdefault("title", str(title or ""))
            moved["payload_key"] = write_blob(data_dir, canonical_json(payload))
        outbox.append(moved)
    db.table("outbox").insert_multiple(outbox)
    storage_of(db).save()
