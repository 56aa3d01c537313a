"""One page's files: state.json (read every poll) and versions.json (read when needed).

state.json holds the page state, the outcome log and the latest version whole, so an
unchanged poll never reads the history; versions.json holds every version in recorded
order (`seq`), a return to an earlier version as an episode naming it (`of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from policywatch.clock import parse_iso
from policywatch.content import Snapshot
from policywatch.history.files import damaged, open_db, storage_of
from policywatch.models import sha256_hex

OUTCOME_LOG_SIZE = 50
_PAGE_DIR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_EPISODE_FIELDS = ("id", "captured_at", "last_seen_at", "url", "origin")


def page_dir_name(page_id: str) -> str:
    """The page's folder under pages/: its id when that is a safe name (config ids are)."""
    if _PAGE_DIR.fullmatch(page_id):
        return page_id
    return "_" + sha256_hex(page_id)[:32]


def _later(a: str, b: str) -> bool:
    return parse_iso(a) > parse_iso(b)


def snapshot_from(doc: Mapping[str, Any], base: Snapshot | None = None) -> Snapshot:
    """A version from its stored entry; an episode takes its content from `base`."""
    if base is None:
        return Snapshot.from_dict(doc)
    return replace(base, **{k: doc[k] for k in _EPISODE_FIELDS if k in doc})


def _episode_entry(snap: Snapshot, of: str) -> dict[str, Any]:
    return {"of": of, **{k: getattr(snap, k) for k in _EPISODE_FIELDS}}


@dataclass(slots=True)
class Row:
    """A version in a page's history; `of` names the version an episode repeats."""

    when: datetime
    snap: Snapshot
    of: str | None = None


class PageFiles:
    """One page's files: state.json is read on every poll, versions.json only when needed."""

    def __init__(self, data_dir: Path, page_id: str) -> None:
        self.page_id = page_id
        self.folder = data_dir / "pages" / page_dir_name(page_id)
        self.state_db = open_db(self.folder / "state.json")
        self.versions_db: Any = None
        self.rows: list[Row] | None = None
        self.by_id: dict[str, Row] = {}
        self.state_dirty = self.versions_dirty = False
        path = self.folder / "state.json"
        entries = list(self.state_db.table("page", cache_size=0))
        try:
            entry = entries[0] if entries else {}
            self.state: dict[str, Any] = dict(entry.get("state", {}))
            self.log: list[dict[str, Any]] = [dict(e) for e in entry.get("log", [])]
            head = entry.get("head")
            self.head = None if head is None else Snapshot.from_dict(head)
            self.head_of: str | None = head.get("of") if head else None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"its page entry is incomplete: {exc!r}") from None

    def changed_on_disk(self) -> bool:
        if storage_of(self.state_db).changed_on_disk():
            return True
        return self.versions_db is not None and storage_of(self.versions_db).changed_on_disk()

    def versions(self) -> list[Row]:
        """Every version in recorded order, read on first need."""
        if self.rows is not None:
            return self.rows
        path = self.folder / "versions.json"
        self.versions_db = open_db(path)
        rows: list[Row] = []
        try:
            entries = sorted(self.versions_db.table("snapshots", cache_size=0), key=_seq)
            for entry in entries:
                of = entry.get("of")
                base = self.by_id[of].snap if of else None
                snap = snapshot_from(entry, base)
                if snap.page_id != self.page_id:
                    raise ValueError(f"a version of {snap.page_id} is filed here")
                rows.append(Row(parse_iso(snap.captured_at), snap, of))
                self.by_id[snap.id] = rows[-1]
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"a version entry is incomplete: {exc!r}") from None
        self.rows = rows
        if self.head is not None:
            row = self.by_id.get(self.head.id)
            if row is None:  # a crash between state.json and versions.json
                self.insert(Row(parse_iso(self.head.captured_at), self.head, self.head_of))
            else:
                row.snap = self.head
        return rows

    def latest(self) -> Snapshot | None:
        if self.head is None and (self.folder / "versions.json").exists():
            rows = self.versions()
            return rows[-1].snap if rows else None
        return self.head

    def insert(self, row: Row, at: int | None = None) -> None:
        rows = self.versions()
        rows.insert(len(rows) if at is None else at, row)
        self.by_id[row.snap.id] = row
        self.versions_dirty = True
        if rows[-1] is row:
            self.head, self.head_of = row.snap, row.of
            self.state_dirty = True

    def bump_seen(self, snapshot_id: str, seen: str) -> bool:
        """Move a version's last_seen_at forward; the latest's lives in state.json."""
        if self.head is not None and self.head.id == snapshot_id:
            if not _later(seen, self.head.last_seen_at):
                return False
            self.head = replace(self.head, last_seen_at=seen)
            self.state_dirty = True
            if snapshot_id in self.by_id:
                self.by_id[snapshot_id].snap = self.head
            return True
        self.versions()
        row = self.by_id.get(snapshot_id)
        if row is None or not _later(seen, row.snap.last_seen_at):
            return False
        row.snap = replace(row.snap, last_seen_at=seen)
        self.versions_dirty = True
        return True

    def save(self, durable: bool = False) -> None:
        """Write what changed: state.json first (it can complete versions.json), then versions.

        With a new version, or when asked (the write queues alerts its state guards),
        the rename of state.json is flushed too; an unchanged poll's bookkeeping (last
        seen, poll log, validators) may come back one poll old after a power cut, which
        saves a directory flush per page per cycle. A crash loses nothing either way.
        """
        if self.state_dirty:
            table = self.state_db.table("page", cache_size=0)
            table.truncate()
            head = None if self.head is None else {**self.head.to_dict(), "of": self.head_of}
            table.insert({"state": self.state, "log": self.log, "head": head})
            storage_of(self.state_db).save(durable=durable or self.versions_dirty)
            self.state_dirty = False
        if self.versions_dirty and self.versions_db is not None and self.rows is not None:
            table = self.versions_db.table("snapshots", cache_size=0)
            table.truncate()
            table.insert_multiple(
                {"seq": n, **(_episode_entry(r.snap, r.of) if r.of else r.snap.to_dict())}
                for n, r in enumerate(self.rows, 1)
            )
            storage_of(self.versions_db).save()
            self.versions_dirty = False


def _seq(entry: Mapping[str, Any]) -> int:
    seq = entry.get("seq")
    if type(seq) is not int:
        raise ValueError(f"entry {entry.get('id', '?')!r} has no sequence number")
    return seq
