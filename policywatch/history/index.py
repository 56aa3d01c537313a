"""index.json: the schema marker, the list of stored pages and the alert outbox table.

It is the one file every writer touches first (see `Store`), so it carries the schema
check: a directory from a newer policywatch, or one whose index was lost while its blobs
remain, is refused here before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from policywatch import __version__
from policywatch.clock import iso, utcnow
from policywatch.errors import StoreError
from policywatch.history.files import damaged, open_db, os_errors, storage_of
from policywatch.history.records import INDEX_NAME, SCHEMA_VERSION


class Index:
    """index.json kept in memory; `load` reads it again, `save` writes it if it changed."""

    def __init__(self, data_dir: Path, locked: Callable[[], bool] = lambda: False) -> None:
        self.data_dir = data_dir
        self.locked = locked
        self.path = data_dir / INDEX_NAME
        self.load()

    def load(self) -> None:
        """(Re)read index.json: the schema, the page list and the outbox.

        A writer saves the index before its first blob, so blobs found after an empty
        read may be a first write that landed in between: read once more before
        calling the index lost. Blobs are looked for once, after the read: looked for
        again later, a first write landing meanwhile would look like a lost index.
        """
        self.db = open_db(self.path)
        self.storage = storage_of(self.db)
        if not self.storage.read() and self._has_blobs():
            self.db = open_db(self.path)
            self.storage = storage_of(self.db)
            if not self.storage.read():
                self._refuse_lost_index()
        self.meta = self.db.table("meta", cache_size=0)
        self.page_list = self.db.table("pages", cache_size=0)
        self.outbox = self.db.table("outbox", cache_size=0)
        self.schema = self._check_schema()
        try:
            self.stored_pages = {doc["page_id"] for doc in self.page_list}
            self.outbox_docs = {doc["key"]: doc.doc_id for doc in self.outbox}
        except KeyError as exc:
            raise damaged(self.path, f"an entry has no {exc}") from None
        if not all(isinstance(doc.get("status"), str) for doc in self.outbox):
            raise damaged(self.path, "an outbox entry has no status")

    def _check_schema(self) -> int:
        """The store's schema (0: nothing stored yet); refuses what this version cannot read."""
        if not self.storage.read():
            return 0
        schemas = [doc.get("schema", 0) for doc in self.meta]
        if not all(type(s) is int for s in schemas):
            raise damaged(self.path, "its schema marker is not a number")
        schema = max(schemas, default=0)
        if not schema:
            raise damaged(self.path, "it has no policywatch schema marker")
        if schema > SCHEMA_VERSION:
            raise StoreError(
                f"{self.data_dir} was written by a newer policywatch "
                f"(store schema {schema}; this version reads up to {SCHEMA_VERSION})",
                hint="upgrade policywatch, or point -d/--data-dir at another directory",
            )
        return schema

    def _has_blobs(self) -> bool:
        return any((self.data_dir / "blobs").glob("??/*.gz"))

    def _refuse_lost_index(self) -> None:
        """Stored content without an index is damage, never a fresh start that loses history."""
        state = "empty" if self.path.exists() else "missing"
        raise StoreError(
            f"{self.path} is {state} but {self.data_dir / 'blobs'} holds stored versions",
            hint="run `policywatch fsck --repair` to rebuild the index from them",
        )

    def stale(self) -> bool:
        """Replaced on disk, or still empty: an index missing when it was read and missing now
        has the same (no) signature, though another writer may have stored versions since."""
        return self.changed_on_disk() or not self.storage.read()

    def fresh(self) -> None:
        """Readers without the lock pick up what another process wrote to index.json."""
        if not self.locked() and self.changed_on_disk():
            self.load()

    def page_ids(self) -> list[str]:
        """Pages with at least one stored snapshot, sorted."""
        self.fresh()
        return sorted(self.stored_pages)

    @property
    def dirty(self) -> bool:
        return self.storage.dirty

    def changed_on_disk(self) -> bool:
        return self.storage.changed_on_disk()

    def mark_schema(self) -> None:
        """The first write creates index.json before any blob, so blobs never lack an index."""
        if not len(self.meta):
            self.meta.insert(
                {"schema": SCHEMA_VERSION, "created_at": iso(utcnow()), "by": __version__}
            )
            self.save()
            self.schema = SCHEMA_VERSION

    def save(self) -> None:
        with os_errors(self.data_dir, "write the index"):
            self.storage.save()

    def list_page(self, page_id: str) -> None:
        """Add a page to the page list (written with the next save)."""
        if page_id not in self.stored_pages:
            self.page_list.insert({"page_id": page_id})
            self.stored_pages.add(page_id)
