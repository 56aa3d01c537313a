"""The data directory's write lock: one flock, and who holds it, for whoever waits."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import StoreError, StoreLocked

LOCK_NAME = ".lock"


def take_lock(data_dir: Path, timeout: float, purpose: str) -> IO[str]:
    """The data directory's flock, waited for up to `timeout` seconds (StoreLocked after)."""
    try:
        handle = open(data_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock file in {data_dir}: {exc.strerror or exc}",
            hint="check that the directory is writable, or choose another with -d/--data-dir",
        ) from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _read_holder(handle)
                handle.close()
                raise _locked_error(data_dir, holder, timeout) from None
            time.sleep(0.05)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "command": purpose, "since": iso(utcnow())}))
    handle.flush()
    return handle


@contextmanager
def locked(data_dir: Path, timeout: float, purpose: str) -> Iterator[None]:
    """The lock alone, for fsck, which must not read a damaged directory as a Store."""
    handle = take_lock(data_dir, timeout, purpose)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


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


def _read_holder(handle: IO[str]) -> dict[str, Any]:
    """Who holds the lock, as its holder wrote it (empty if it has not written yet)."""
    try:
        handle.seek(0)
        holder = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def command_line() -> str:
    """How this process was started, for the lock file; URLs are left out (they hold secrets)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("__main__.py", "policywatch"):
        name = "policywatch"
    words = [name, *("<url>" if "://" in arg else arg for arg in sys.argv[1:])]
    return " ".join(words)[:120]
