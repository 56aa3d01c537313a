"""A hostile or broken site meets `check` and `run`: it costs its own page, never the watch.

The slow sites are real servers on loopback that trickle their answers (see
tests/slowpeer.py); `check`, `run` and `health` are real processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from policywatch.run import daemon
from tests.seller import SELLER_CENTRAL_PARTS, write_watchlist
from tests.slowpeer import SlowPeer
from tests.test_daemon import CONDUCT, Watcher, _env, snapshots, wait_for

NO_RETRY = {"interval": "2s", "timeout": "5s", "retries": 0}  # first polls within 2 s


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
    page, status = cron.stdout.split()[:2]
    assert (page, status) in {("conduct", "new"), ("conduct", "unchanged")}  # the run may be first
    assert len(snapshots(data, "conduct")) == 1


def heartbeat(data: Path) -> dict:
    try:
        return json.loads((data / daemon.HEARTBEAT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def test_a_worker_that_finishes_no_page_is_called_stuck_and_health_names_the_page(
    tmp_path, pageserver, trickling_body, runs
):
    pageserver.route("/conduct", CONDUCT)
    config = watching(
        tmp_path / "watchlist.yaml",
        {"conduct": (pageserver.url("/conduct"), "5s"), "slow": (trickling_body.url, "60s")},
    )
    data = tmp_path / "data"
    # A page that may take 60 s cannot hang for real any more; a 2 s limit makes it look hung.
    watcher = Watcher(config, data, env={daemon.STUCK_AFTER_ENV: "2"})
    runs.append(watcher)

    wait_for(lambda: heartbeat(data).get("stuck"), "the watchdog to notice the stuck page", 60)
    health = policywatch(config, data, "health")

    assert health.returncode == 1
    assert "stuck" in health.stdout and "slow" in health.stdout
    assert "conduct" not in health.stdout  # it finished: only the page in flight is named
    assert watcher.logged("work is stuck")


def test_health_is_not_ok_once_the_run_process_was_killed_minus_9(tmp_path, pageserver, runs):
    pageserver.route("/conduct", CONDUCT)
    config = watching(tmp_path / "watchlist.yaml", {"conduct": (pageserver.url("/conduct"), "5s")})
    data = tmp_path / "data"
    watcher = Watcher(config, data)
    runs.append(watcher)
    wait_for(lambda: snapshots(data, "conduct"), "the first version", 60)
    assert policywatch(config, data, "health").returncode == 0

    watcher.proc.send_signal(signal.SIGKILL)
    watcher.proc.wait(timeout=20)
    health = policywatch(config, data, "health")

    assert health.returncode == 1
    assert "is not running" in health.stdout and "start it again" in health.stdout
