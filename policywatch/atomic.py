"""Files replaced whole: a reader, or a crash, sees the old file or the new one, never a torn one.

The store, the static site and the cache of accepted notify URLs all write this way.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write beside the target, then rename over it: readers see the old file or the new one.

    The new file's bytes always reach the disk before the rename, so even a power cut
    leaves the old file or the new one, never an empty one. `durable` also flushes the
    rename itself; without it a power cut may bring the old file back.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
