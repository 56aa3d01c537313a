"""A page's state.log: what unchanged polls changed since its state.json was written, a line each.

Rewriting state.json costs a new file, an fsync and a rename, which was most of an
unchanged poll's store work; appending a JSON line to an open file costs a write.
Each line names the state.json it continues (`gen`, a token written into state.json),
so lines that a crash left behind from an older state.json, or one it cut short, are
skipped. The log only saves time: one that cannot be read or written (not a plain
file, too big) is left alone, and the page's state.json is written whole instead.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from policywatch.history.files import Signature, cannot_read, signature, signature_of
from policywatch.history.records import canonical_json

JOURNAL_NAME = "state.log"
# Lines appended before state.json is written whole again: a poll then costs about a
# ninth of a rewrite, and the log stays around a kilobyte.
JOURNAL_LINES = 8
# A log larger than this was not written by us (8 lines of page state): it is not read.
MAX_BYTES = 1 << 20


class Journal:
    """One page's state.log, opened before its state.json is read.

    A writer that rewrites state.json then removes the log; had the log been opened
    only after state.json was read, a reader could find neither the old lines nor a
    state.json they belong to, and go back up to JOURNAL_LINES polls in time. The
    open file keeps the old lines readable.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0  # lines that continue the state.json read with it
        self.unreadable = 0  # lines skipped as cut short or damaged (fsck names them)
        self.torn = False  # the last line lacks its newline: the next one starts afresh
        self.usable = True  # False: something else is in its place, never read or written
        self.signature: Signature = None
        self._fd: int | None = None
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            self._fd = os.open(path, flags)
        except FileNotFoundError:
            pass
        except OSError:  # a symlink, or unreadable
            self._unusable()

    def read(self, gen: str | None) -> list[dict[str, Any]]:
        """The entries that continue the state.json whose token is `gen`, in order.

        `gen` None is a state.json from before the log, whose next write is whole anyway:
        nothing is read.
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return []
        try:
            info = os.fstat(fd)
            self.signature = signature_of(info)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                self.usable = False
                return []
            if gen is None:
                return []
            with open(fd, "rb", closefd=False) as handle:
                raw = handle.read()
        except OSError as exc:
            raise cannot_read(self.path, exc) from exc
        finally:
            os.close(fd)
        self.torn = bool(raw) and not raw.endswith(b"\n")
        read = [_entry(line) for line in raw.splitlines() if line.strip()]
        self.unreadable = read.count(None)
        entries = [e for e in read if e is not None and e["gen"] == gen]
        self.lines = len(entries)
        return entries

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def changed_on_disk(self) -> bool:
        return signature(self.path, follow_symlinks=False) != self.signature

    def full(self) -> bool:
        """Whether the next write must be state.json whole."""
        return not self.usable or self.lines >= JOURNAL_LINES

    def append(self, entry: dict[str, Any]) -> bool:
        """Append one entry; False when the log cannot take it (state.json is then written)."""
        data = (b"\n" if self.torn else b"") + canonical_json(entry) + b"\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags | os.O_NONBLOCK, 0o666)
        except OSError:  # a symlink, a directory, a pipe nobody reads, or no room to create it
            return False
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            self.torn = True  # until every byte is written: the next line starts on its own
            while data:
                data = data[os.write(fd, data) :]
            self.torn = False
            self.signature = signature_of(os.fstat(fd))
        finally:
            os.close(fd)
        self.lines += 1
        return True

    def reset(self) -> None:
        """state.json was written whole: its lines no longer apply, and the log starts again."""
        self.signature, self.lines, self.torn, self.usable = None, 0, False, True
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # e.g. a directory in its place: left alone, its lines never apply
            self._unusable()

    def _unusable(self) -> None:
        self.usable = False
        self.signature = signature(self.path, follow_symlinks=False)


def _entry(line: bytes) -> dict[str, Any] | None:
    """A line's entry, or None for a line a crash or a power cut cut short."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if isinstance(entry, dict) and isinstance(entry.get("state"), dict) and "gen" in entry:
        return entry
    return None
