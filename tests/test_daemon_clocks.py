"""`policywatch run` against a wall clock that steps, and a watchlist that attacks the loader.

The wall clock of a long-running container steps (NTP after a VM resumes, an
operator fixing the date): the watcher must keep polling on its intervals and
`health` must judge liveness on a clock that cannot step. The clock is stepped
with libfaketime in the child processes only (the monotonic clock is left
alone, as the kernel leaves it). A watchlist is a file anyone with write access
to the volume can replace: a YAML alias bomb must be refused, not obeyed.
"""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import test_daemon
from tests.test_daemon import (
    CONDUCT,
    ROOT,
    Watcher,
    _env,
    snapshots,
    wait_for,
    watchlist,
)

watchers = test_daemon.watchers  # the fixture that kills leftover watchers

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
MEMORY_CAP = 1024**3  # the children may not take the machine down if the bound fails
# Under 1 KB; composed naively it expands to 9**9 values (gigabytes).
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "pages: *i",
        "",
    ]
)


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


class WallClock:
    """The wall clock libfaketime shows child processes, stepped by rewriting one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.step("+0")

    def step(self, offset: str) -> None:
        self.path.write_text(offset + "\n", encoding="ascii")


@pytest.fixture
def wall_clock(tmp_path, monkeypatch) -> WallClock:
    if not LIBFAKETIME.exists() or shutil.which("faketime") is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime): cannot step a clock")
    clock = WallClock(tmp_path / "faketime")
    monkeypatch.setenv("LD_PRELOAD", str(LIBFAKETIME))
    monkeypatch.setenv("FAKETIME_TIMESTAMP_FILE", str(clock.path))
    monkeypatch.setenv("FAKETIME_NO_CACHE", "1")  # read the file on every call: steps apply live
    monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    return clock


def health(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policywatch", "-d", str(data), "health", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )


def watch_conduct(tmp_path: Path, pageserver, watchers: list[Watcher], **options) -> Watcher:
    """A watcher polling the code of conduct every 2 seconds, killed by `watchers` if left over."""
    pageserver.route("/conduct", CONDUCT)
    config = watchlist(tmp_path / "watchlist.yaml", {"conduct": pageserver.url("/conduct")})
    watcher = Watcher(config, tmp_path / "data", **options)
    watchers.append(watcher)
    return watcher


def test_a_wall_clock_stepped_back_a_day_does_not_stop_the_polls(
    tmp_path, pageserver, watchers, wall_clock
):
    watcher = watch_conduct(tmp_path, pageserver, watchers)
    data = watcher.data
    wait_for(lambda: pageserver.hits("/conduct"), "the first poll")

    wall_clock.step("-1d")
    polls = len(pageserver.hits("/conduct"))
    wait_for(
        lambda: len(pageserver.hits("/conduct")) >= polls + 2,
        "two more 2-second polls after the clock went back a day",
        timeout=30,
    )
    healthy = health(data)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    code, _ = watcher.terminate()
    assert code == 0


def test_a_frozen_watcher_is_reported_even_when_the_clock_then_steps_back_a_day(
    tmp_path, pageserver, watchers, wall_clock
):
    watcher = watch_conduct(tmp_path, pageserver, watchers)
    data = watcher.data
    wait_for(lambda: (data / "heartbeat.json").exists(), "the first heartbeat")
    watcher.proc.send_signal(signal.SIGSTOP)  # the loop stops beating, the process lives on
    try:
        time.sleep(3)  # the heartbeat only gets older: this cannot race
        wall_clock.step("-1d")
        frozen = health(data, "--max-age", "2")
    finally:
        watcher.proc.send_signal(signal.SIGCONT)
    assert frozen.returncode != 0, frozen.stdout
    assert "stuck or gone" in frozen.stdout
    code, _ = watcher.terminate()
    assert code == 0


def test_an_alias_bomb_watchlist_is_refused_at_once_naming_the_line(tmp_path):
    bomb = tmp_path / "watchlist.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    assert len(ALIAS_BOMB.encode()) < 1024
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "policywatch", "-c", str(bomb), "-d", str(tmp_path), "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        preexec_fn=cap_memory,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 20  # it used to take 2 GB and a minute
    assert f"{bomb}:" in result.stderr and "alias" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_running_watcher_keeps_its_watchlist_when_an_alias_bomb_replaces_it(
    tmp_path, pageserver, watchers
):
    watcher = watch_conduct(tmp_path, pageserver, watchers, preexec_fn=cap_memory)
    config, data = tmp_path / "watchlist.yaml", watcher.data
    wait_for(lambda: snapshots(data, "conduct"), "the first version")

    config.write_text(ALIAS_BOMB, encoding="utf-8")
    wait_for(lambda: watcher.logged("watchlist not reloaded"), "the refused reload", timeout=30)
    polls = len(pageserver.hits("/conduct"))
    wait_for(lambda: len(pageserver.hits("/conduct")) > polls, "the old watchlist still polled")
    code, _ = watcher.terminate()
    assert code == 0, watcher.output[-2000:]
    assert "alias" in watcher.logged("watchlist not reloaded")[0]
