"""The data directory's write lock: one flock, and who holds it, for whoever waits."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import sys
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import StoreError, StoreLocked

LOCK_NAME = ".lock"


# Room for the holder's record (and all a waiter reads of it); a bigger lock file, left by
# anything else, is cut down once.
_RECORD_ROOM = 4096


class WriteLock:
    """The data directory's flock, its file kept open for as long as the Store lives.

    A check takes the lock once per page to record it: opening, truncating and closing
    the lock file each time cost more than the page's own write. Who holds the lock is
    written over the previous holder's record, padded with spaces to its length (JSON
    allows them), so the file holds one record and is not truncated on every take.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None
        self._closing: weakref.finalize | None = None
        self.held = False

    def acquire(self, timeout: float, purpose: str) -> None:
        """Wait up to `timeout` seconds for the lock; StoreLocked naming its holder after."""
        deadline = time.monotonic() + timeout
        replaced = 0
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _locked_error(self.data_dir, _read_holder(fd), timeout) from None
                time.sleep(0.05)
                continue
            if self._still_at_path(fd):
                break
            # Removed or replaced (by hand, by a cleanup) since we opened it: whoever opens
            # the path now locks another file, so that file is the lock to take.
            fcntl.flock(fd, fcntl.LOCK_UN)
            self.close()
            replaced += 1
            if replaced == 1:
                continue  # once is the usual case: take the new file at once, whatever the wait
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"{self.path} was removed or replaced each time policywatch took it",
                    hint="stop whatever deletes files in the data directory (-d/--data-dir)",
                )
            time.sleep(0.05)
        self.held = True
        try:
            self._write_holder(fd, purpose)
        except OSError as exc:
            self.release()
            raise StoreError(
                f"cannot write to the lock file {self.path}: {exc.strerror or exc}",
                hint="check that the disk is not full and the directory is writable",
            ) from exc

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        if self._closing is not None:
            self._closing()
        self._fd = self._closing = None
        self.held = False

    def _write_holder(self, fd: int, purpose: str) -> None:
        record = json.dumps({"pid": os.getpid(), "command": purpose, "since": iso(utcnow())})
        data = record.encode("utf-8")
        size = os.fstat(fd).st_size
        if size > _RECORD_ROOM:
            os.ftruncate(fd, len(data))
            size = len(data)
        os.pwrite(fd, data.ljust(size), 0)

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            except OSError as exc:
                raise StoreError(
                    f"cannot open the lock file {self.path}: {exc.strerror or exc}",
                    hint="check that the directory is writable and that .lock is a plain "
                    "file (policywatch creates it), or choose another with -d/--data-dir",
                ) from exc
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise StoreError(
                    f"{self.path} is not a plain file",
                    hint="remove it: policywatch creates its lock file itself",
                )
            self._fd = fd
            # A Store dropped without close() gives its file back when it is collected
            # (a Store is a reference cycle: at the next garbage collection).
            self._closing = weakref.finalize(self, os.close, fd)
            _OPEN.add(self)
        return self._fd

    def _still_at_path(self, fd: int) -> bool:
        try:
            there = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (there.st_ino, there.st_dev) == (held.st_ino, held.st_dev)


_OPEN: weakref.WeakSet[WriteLock] = weakref.WeakSet()


def _drop_inherited() -> None:
    """A forked child lets go of its parent's lock files without unlocking them.

    An flock belongs to the open file, not the process: a child keeping its copy
    would get in while the parent holds the lock, release it under the parent, or
    keep a killed parent's lock held for as long as it lives.
    """
    for lock in list(_OPEN):
        lock.close()


os.register_at_fork(after_in_child=_drop_inherited)


@contextmanager
def locked(data_dir: Path, timeout: float, purpose: str) -> Iterator[None]:
    """The lock alone, for fsck, which must not read a damaged directory as a Store."""
    lock = WriteLock(data_dir)
    lock.acquire(timeout, purpose)
    try:
        yield
    finally:
        lock.release()
        lock.close()


def _locked_error(data_dir: Path, holder: Mapping[str, Any], timeout: float) -> StoreLocked:
    try:
        clock = f"since {parse_iso(str(holder['since'])):%H:%M} UTC"
    except (KeyError, TypeError, ValueError):
        clock = ""
    details = ", ".join(
        part
        for part in (f"pid {holder.get('pid', '?')}", f"`{holder.get('command', '?')}`", clock)
        if part
    )
    return StoreLocked(
        f"another policywatch ({details}) is using {data_dir}; wait for it or stop it",
        hint=f"waited {timeout:g}s; the lock is released as soon as that process exits",
    )


def _read_holder(fd: int) -> dict[str, Any]:
    """Who holds the lock, as its holder wrote it (empty if it has not written yet)."""
    try:
        holder = json.loads(os.pread(fd, _RECORD_ROOM, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def command_line() -> str:
    """How this process was started, for the lock file; URLs are left out (they hold secrets)."""
    return _command_line(tuple(sys.argv))


@lru_cache(maxsize=4)  # worked out at every take of the lock, once per page of a check
def _command_line(argv: tuple[str, ...]) -> str:
    name = Path(argv[0]).name if argv and argv[0] else "python"
    if name in ("__main__.py", "policywatch"):
        name = "policywatch"
    words = [name, *("<url>" if "://" in arg else arg for arg in argv[1:])]
    return " ".join(words)[:120]
