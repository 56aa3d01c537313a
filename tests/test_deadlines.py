"""A hostile or broken site meets `check` and `run`: it costs its own page, never the watch.

The slow sites are real servers on loopback that trickle their answers (see
tests/slowpeer.py); `check`, `run` and `health` are real processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.seller import SELLER_CENTRAL_PARTS, write_watchlist
from tests.slowpeer import SlowPeer
from tests.test_daemon import CONDUCT, Watcher, _env, snapshots, wait_for

NO_RETRY = {"interval": "1h", "timeout": "5s", "retries": 0}


@pytest.fixture
def trickling_body():
    peer = SlowPeer("body").start()
    yield peer
    peer.stop()


@pytest.fixture
def runs():
    """`policywatch run` processes started by a test; killed at its end, logs shown on failure."""
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.kill()
        print(f"--- log of {' '.join(watcher.proc.args)}\n{watcher.output}")


def watching(path: Path, pages: dict[str, tuple[str, str]]) -> Path:
    """A watchlist of id -> (url, timeout) over plain HTTP, no alert routes."""
    entries = [
        {"id": i, "url": u, "timeout": t, **SELLER_CENTRAL_PARTS, "fetch": "http"}
        for i, (u, t) in pages.items()
    ]
    return write_watchlist(path, entries, notify=(), defaults=NO_RETRY)


def policywatch(config: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policywatch", "-c", str(config), "-d", str(data), *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,  # the trickling page alone would take 28 hours before the deadline
        env=_env(),
    )


def test_a_page_trickling_its_body_one_byte_a_second_times_out_alone(
    tmp_path, pageserver, trickling_body
):
    pageserver.route("/conduct", CONDUCT)
    config = watching(
        tmp_path / "watchlist.yaml",
        {"conduct": (pageserver.url("/conduct"), "5s"), "slow": (trickling_body.url, "1s")},
    )
    data = tmp_path / "data"

    done = policywatch(config, data, "check", "--format", "json")

    assert done.returncode == 1, done.stderr
    pages = {p["page"]: p for p in json.loads(done.stdout)["pages"]}
    assert pages["conduct"]["status"] == "new"
    assert pages["slow"]["status"] == "error"
    assert pages["slow"]["reason"].startswith("timed out after 1 s")
    assert len(snapshots(data, "conduct")) == 1


def test_a_stuck_page_under_run_does_not_keep_a_cron_check_out_of_the_store(
    tmp_path, pageserver, trickling_body, runs
):
    pageserver.route("/conduct", CONDUCT)
    config = watching(
        tmp_path / "watchlist.yaml",
        {"slow": (trickling_body.url, "60s"), "conduct": (pageserver.url("/conduct"), "5s")},
    )
    data = tmp_path / "data"
    watcher = Watcher(config, data)
    runs.append(watcher)
    wait_for(lambda: trickling_body.connections, "the run to start fetching the slow page", 90)

    cron = policywatch(config, data, "check", "--wait", "2", "conduct")

    assert cron.returncode == 0, cron.stdout + cron.stderr
    assert "another policywatch" not in cron.stderr
    assert cron.stdout.split()[:2] == ["conduct", "new"]
