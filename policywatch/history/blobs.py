"""Content blobs: raw HTML, Document JSON, alert payloads and version records, by sha256."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from policywatch.content import Document, Snapshot
from policywatch.history.files import (
    BLOB_KEY,
    blob_path,
    damaged,
    os_errors,
    read_blob,
    write_blob,
)


class Blobs:
    """The blobs/ tree. `before_write` runs before each new blob (the index must exist first)."""

    def __init__(self, data_dir: Path, index_path: Path, before_write: Callable[[], None]) -> None:
        self.data_dir = data_dir
        self.index_path = index_path
        self.before_write = before_write

    def path(self, key: str) -> Path:
        if not BLOB_KEY.fullmatch(key):
            raise damaged(self.index_path, f"{key!r} is not a blob key")
        return blob_path(self.data_dir, key)

    def put(self, data: bytes) -> str:
        """Store bytes once under their sha256 (skipped when already there); returns the key."""
        self.before_write()
        with os_errors(self.data_dir, "write a blob"):
            return write_blob(self.data_dir, data)

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`, checked against it (StoreError if missing or damaged)."""
        return read_blob(self.path(key), key)

    def document(self, snap: Snapshot) -> Document:
        """The extracted sections of a stored version."""
        data = self.get(snap.doc_key)
        try:
            return Document.from_dict(json.loads(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(self.path(snap.doc_key), f"not a document: {exc!r}") from None
