"""The parts of `policywatch run` (the loop itself is in `run.loop`): the worker that does
one turn's store work, the first delays that spread the schedule, the stall limit the
watchdog applies, the heartbeat file and `policywatch health`, which reads it.

Health is judged from `heartbeat.json`, rewritten on every turn: fresh means
the loop is alive, the recorded process identity shows the writer still runs,
and `stuck` (set by the watchdog) or `working_since` (the start of the current
work or its last finished page) shows whether the work itself is stuck.
The heartbeat's age runs on the monotonic clock, which never steps.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from policywatch.alerts.deliver import deliver_pending
from policywatch.clock import parse_iso, utcnow
from policywatch.errors import StoreLocked
from policywatch.fetch.answers import RETRY_BUDGET
from policywatch.fetch.browser import LAUNCH_TIMEOUT
from policywatch.fetch.tab import SETTLE_LIMIT
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec
from policywatch.run.check import RECORD_WAIT, check_pages
from policywatch.run.outcome import PageOutcome
from policywatch.run.reminders import queue_reminders

log = logging.getLogger("policywatch.daemon")  # the name operators filter on

HEARTBEAT = "heartbeat.json"
PURPOSE = "policywatch run"  # shown to a `check` that finds the store locked
LOOP_SLEEP = 1.0  # seconds between turns: how soon an edit, a due page or a stop is noticed
LOCK_TIMEOUT = 2.0  # seconds to wait for the store before leaving the work to the next turn
DELIVERY_EVERY = 60  # seconds between retries of alerts still pending
CLOCK_STEP = 2.0  # seconds the wall clock may move against the monotonic one in a turn
STAGGER_MAX = 60.0  # first checks are spread over at most this many seconds
STOP_GRACE = 3.0  # seconds a stop waits for the work in flight before abandoning it
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # monotonic times compare within one boot
# `health` default: no heartbeat, or no finished page during work, for this long is unhealthy.
# One page is bounded by its timeouts and retries (a few minutes at worst); 10 min is beyond that.
DEFAULT_MAX_AGE = 600.0
# Set to a number of seconds to override the stall limit derived from the page timeouts.
STUCK_AFTER_ENV = "POLICYWATCH_STUCK_AFTER"
STALL_SLACK = 30.0  # seconds added to a page's worst case before its work counts as stuck


class Work(threading.Thread):
    """One turn's store work: check the due pages, then deliver pending alerts.

    The main thread reads `locked` and `checked_at` once the thread is done, and
    `progress_at`, `progress_clock` and `unfinished()` while it runs; nothing else
    is shared.
    """

    def __init__(self, config: Config, data_dir: Path, pages: Sequence[str], deliver: bool) -> None:
        super().__init__(name="policywatch-work", daemon=True)
        self.config = config
        self.data_dir = data_dir
        self.pages = list(pages)
        self.deliver = deliver
        self.locked = False
        self.checked_at: datetime | None = None
        self.progress_at = utcnow()
        self.progress_clock = time.monotonic()  # the watchdog's clock: immune to clock steps
        self.finished: set[str] = set()

    def unfinished(self) -> list[str]:
        """The due pages with no outcome yet: the ones a stuck batch is waiting on."""
        return [page_id for page_id in self.pages if page_id not in self.finished]

    def run(self) -> None:
        try:
            with Store(self.data_dir) as store:
                if self.pages:
                    self._check(store)
                if self.deliver:
                    with store.lock(LOCK_TIMEOUT, purpose=PURPOSE):
                        queue_reminders(self.config, store, utcnow())
                        self._deliver(store)
        except StoreLocked:
            self.locked = True
        except Exception:
            log.exception("work on the store failed; the loop goes on")

    def _progress(self, outcome: PageOutcome | None = None) -> None:
        if outcome is not None:
            self.finished.add(outcome.page_id)
        self.progress_at = utcnow()
        self.progress_clock = time.monotonic()

    def _check(self, store: Store) -> None:
        """All due pages in one call; if that call itself crashes, each page alone.

        The pipeline already turns a page's failure into an "error" outcome; the
        fallback keeps one page that breaks the batch from starving the others.
        """
        started = time.monotonic()
        try:
            report = check_pages(
                self.config,
                store,
                page_ids=self.pages,
                on_outcome=self._progress,
                deliver=False,
                queue=False,  # the loop queues digests, the delivery turn reminders
                skip_unknown=True,  # a reload may have removed a page that was due
                lock_wait=LOCK_TIMEOUT,
                purpose=PURPOSE,
            )
            outcomes = report.outcomes
        except StoreLocked:
            raise
        except Exception:
            log.exception("check of %d pages crashed; checking them one at a time", len(self.pages))
            outcomes = []
            for page_id in self.pages:
                try:
                    report = check_pages(
                        self.config,
                        store,
                        page_ids=[page_id],
                        deliver=False,
                        queue=False,
                        skip_unknown=True,
                        lock_wait=LOCK_TIMEOUT,
                        purpose=PURPOSE,
                    )
                    outcomes.extend(report.outcomes)
                except Exception:
                    log.exception("page=%s check crashed; the other pages go on", page_id)
                self.finished.add(page_id)
                self._progress()
        self.checked_at = utcnow()
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        log.info(
            "checked",
            extra={
                "pages": len(self.pages),
                **counts,
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    def _deliver(self, store: Store) -> None:
        try:
            deliver_pending(store, self.config.routes, utcnow())
        except Exception:
            log.exception("alert delivery failed; pending alerts stay queued for the next try")


def stall_limit(config: Config, page_ids: Sequence[str], env: Mapping[str, str] | None) -> float:
    """Seconds a batch may finish no page before the watchdog calls it stuck.

    The worst a healthy page can take: every attempt to its deadline and the
    waits between them, the browser too for `auto`/`browser` pages (twice: a
    quick read, then a full one), all twice (the second look at a page that lost
    most sections), plus the wait to record it. `POLICYWATCH_STUCK_AFTER` overrides it.
    """
    override = (os.environ if env is None else env).get(STUCK_AFTER_ENV)
    if override:
        with contextlib.suppress(ValueError):
            return float(override)
    attempts = max(1, config.defaults.retries)
    pages: dict[str, PageSpec] = {page.id: page for page in config.pages}
    worst = 0.0
    for page_id in page_ids:
        page = pages.get(page_id)
        if page is None:
            continue
        fetch = attempts * page.timeout + (RETRY_BUDGET if attempts > 1 else 0.0)
        if page.fetch != "http":
            fetch += LAUNCH_TIMEOUT + 2 * (page.timeout + SETTLE_LIMIT)
        worst = max(worst, 2 * fetch)
    return worst + RECORD_WAIT + STALL_SLACK


def process_identity(pid: int) -> dict[str, str] | None:
    """What tells process `pid` from a later one given the same pid: boot, pid namespace, start.

    None where /proc does not say (not Linux); `health` then judges by age alone.
    """
    boot = boot_id()
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # Field 22 is the start time in clock ticks since boot; the name before it may hold spaces.
    fields = stat.rsplit(")", 1)[-1].split()
    if boot is None or len(fields) < 20:
        return None
    return {"boot_id": boot, "pid_ns": pid_ns, "started": fields[19]}


def _still_running(pid: object, recorded: object) -> bool | None:
    """Whether the process that wrote the heartbeat runs; None when this process cannot tell.

    Only a process on the same boot and in the same pid namespace can look it up;
    a pid now used by a process that started at another time is not it.
    """
    if not isinstance(pid, int) or not isinstance(recorded, dict):
        return None
    now = process_identity(pid)
    if now is None:
        here = process_identity(os.getpid())
        same_place = here is not None and all(
            here[key] == recorded.get(key) for key in ("boot_id", "pid_ns")
        )
        return False if same_place else None
    if any(now[key] != recorded.get(key) for key in ("boot_id", "pid_ns")):
        return None
    return now["started"] == recorded.get("started")


def first_delay(interval: float, index: int, count: int, since_last: float | None) -> float:
    """Seconds until a page's first check in this run.

    Pages share the first min(interval, STAGGER_MAX) seconds in slots, with
    random jitter inside each slot; a page polled recently waits out the rest of
    its interval instead.
    """
    spread = min(interval, STAGGER_MAX)
    slot = spread * (index + random.random()) / max(count, 1)
    if since_last is None:
        return slot
    # A last check "in the future" was stamped before the wall clock went back: it
    # tells nothing about how long ago it was, so the page waits one interval at most.
    return max(slot, interval - max(since_last, 0.0))


def last_checks(data_dir: Path, page_ids: Sequence[str]) -> dict[str, datetime]:
    """When each page was last polled (success or failure), from the store."""
    if not page_ids:
        return {}
    found: dict[str, datetime] = {}
    try:
        with Store(data_dir) as store:
            for page_id in page_ids:
                times = [store.page_state(page_id).get("last_ok_at")]
                times += [o.get("at") for o in store.outcomes(page_id)[-1:]]
                stamps = [parse_iso(t) for t in times if t]
                if stamps:
                    found[page_id] = max(stamps)
    except Exception:
        log.exception("could not read when pages were last checked; starting them all soon")
        return {}
    return found


def boot_id() -> str | None:
    """This boot's id: two monotonic readings are comparable only when it matches."""
    try:
        return BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return None


def heartbeat_age(beat: Mapping[str, Any], at: datetime) -> float:
    """Seconds since the heartbeat was written, on the monotonic clock when it can be.

    The wall clock can step back (then an old heartbeat looks fresh, even from
    the future) or forward; the monotonic clock of the same boot cannot.
    """
    ticks, process = beat.get("monotonic"), beat.get("process")
    written_on = process.get("boot_id") if isinstance(process, dict) else None
    if isinstance(ticks, int | float) and written_on and written_on == boot_id():
        return time.monotonic() - ticks
    return abs((utcnow() - at).total_seconds())


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one.

    No fsync: a heartbeat lost in a power cut is simply stale, which is the truth.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def health(data_dir: Path, max_age: float | None = None) -> tuple[bool, str]:
    """Is a `policywatch run` alive on this data dir, and does its store open?

    Unhealthy when the heartbeat is missing, unreadable, written by a run that
    stopped or whose process is gone (killed -9: it wrote no stop), when the
    watchdog found its work stuck, when it is older than `max_age` seconds
    (default DEFAULT_MAX_AGE), when the work in flight has finished no page for
    that long, or when the store does not open. Returns (ok, a sentence saying why).
    """
    limit = DEFAULT_MAX_AGE if max_age is None else max_age
    path = Path(data_dir) / HEARTBEAT
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
        at = parse_iso(beat["at"])
    except FileNotFoundError:
        return False, (
            f"no heartbeat at {path}: `policywatch run` is not running on this data dir "
            "(or -d/--data-dir, $POLICYWATCH_DATA point elsewhere)"
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"heartbeat {path} is unreadable: {exc}"
    pid = beat.get("pid")
    if beat.get("stopped_at"):
        return False, f"`policywatch run` (pid {pid}) stopped at {beat['stopped_at']}"
    now = utcnow()
    age = heartbeat_age(beat, at)
    if _still_running(pid, beat.get("process")) is False:
        return False, (
            f"`policywatch run` (pid {pid}) is not running: it ended without stopping "
            f"(killed or crashed) after its last heartbeat {age:.0f} s ago; start it again "
            "(restart the container or service) and look at its log for why it ended"
        )
    stuck = beat.get("stuck")
    if stuck:
        return False, (
            f"`policywatch run` (pid {pid}) is stuck: no page finished for longer than any "
            f"page may take; waiting on {', '.join(map(str, stuck))}; "
            "look at its log, then restart it"
        )
    if age > limit:
        return False, (
            f"last heartbeat {age:.0f} s ago (limit {limit:.0f} s): "
            f"`policywatch run` (pid {pid}) is stuck or gone"
        )
    working, idle = beat.get("working_since"), beat.get("idle_seconds")
    if working and not isinstance(idle, int | float):  # a heartbeat from before idle_seconds
        idle = (now - parse_iso(working)).total_seconds() - age
    if working and idle + age > limit:
        return False, f"work in flight has finished no page since {working} (limit {limit:.0f} s)"
    try:
        with Store(Path(data_dir)) as store:
            store.page_ids()
    except Exception as exc:
        return False, f"the store in {data_dir} does not open: {exc}"
    last = beat.get("last_check_at") or "not yet"
    upcoming = beat.get("next_check_at") or "none scheduled"
    return True, (
        f"pid {pid}, heartbeat {age:.0f} s ago, {beat.get('pages')} pages, "
        f"last check {last}, next {upcoming}"
    )
