"""One page's files: state.json and state.log (read every poll), versions.json (when needed).

state.json holds the page state, the outcome log and the latest version whole, so an
unchanged poll never reads the history; versions.json holds every version in recorded
order (`seq`), a return to an earlier version as an episode naming it (`of`).

state.log holds what the unchanged polls since then changed (see `journal`).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from policywatch.clock import parse_iso
from policywatch.content import Snapshot
from policywatch.history.files import damaged, open_db, storage_of
from policywatch.history.journal import JOURNAL_NAME, Journal
from policywatch.history.records import canonical_json
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
        self.journal = Journal(self.folder / JOURNAL_NAME)  # opened first: see Journal
        try:
            self.state_db = open_db(self.folder / "state.json")
            self._read_state()
            for entry in self.journal.read(self.gen):
                self._apply(entry)
        finally:
            self.journal.close()
        self.versions_db: Any = None
        self.rows: list[Row] | None = None
        self.by_id: dict[str, Row] = {}
        self.state_dirty = self.versions_dirty = False
        self._base = self._as_written()

    def _as_written(self) -> tuple[dict[str, Any], list[dict[str, Any]], Snapshot | None]:
        """What is on disk now, for the next write to tell a poll's bookkeeping from the rest.

        Shallow copies do: Pages replaces values and lists, it never changes them in place.
        """
        return dict(self.state), list(self.log), self.head

    def _read_state(self) -> None:
        path = self.folder / "state.json"
        entries = list(self.state_db.table("page", cache_size=0))
        try:
            entry = entries[0] if entries else {}
            self.state: dict[str, Any] = dict(entry.get("state", {}))
            self.log: list[dict[str, Any]] = [dict(e) for e in entry.get("log", [])]
            head = entry.get("head")
            self.head = None if head is None else Snapshot.from_dict(head)
            self.head_of: str | None = head.get("of") if head else None
            self.gen: str | None = entry.get("gen")  # the state.json the log's lines continue
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"its page entry is incomplete: {exc!r}") from None

    def _apply(self, entry: Mapping[str, Any]) -> None:
        """One unchanged poll from the log: its state fields, and when the head was seen."""
        self.state.update(entry["state"])
        seen = entry.get("seen")
        if isinstance(seen, str) and self.head is not None:
            with contextlib.suppress(ValueError):  # a time we did not write
                if _later(seen, self.head.last_seen_at):
                    self.head = replace(self.head, last_seen_at=seen)

    def changed_on_disk(self) -> bool:
        if storage_of(self.state_db).changed_on_disk() or self.journal.changed_on_disk():
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

        An unchanged poll's bookkeeping (state fields, last seen) is appended to state.log;
        anything else, or a write that must be durable (it queues alerts its state guards),
        writes state.json whole. With a new version, or when asked, the rename of
        state.json is flushed too. Unchanged polls may come back a few polls old after a
        power cut, which saves a rewrite and a directory flush per page per cycle. A crash
        loses nothing either way.
        """
        if self.state_dirty:
            whole = durable or self.versions_dirty
            if whole or not self._append_poll():
                self._write_state(durable=whole)
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

    def _write_state(self, durable: bool) -> None:
        """state.json whole, under a new `gen`: the lines of state.log before it no longer apply."""
        gen = secrets.token_hex(8)
        table = self.state_db.table("page", cache_size=0)
        table.truncate()
        head = None if self.head is None else {**self.head.to_dict(), "of": self.head_of}
        table.insert({"state": self.state, "log": self.log, "head": head, "gen": gen})
        try:
            storage_of(self.state_db).save(durable=durable)
        except BaseException:
            self.gen = None  # which state.json is on disk is unknown: the next write is whole
            raise
        self.gen = gen
        self.journal.reset()
        self._base = self._as_written()

    def _append_poll(self) -> bool:
        """Append what an unchanged poll changed to state.log; False if state.json must be written.

        Only page state fields and the latest version's last-seen time go to the log;
        the outcome log, a new head or a field removed need state.json written whole.
        """
        state, log, head = self._base
        if self.gen is None or self.journal.full() or self.log != log:
            return False
        if self.head is not head and (
            self.head is None
            or head is None
            or replace(head, last_seen_at=self.head.last_seen_at) != self.head
        ):
            return False
        if not state.keys() <= self.state.keys():
            return False
        changed = {k: v for k, v in self.state.items() if k not in state or not _same(state[k], v)}
        entry: dict[str, Any] = {"gen": self.gen, "state": changed}
        if self.head is not head and self.head is not None:
            entry["seen"] = self.head.last_seen_at
        if not changed and "seen" not in entry:
            return True  # set to what it was: nothing to write
        if not self.journal.append(entry):
            return False
        self._base = self._as_written()
        return True


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: 1, 1.0 and True are equal in Python, not in JSON."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return canonical_json(a) == canonical_json(b)
    return bool(a == b)


def _seq(entry: Mapping[str, Any]) -> int:
    seq = entry.get("seq")
    if type(seq) is not int:
        raise ValueError(f"entry {entry.get('id', '?')!r} has no sequence number")
    return seq
