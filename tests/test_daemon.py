"""A seller leaves `policywatch run` going in a container: real processes, real HTTP, real signals.

Every test starts `python -m policywatch ... run` as a subprocess against the
loopback page server, with two-second intervals, and watches it the way an
operator would: through the store, the alert receiver, the log lines, the
heartbeat, `policywatch health`, and the exit code after SIGTERM.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from policywatch import logs
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.history.store import Store
from policywatch.run import daemon
from policywatch.watchlist.load import load_config
from tests.notify_receivers import HttpReceiver
from tests.pageserver import fixture
from tests.seller import pages_at, write_watchlist

CONDUCT = fixture("conduct-v1.html")
REWORDED = CONDUCT.replace(
    "<li>Not send unsolicited or inappropriate communications</li>",
    "<li>Not send unsolicited, promotional or inappropriate communications</li>",
)
BROKEN = "<html><body><h1>Internal Server Error</h1></body></html>"
ROOT = Path(__file__).resolve().parent.parent
SECRET = "SeCrEtHookToken42"  # the token part of a notify URL: must never reach a log line


def watchlist(
    path: Path, pages: dict[str, str], *, notify: str | None = None, interval: str = "2s"
) -> Path:
    """A watchlist polling every page every 2 s (by default), over plain HTTP, failing fast."""
    return write_watchlist(
        path,
        pages_at(pages),
        notify=[{"name": "hook", "url": notify}] if notify else (),
        defaults={"interval": interval, "timeout": "5s", "retries": 0},
    )


def wait_for(check: Callable[[], object], what: str, timeout: float = 15.0) -> object:
    """Poll until `check()` is truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}")


def snapshots(data: Path, page_id: str) -> list:
    if not (data / "index.json").exists():
        return []
    with Store(data) as store:
        return store.snapshots(page_id)


def outcomes(data: Path, page_id: str) -> list[dict]:
    if not (data / "index.json").exists():
        return []
    with Store(data) as store:
        return store.outcomes(page_id)


def policywatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policywatch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )


def _env() -> dict[str, str]:
    """The child runs this checkout's policywatch, whatever is installed, unbuffered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Watcher:
    """`policywatch run` as a child process, its log lines collected as they arrive."""

    def __init__(
        self,
        config: Path,
        data: Path,
        *args: str,
        verbose: bool = False,
        preexec_fn: Callable[[], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data = data
        command = [sys.executable, "-m", "policywatch", "-c", str(config), "-d", str(data)]
        command += ["-vv"] if verbose else []
        self.proc = subprocess.Popen(
            [*command, "run", *args],
            cwd=config.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**_env(), **(env or {})},
            preexec_fn=preexec_fn,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def logged(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def terminate(self) -> tuple[int, float]:
        """SIGTERM, then (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        took = time.monotonic() - started
        self._reader.join(timeout=5)
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def watchers():
    """Started watchers; any still running at the end are killed, their logs shown on failure."""
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.kill()
        print(f"--- log of {' '.join(watcher.proc.args)}\n{watcher.output}")


@pytest.fixture
def receiver():
    """A real HTTP endpoint on loopback for `json://` alert routes."""
    server = HttpReceiver().start()
    yield server
    server.stop()


def test_the_watcher_stores_pages_alerts_on_a_change_and_outlives_a_failing_page(
    tmp_path, pageserver, receiver, watchers
):
    pageserver.route("/conduct", CONDUCT)
    pageserver.route("/stable", CONDUCT)
    pageserver.route("/broken", BROKEN, status=500)
    config = watchlist(
        tmp_path / "watchlist.yaml",
        {p: pageserver.url(f"/{p}") for p in ("conduct", "stable", "broken")},
        notify=receiver.url("/alerts"),
    )
    data = tmp_path / "data"
    watcher = Watcher(config, data)
    watchers.append(watcher)

    wait_for(lambda: snapshots(data, "conduct") and snapshots(data, "stable"), "first versions")
    health = policywatch("-d", str(data), "health", cwd=tmp_path)
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("ok")

    pageserver.route("/conduct", REWORDED)
    wait_for(lambda: len(snapshots(data, "conduct")) == 2, "the changed page's new version")
    wait_for(
        lambda: any("promotional" in json.dumps(post["json"]) for post in receiver.posts),
        "the change alert, quoting the new wording, at the receiver",
    )
    assert not snapshots(data, "broken")
    assert outcomes(data, "broken")[-1]["status"] == "error"

    failures_so_far = len(pageserver.hits("/broken"))
    stable_polls = len(pageserver.hits("/stable"))
    wait_for(
        lambda: (
            len(pageserver.hits("/stable")) > stable_polls
            and len(pageserver.hits("/broken")) > failures_so_far
        ),
        "the healthy page polled again while the broken one keeps failing",
    )
    assert watcher.proc.poll() is None
    assert len(snapshots(data, "stable")) == 1

    code, took = watcher.terminate()
    assert code == 0, watcher.output
    assert took < 5
    assert "Traceback" not in watcher.output
    assert [len(snapshots(data, p)) for p in ("conduct", "stable")] == [2, 1]
    after = policywatch("-d", str(data), "health", cwd=tmp_path)
    assert after.returncode != 0
    assert "stopped" in after.stdout + after.stderr


def test_an_edited_watchlist_is_reloaded_and_a_broken_edit_keeps_the_old_one_running(
    tmp_path, pageserver, receiver, watchers
):
    pageserver.route("/conduct", CONDUCT)
    pageserver.route("/added", CONDUCT)
    notify = receiver.url(f"/hooks/{SECRET}")
    config = watchlist(
        tmp_path / "watchlist.yaml", {"conduct": pageserver.url("/conduct")}, notify=notify
    )
    data = tmp_path / "data"
    watcher = Watcher(config, data, "--log-format", "json", verbose=True)
    watchers.append(watcher)
    wait_for(lambda: snapshots(data, "conduct"), "the first page's first version")

    pages = {"conduct": pageserver.url("/conduct"), "added": pageserver.url("/added")}
    watchlist(config, pages, notify=notify)
    wait_for(lambda: snapshots(data, "added"), "the page added by the edit")
    assert watcher.logged("watchlist reloaded")

    config.write_text(config.read_text().replace("fetch: http", "fetch: htp", 1), encoding="utf-8")
    [error] = wait_for(lambda: watcher.logged("watchlist not reloaded"), "the reload error")
    assert f"{config}:" in json.loads(error)["error"]  # names the file and line
    polls = len(pageserver.hits("/added"))
    wait_for(lambda: len(pageserver.hits("/added")) > polls, "the old watchlist still polled")

    pageserver.route("/added", REWORDED)
    wait_for(lambda: receiver.posts, "an alert through the route with a secret token")
    assert receiver.posts[0]["path"] == f"/hooks/{SECRET}"

    code, _ = watcher.terminate()
    assert code == 0
    records = [json.loads(line) for line in watcher.lines]
    assert all({"ts", "level", "logger", "msg"} <= record.keys() for record in records)
    assert any(record["logger"] == "urllib3.connectionpool" for record in records)
    assert SECRET not in watcher.output


def test_a_restarted_watcher_sends_queued_alerts_first_and_lets_fresh_pages_rest(
    tmp_path, pageserver, receiver, watchers
):
    pageserver.route("/conduct", CONDUCT)
    config = watchlist(
        tmp_path / "watchlist.yaml",
        {"conduct": pageserver.url("/conduct")},
        notify=receiver.url("/alerts"),
        interval="1h",
    )
    data = tmp_path / "data"
    assert policywatch("-c", str(config), "-d", str(data), "check", cwd=tmp_path).returncode == 0
    pageserver.route("/conduct", REWORDED)
    queued = policywatch("-c", str(config), "-d", str(data), "check", "--no-deliver", cwd=tmp_path)
    assert queued.returncode == 0 and not receiver.posts
    polls = len(pageserver.hits("/conduct"))

    watcher = Watcher(config, data)
    watchers.append(watcher)
    wait_for(lambda: receiver.posts, "the alert queued before the start")
    assert "promotional" in json.dumps(receiver.posts[0]["json"])
    beat = json.loads((data / daemon.HEARTBEAT).read_text())
    assert parse_iso(beat["next_check_at"]) > utcnow() + timedelta(minutes=55)
    code, _ = watcher.terminate()
    assert code == 0
    assert len(pageserver.hits("/conduct")) == polls  # checked a moment ago: not polled again


def test_a_stop_during_a_slow_fetch_exits_promptly_and_leaves_the_store_loadable(
    tmp_path, pageserver, watchers
):
    pageserver.route("/conduct", CONDUCT)
    pageserver.route("/slow", CONDUCT, delay=8)
    config = watchlist(
        tmp_path / "watchlist.yaml",
        {"conduct": pageserver.url("/conduct"), "slow": pageserver.url("/slow")},
    )
    data = tmp_path / "data"
    watcher = Watcher(config, data)
    watchers.append(watcher)

    def fetching_slow_page() -> bool:
        try:
            return "slow" in json.loads((data / daemon.HEARTBEAT).read_text())["working_on"]
        except (OSError, ValueError):
            return False

    wait_for(lambda: snapshots(data, "conduct"), "the fast page's first version")
    wait_for(fetching_slow_page, "the slow page's fetch in flight")
    code, took = watcher.terminate()
    assert code == 0, watcher.output
    assert took < 6
    assert watcher.logged("abandoning the check in flight")
    assert watcher.logged("stopped")
    with Store(data) as store:
        assert len(store.snapshots("conduct")) == 1


def test_health_says_why_when_no_watcher_is_alive(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    missing = policywatch("-d", str(data), "health", cwd=tmp_path)
    assert missing.returncode == 1
    assert "no heartbeat" in missing.stdout

    beat = {"pid": 1, "at": iso(utcnow() - timedelta(hours=1)), "pages": 3, "stopped_at": None}
    (data / daemon.HEARTBEAT).write_text(json.dumps(beat))
    stale = policywatch("-d", str(data), "health", cwd=tmp_path)
    assert stale.returncode == 1
    assert "stuck or gone" in stale.stdout
    assert policywatch("-d", str(data), "health", "--max-age", "7200", cwd=tmp_path).returncode == 0

    beat.update(at=iso(utcnow()), working_since=iso(utcnow() - timedelta(hours=1)))
    (data / daemon.HEARTBEAT).write_text(json.dumps(beat))
    stuck, reason = daemon.health(data)
    assert not stuck
    assert "finished no page" in reason

    # The wall clock jumped an hour ahead while a page was being fetched for 5 s: not stuck.
    beat.update(idle_seconds=5.0)
    (data / daemon.HEARTBEAT).write_text(json.dumps(beat))
    assert daemon.health(data)[0]


def test_two_cron_checks_started_together_keep_one_snapshot_per_page(tmp_path, pageserver):
    ids = ("conduct", "communications", "reviews")
    for page_id in ids:
        pageserver.route(f"/{page_id}", CONDUCT, delay=0.3)
    config = watchlist(tmp_path / "watchlist.yaml", {p: pageserver.url(f"/{p}") for p in ids})
    data = tmp_path / "data"
    command = [sys.executable, "-m", "policywatch", "-c", str(config), "-d", str(data), "check"]
    runs = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(2)
    ]
    results = [(run.wait(timeout=60), *run.communicate()) for run in runs]

    for code, out, err in results:
        assert "Traceback" not in out + err
        assert code == 0 or (code == 1 and "another policywatch" in err), (code, out, err)
    assert any(code == 0 for code, _, _ in results)
    assert [len(snapshots(data, p)) for p in ids] == [1, 1, 1]


def test_a_data_dir_that_cannot_be_written_stops_the_start_with_what_to_fix(tmp_path, pageserver):
    pageserver.route("/conduct", CONDUCT)
    config = watchlist(tmp_path / "watchlist.yaml", {"conduct": pageserver.url("/conduct")})
    (tmp_path / "occupied").write_text("a file where the data directory should be")
    data = tmp_path / "occupied" / "data"
    started = policywatch("-c", str(config), "-d", str(data), "run", cwd=tmp_path)
    assert started.returncode == 2  # a -d that cannot be a directory is bad usage
    assert f"the data directory {data} is inside" in started.stderr
    assert "Traceback" not in started.stderr


def test_fifty_pages_due_at_start_are_spread_over_the_first_minute():
    delays = [daemon.first_delay(6 * 3600, i, 50, None) for i in range(50)]
    assert all(0 <= d < daemon.STAGGER_MAX for d in delays)
    assert delays == sorted(delays)  # one slot each, in order: no two fire together
    assert max(delays) - min(delays) > daemon.STAGGER_MAX * 0.9
    assert all(0 <= daemon.first_delay(2, i, 3, None) < 2 for i in range(3))


def test_a_restart_waits_out_the_interval_of_a_page_polled_recently():
    assert daemon.first_delay(6 * 3600, 0, 1, since_last=3600) >= 5 * 3600
    assert daemon.first_delay(6 * 3600, 0, 1, since_last=7 * 3600) < daemon.STAGGER_MAX


def test_a_page_removed_by_a_reload_while_due_does_not_stop_the_others(
    tmp_path, pageserver, caplog
):
    pageserver.route("/conduct", CONDUCT)
    config = load_config(
        watchlist(tmp_path / "watchlist.yaml", {"conduct": pageserver.url("/conduct")})
    )
    data = tmp_path / "data"
    work = daemon.Work(config, data, ["vanished", "conduct"], deliver=False)
    work.start()
    work.join(30)
    assert not work.is_alive() and not work.locked
    assert len(snapshots(data, "conduct")) == 1
    [skipped] = [r for r in caplog.records if "vanished" in r.getMessage()]
    assert skipped.levelname == "WARNING" and "no longer in" in skipped.getMessage()


class LogLines:
    """Where `logs.setup` writes during a test, read back line by line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def __call__(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def log_lines():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield LogLines()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_text_log_lines_read_as_key_value_and_never_show_a_notify_secret(log_lines):
    route = f"discord://4815162342/{SECRET}"
    logs.add_secrets([route])
    logs.setup(logging.INFO, "text", log_lines.stream)
    pipeline_log = logging.getLogger("policywatch.pipeline")
    pipeline_log.info("page=%s status=changed sections=1", "seller-code-of-conduct")
    logging.getLogger("policywatch.daemon").info("checked", extra={"pages": 2, "note": "a b"})
    pipeline_log.warning("delivery to %s failed: token %s refused", route, SECRET)
    pipeline_log.info("fetched https://sellercentral.amazon.com/help/hub/reference/external/G1801")

    changed, checked, refused, fetched = log_lines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO policywatch.pipeline "
        r"page=seller-code-of-conduct status=changed sections=1",
        changed,
    )
    assert checked.endswith('policywatch.daemon checked pages=2 note="a b"')
    assert SECRET not in refused and "4815162342" not in refused
    assert refused.endswith("delivery to discord://****/**** failed: token **** refused")
    assert fetched.endswith("external/G1801")  # page URLs stay readable


def test_json_log_lines_carry_the_fields_and_a_traceback_without_secrets(log_lines):
    logs.add_secrets([f"json://127.0.0.1:9/hooks/{SECRET}"])
    logs.setup(logging.INFO, "json", log_lines.stream)
    try:
        raise ConnectionError(f"POST /hooks/{SECRET} refused")
    except ConnectionError:
        logging.getLogger("policywatch.notify").exception("send failed", extra={"route": "hook"})

    [line] = log_lines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["logger"] == "policywatch.notify"
    assert record["msg"] == "send failed" and record["route"] == "hook"
    assert "ConnectionError: POST /hooks/**** refused" in record["exc"]
    assert SECRET not in line
