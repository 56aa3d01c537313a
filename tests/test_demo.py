"""Stories of `policywatch demo`: a newcomer sees the whole story offline, and nothing is left.

The demo runs as a user runs it, in a subprocess. The offline story runs it in a network
namespace that has only a loopback interface (`unshare -rn`), so any attempt to reach
another host would fail the story.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policywatch.alerts.links import change_path
from policywatch.demo.site import EDITS, article
from policywatch.history.store import Store
from tests.notify_receivers import HttpReceiver
from tests.webdesk import Serving

ROOT = Path(__file__).resolve().parent.parent
# Generous for a loaded CI machine; a run takes about a second (measured in the report).
LIVENESS = 60


def demo_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment whose temporary files go to a folder the test can look into."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYWATCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["TMPDIR"] = str(tmp_path / "tmp")
    return env


def run_demo(
    tmp_path: Path, *args: str, prefix: tuple[str, ...] = (), env: dict[str, str] | None = None
):
    """Run `policywatch demo` in its own session; returns it once no process of it is left."""
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "policywatch", "demo", "--no-color", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=demo_env(tmp_path) | (env or {}),
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=LIVENESS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process, out, err


def on_kept_data(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A policywatch command on the data a `demo -d kept` left, run where no watchlist is."""
    return subprocess.run(
        [sys.executable, "-m", "policywatch", "-d", "kept", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=demo_env(tmp_path),
        timeout=LIVENESS,
    )


def nothing_left_of(process: subprocess.Popen, tmp_path: Path) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of its session still runs
    assert list((tmp_path / "tmp").iterdir()) == []  # its throwaway directory is gone
    assert list(tmp_path.iterdir()) == [tmp_path / "tmp"]  # and it wrote nowhere else


def loopback_only() -> tuple[str, ...]:
    """A prefix that runs a command with no network but a loopback interface that is up."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not Path(ip).exists():
        pytest.skip("needs unshare and ip (util-linux, iproute2) to cut the network off")
    probe = subprocess.run([unshare, "-rn", ip, "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.decode().strip()}")
    return (unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$@"', "demo")


def test_demo_offline_shows_the_obligation_flip_and_the_alert_and_leaves_nothing(tmp_path):
    started = time.monotonic()
    # A proxy nobody runs: the demo must reach its own loopback site directly, not through it.
    proxy = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    process, out, err = run_demo(tmp_path, prefix=loopback_only(), env=proxy)
    took = time.monotonic() - started

    assert process.returncode == 0, err
    assert "contacting-buyers  new" in out
    assert "contacting-buyers  changed (3 sections) [critical]" in out
    assert "alerts: 1 sent, 0 failed, 0 pending" in out
    assert "~ You may {+not +}include a link to your own website" in out  # the diff
    assert "between [-4-]{+5+} and 30 days" in out
    assert '[critical] Contacting buyers changed — "unsolicited"' in out  # the alert's title
    assert "now:    You may {+not+} include a link" in out  # its body
    assert "Traceback" not in err
    nothing_left_of(process, tmp_path)
    print(f"demo took {took:.2f}s")


def test_demo_notify_delivers_the_alert_to_a_real_webhook(tmp_path):
    receiver = HttpReceiver().start()
    try:
        process, out, err = run_demo(tmp_path, "--notify", receiver.url("/hook"))
    finally:
        receiver.stop()

    assert process.returncode == 0, err
    [post] = receiver.posts
    assert post["path"] == "/hook"
    assert post["json"]["title"] == '[critical] Contacting buyers changed — "unsolicited"'
    assert "You may {+not+} include a link" in post["json"]["message"]
    assert "between {+5+} and 30 days" in post["json"]["message"]
    assert post["json"]["message"] in out  # what was printed is what was sent
    nothing_left_of(process, tmp_path)


def test_demo_says_so_when_its_alert_could_not_be_delivered_and_still_cleans_up(tmp_path):
    process, out, err = run_demo(tmp_path, "--notify", "json://127.0.0.1:9/nobody-listens")

    assert process.returncode == 1
    assert "alerts: 0 sent, 1 failed, 1 pending" in out
    assert "(NOT sent: A Connection error occurred" in out
    assert "Traceback" not in err
    nothing_left_of(process, tmp_path)


def test_demo_refuses_a_notify_url_apprise_cannot_use_before_it_starts(tmp_path):
    process, out, err = run_demo(tmp_path, "--notify", "nosuchscheme://nowhere")

    assert process.returncode == 2
    assert "policywatch: --notify nosuchscheme://" in err
    assert "apprise cannot use this notify URL" in err and "watchlist.yaml" not in err
    assert out == ""
    nothing_left_of(process, tmp_path)


def test_demo_keeps_its_data_in_the_directory_given_and_history_reads_it(tmp_path):
    process, out, err = run_demo(tmp_path, "-d", "kept")

    assert process.returncode == 0, err
    assert "The data is kept in kept" in out
    history = on_kept_data(tmp_path, "history", "contacting-buyers")
    assert history.returncode == 0, history.stderr
    assert "contacting-buyers: 2 version(s)" in history.stdout


def test_the_demos_kept_data_read_without_a_watchlist_flags_what_its_alert_flagged(tmp_path):
    """No watchlist at hand: the built-in rules apply, as they do to a watchlist without rules."""
    process, out, err = run_demo(tmp_path, "-d", "kept")
    assert process.returncode == 0, err
    assert '[critical] Contacting buyers changed — "unsolicited"' in out

    diff = on_kept_data(tmp_path, "diff", "contacting-buyers")
    serving = Serving(tmp_path / "no-watchlist.yaml", tmp_path / "kept")
    try:
        with Store(tmp_path / "kept") as store:
            old, new = store.snapshots("contacting-buyers")
        page = serving.get(change_path("contacting-buyers", old.id, new.id))
    finally:
        serving.stop()

    assert diff.returncode == 0, diff.stderr
    assert 'inappropriate messages to buyers.   [critical term "unsolicited" (new)]' in diff.stdout
    assert page.status_code == 200
    first = page.text.split("Read these first", 1)[1].split("Changed sections", 1)[0]
    assert "unsolicited" in first and "critical" in first.lower()


def test_demo_never_writes_into_a_directory_that_holds_something(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine", encoding="utf-8")

    process, _, err = run_demo(tmp_path, "-d", "mine")

    assert process.returncode == 2
    assert "mine is not empty; the demo writes a fresh data directory" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_the_demo_edit_changes_the_shipped_page_exactly_where_it_says():
    before, after = article(edited=False), article(edited=True)

    for old, new in EDITS:
        assert before.count(old) == 1 and old not in after and new in after
    assert "Request a Review" in before and "This article applies to selling in" in before


def test_demo_interrupted_mid_delivery_still_deletes_its_data(tmp_path):
    receiver = HttpReceiver().start()
    receiver.delay = LIVENESS  # holds the alert's delivery open until the seller presses Ctrl-C
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "policywatch", "demo", "--notify", receiver.url()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=demo_env(tmp_path),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + LIVENESS
        while not receiver.posts and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert receiver.posts, "the alert never reached the webhook"
        assert list((tmp_path / "tmp").iterdir())  # the throwaway directory, in use
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=LIVENESS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        receiver.delay = 0
        receiver.stop()

    assert process.returncode == 130
    assert "policywatch: interrupted" in err and "Traceback" not in err
    nothing_left_of(process, tmp_path)
