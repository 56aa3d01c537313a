"""Shared test parts: the loopback page server and the real-pages corpus."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from policywatch import clock
from tests.notify_receivers import HttpReceiver, SmtpReceiver
from tests.pageserver import PageServer

ROOT = Path(__file__).resolve().parent.parent


def real_pages_dir() -> Path:
    """The third-party corpus, read in place (never copied into the project)."""
    return Path(os.environ.get("POLICYWATCH_REAL_PAGES", ROOT.parent / "shared" / "real-pages"))


@pytest.fixture(autouse=True)
def _own_cache_home(tmp_path_factory, monkeypatch):
    """The notify URLs apprise accepted are remembered in the user's cache: never the tester's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def pageserver():
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox():
    """A real SMTP server on loopback that keeps what it receives."""
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook():
    """A real HTTP receiver on loopback for apprise json:// posts."""
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def real_pages() -> Path:
    path = real_pages_dir()
    if not (path / "README.md").is_file():
        pytest.skip(
            f"real Seller Central corpus not found at {path}; set POLICYWATCH_REAL_PAGES "
            "to the folder holding amazon-eu-*/ to run these tests"
        )
    return path


class WallClock:
    """The wall clock policywatch reads, moved on by hand: hours pass between two cron runs."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    """policywatch reads the time only through `clock.utcnow`; this sets what it reads."""
    moved = WallClock(datetime(2026, 11, 29, 8, 0, tzinfo=UTC))

    class ClockTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return moved.now if tz else moved.now.replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", ClockTime)
    return moved
