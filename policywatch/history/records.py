"""How stored values are spelled: ids, canonical JSON, times, and the plain copies the files hold.

Every part of the store (and the migration and fsck that rebuild it) writes through these,
so equal values always share one blob and one spelling on disk.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from policywatch.clock import iso, parse_iso
from policywatch.content import Document, Snapshot
from policywatch.models import sha256_hex

# 3: per-page files and episodes; 2: outbox payloads in blobs. Older stores are
# migrated on open, and an older policywatch refuses a newer store.
SCHEMA_VERSION = 3
INDEX_NAME = "index.json"
VERSION_RECORD = "policywatch.version"  # marks the blob that lets fsck rebuild a row

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
        default=lambda o: stamp(o) if isinstance(o, datetime) else str(o),
    )
    return text.encode("utf-8")


def version_record(snap: Snapshot) -> bytes:
    """What fsck --repair rebuilds a lost index row from: the row, minus what moves."""
    row = {k: v for k, v in snap.to_dict().items() if k != "last_seen_at"}
    return canonical_json({"kind": VERSION_RECORD, **row})


def when(value: Stamp) -> datetime:
    """A time given as a datetime (naive means UTC) or an ISO string, as an aware UTC datetime."""
    if isinstance(value, str):
        return parse_iso(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stamp(value: Stamp) -> str:
    """Times are stored in the one fixed-width form, whatever form they were given in."""
    return iso(when(value))


_SCALARS = (str, int, float, bool, type(None))  # exactly these: an IntEnum is made plain


def plain(value: Any) -> Any:
    """A deep, JSON-safe copy (datetimes become ISO strings): what the index can hold."""
    if type(value) is dict and all(
        type(k) is str and type(v) in _SCALARS for k, v in value.items()
    ):
        return dict(value)  # the common case, as cheap as it can be: every poll sets state
    return json.loads(
        json.dumps(value, default=lambda o: stamp(o) if isinstance(o, datetime) else str(o))
    )


def copy_plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy the caller may change freely (nested lists and maps copied too)."""
    return {k: v if type(v) in _SCALARS else copy.deepcopy(v) for k, v in value.items()}
