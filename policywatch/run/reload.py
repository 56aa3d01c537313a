"""Watching the watchlist file: an edit is loaded in the background and a bad one is refused.

A running daemon must not stop watching because someone saved a broken watchlist, nor
hang on one that is hostile or sits on a hung network mount: the previous watchlist keeps
running until a valid edit loads in time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from policywatch.errors import ConfigError
from policywatch.models import Config
from policywatch.watchlist.load import load_config

log = logging.getLogger("policywatch.daemon")  # the name operators filter on

RELOAD_TIMEOUT = 10.0  # seconds a watchlist reload may take before the old one is kept

Fingerprint = tuple[int, int, str] | None  # mtime_ns, size, sha256 of the watchlist file


def fingerprint(path: Path) -> Fingerprint:
    """mtime, size and content hash: the cheap pair is checked each turn, the hash on change."""
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, digest)


class WatchlistWatcher:
    """Notices edits of the watchlist file; `stop` cuts a slow load short."""

    def __init__(self, path: Path, env: Mapping[str, str] | None, stop: threading.Event) -> None:
        self.path = path
        self.env = env
        self.stop = stop
        self.fingerprint = fingerprint(path)

    def edited(self) -> Config | None:
        """The watchlist as edited since the last look; None if unchanged or not loadable."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            if self.fingerprint is not None:
                log.error(
                    "watchlist is unreadable; the previous one keeps running",
                    extra={"error": str(exc)},
                )
                self.fingerprint = None
            return None
        if self.fingerprint and self.fingerprint[:2] == (stat.st_mtime_ns, stat.st_size):
            return None
        current = fingerprint(self.path)
        if current is None or (self.fingerprint and current[2] == self.fingerprint[2]):
            self.fingerprint = current
            return None
        self.fingerprint = current
        try:
            return self._load_in_background()
        except ConfigError as exc:
            log.error(
                "watchlist not reloaded; the previous one keeps running",
                extra={"error": exc.message, "hint": exc.hint},
            )
            return None

    def _load_in_background(self) -> Config:
        """Load the watchlist in a thread, waited on until done, a stop or RELOAD_TIMEOUT.

        The loader is bounded, but the loop is what answers SIGTERM and writes the
        heartbeat: no watchlist, however hostile (or on a hung network mount), may
        hold it. A load given up on is left to finish in its (daemon) thread.
        """
        loaded: list[Config] = []
        failed: list[ConfigError] = []

        def load() -> None:
            try:
                loaded.append(load_config(self.path, self.env))
            except ConfigError as exc:
                failed.append(exc)

        thread = threading.Thread(target=load, name="policywatch-reload", daemon=True)
        thread.start()
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while thread.is_alive() and not self.stop.is_set() and time.monotonic() < deadline:
            thread.join(0.1)
        if failed:
            raise failed[0]
        if not loaded:
            why = "a stop came" if self.stop.is_set() else f"it took over {RELOAD_TIMEOUT:g} s"
            raise ConfigError(f"reading it was given up: {why}", file=str(self.path))
        return loaded[0]
