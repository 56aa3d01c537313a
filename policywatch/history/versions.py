"""The versions of each page: recorded in sequence order, episodes for returning content.

A return to a version already stored (a revert, a page flapping A→B→A) adds an
*episode*: a compact entry naming the earlier version it repeats, not a copy of it.
Versions are ordered by the sequence they were recorded in, never by capture time, so
a clock that jumped forward for one poll cannot keep a stale version "latest";
imports are the exception (see `record`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace

from policywatch.clock import parse_iso
from policywatch.content import Document, Snapshot
from policywatch.history.blobs import Blobs
from policywatch.history.index import Index
from policywatch.history.page import PageFiles, Row, snapshot_from
from policywatch.history.pages import Pages
from policywatch.history.records import document_bytes, version_record


class Versions:
    """Reads and records versions; the caller holds the lock and saves (see `Store`)."""

    def __init__(self, index: Index, pages: Pages, blobs: Blobs) -> None:
        self.index = index
        self.pages = pages
        self.blobs = blobs

    def rows(self, page_id: str) -> list[Row]:
        return self.pages.files(page_id).versions()

    def snapshots(self, page_id: str) -> list[Snapshot]:
        """Every stored version of a page, in recorded order (see `record`)."""
        return [row.snap for row in self.rows(page_id)]

    def latest(self, page_id: str) -> Snapshot | None:
        """The version recorded last: by sequence, whatever the clocks said."""
        return self.pages.files(page_id).latest()

    def find_by_digest(self, page_id: str, digest: str) -> Snapshot | None:
        """The earliest version with this content, to recognise a revert."""
        return next((r.snap for r in self.rows(page_id) if r.snap.digest == digest), None)

    def record(
        self, snap: Snapshot, raw: bytes, doc: Document, queue_alerts: Callable[[], object]
    ) -> Snapshot:
        """Add a version; `queue_alerts` queues its alerts. Returns it as stored.

        A fetched version goes after every other (recorded order is what `latest` and
        `latest~N` count in). An import goes where its capture time puts it, after the
        last version captured at or before it, so saved copies fill a gap in history
        and `show PAGE <date>` finds them; an import dated later than everything simply
        becomes the latest, and the next poll records the live page after it.

        Content already stored for this page becomes an episode naming that version (no
        second raw copy), unless it is an import placed before that version, which is
        stored in full (an episode is read after the version it repeats); new content gets
        its blobs and a version record written first.
        Recording the same snapshot id again stores nothing new (alerts are still
        de-duplicated by key).
        """
        page = self.pages.files(snap.page_id)
        page.versions()
        known = page.by_id.get(snap.id)
        if known is not None:
            queue_alerts()
            return known.snap
        rows = page.versions()
        when = parse_iso(snap.captured_at)
        at = sum(1 for r in rows if r.when <= when) if snap.origin == "import" else None
        base = next((r for r in rows if r.snap.digest == snap.digest), None)
        base_row = base and page.by_id[base.of or base.snap.id]
        # An episode is read after the version it repeats: an import placed before that
        # version (an old copy of wording stored later) is stored in full instead.
        if base_row is not None and (at is None or rows.index(base_row) < at):
            stored = snapshot_from(snap.to_dict(), base_row.snap)
            row = Row(when, stored, base_row.snap.id)
        else:
            stored = replace(
                snap, raw_key=self.blobs.put(raw), doc_key=self.blobs.put(document_bytes(doc))
            )
            self.blobs.put(version_record(stored))
            row = Row(when, stored)
        queue_alerts()
        self.index.list_page(snap.page_id)
        page.insert(row, at)
        return stored

    def replace_documents(self, documents: Sequence[tuple[str, Document]], at: str) -> list[str]:
        """Give stored versions a new reading of their raw HTML, all in one write per page.

        For `rederive`, after the extraction rules changed: each version keeps its
        id, capture times and raw HTML, and takes the Document's digest, title,
        sections and metadata (an episode's go to the version it repeats). The
        Document blobs are written first. Returns their ids; KeyError
        for an unknown snapshot id.
        """
        done: list[str] = []
        for snapshot_id, doc in documents:
            page = self.page_of(snapshot_id)
            fields = {
                "digest": doc.digest,
                "doc_key": self.blobs.put(document_bytes(doc)),
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
        return done

    def page_of(self, snapshot_id: str) -> PageFiles:
        for page_id in self.index.page_ids():
            page = self.pages.files(page_id)
            page.versions()
            if snapshot_id in page.by_id:
                return page
        raise KeyError(f"no snapshot {snapshot_id}")
