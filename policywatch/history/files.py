"""The files under a data directory: atomic replacement, TinyDB files kept in memory, blobs.

Every file the store names is replaced whole (temp file, fsync, rename, fsync of the
directory), so a crash leaves the previous or the next complete file and readers never
see a torn one. Blobs are gzip files named by the sha256 of their bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from policywatch.atomic import atomic_write, fsync_dir
from policywatch.errors import StoreError
from policywatch.models import sha256_hex

BLOB_KEY = re.compile(r"[0-9a-f]{64}")
REPAIR_HINT = (
    "run `policywatch fsck` to see what is damaged, then `policywatch fsck --repair` to rebuild"
)

Tables = dict[str, dict[str, Any]]


def damaged(path: Path, why: str, hint: str = REPAIR_HINT) -> StoreError:
    return StoreError(f"{path} is damaged ({why})", hint=hint)


@contextmanager
def os_errors(data_dir: Path, action: str) -> Iterator[None]:
    """An OSError while writing under the data directory, as one line saying what to do."""
    try:
        yield
    except OSError as exc:
        raise StoreError(
            f"cannot {action} in {data_dir}: {exc.strerror or exc}",
            hint="check that the directory is writable and the disk is not full, "
            "or choose another with -d/--data-dir",
        ) from exc


Signature = tuple[int, int, int] | None


def signature(path: Path, *, follow_symlinks: bool = True) -> Signature:
    """What changes when another writer replaces or appends to the file (None: no file)."""
    try:
        return signature_of(os.stat(path, follow_symlinks=follow_symlinks))
    except FileNotFoundError:
        return None


def signature_of(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def cannot_read(path: Path, exc: OSError) -> StoreError:
    return StoreError(
        f"cannot read {path}: {exc.strerror}",
        hint="check the permissions of the data directory (-d/--data-dir)",
    )


def read_tables(path: Path) -> Tables | None:
    """A TinyDB file's tables, None if there is no file, StoreError if it is not one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise cannot_read(path, exc) from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise damaged(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise damaged(path, "not a map of TinyDB tables")
    if not all(isinstance(doc, dict) for t in data.values() for doc in t.values()):
        raise damaged(path, "a table entry is not a map")
    return data


class MemoryFileStorage(Storage):
    """TinyDB storage that keeps a file in memory and replaces the file on `save()`.

    TinyDB writes after every table operation; deferring the file write lets the Store
    put a snapshot and its alerts into one atomic step and batch unchanged polls.
    """

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        """`fresh`: start empty whatever the file holds; `save()` then replaces it whole."""
        self.path = path
        self.signature = signature(path)
        self._data = None if fresh else read_tables(path)
        self.dirty = False

    def changed_on_disk(self) -> bool:
        """Whether another writer replaced the file since we read or wrote it."""
        return signature(self.path) != self.signature

    def read(self) -> Tables | None:
        return self._data

    def write(self, data: Tables) -> None:
        self._data = data
        self.dirty = True

    def save(self, *, durable: bool = True) -> None:
        text = json.dumps(self._data or {}, ensure_ascii=False, separators=(",", ":"))
        if not self.path.parent.is_dir():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.path.parent.parent)
        atomic_write(self.path, text.encode("utf-8"), durable=durable)
        self.signature = signature(self.path)
        self.dirty = False


def open_db(path: Path, *, fresh: bool = False) -> TinyDB:
    return TinyDB(path, storage=MemoryFileStorage, fresh=fresh)


def storage_of(db: TinyDB) -> MemoryFileStorage:
    return db.storage  # type: ignore[return-value]


def blob_path(data_dir: Path, key: str) -> Path:
    return data_dir / "blobs" / key[:2] / f"{key}.gz"


def read_blob(path: Path, key: str) -> bytes:
    """A blob's bytes, checked against its key; StoreError naming the file otherwise."""
    hint = "run `policywatch fsck` to see which versions it affects"
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise StoreError(f"{path} is missing", hint=hint) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise damaged(path, str(exc) or "not gzip", hint) from None
    if sha256_hex(data) != key:
        raise damaged(path, "its content does not match its name", hint)
    return data


def write_blob(data_dir: Path, data: bytes) -> str:
    key = sha256_hex(data)
    path = blob_path(data_dir, key)
    if not path.exists():
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(path.parent.parent)
        atomic_write(path, gzip.compress(data, compresslevel=6, mtime=0))
    return key


def all_blob_keys(data_dir: Path) -> list[str]:
    return sorted(
        p.name[: -len(".gz")]
        for p in (data_dir / "blobs").glob("??/*.gz")
        if BLOB_KEY.fullmatch(p.name[: -len(".gz")])
    )
