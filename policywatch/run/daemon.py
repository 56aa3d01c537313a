"""`policywatch run`: the loop a container keeps alive for months, and its health check.

The main thread only keeps time: it marks pages due on their own intervals,
notices watchlist edits, writes the heartbeat and answers SIGTERM. The actual
work (one `check_pages` call for every page due, then alert delivery) runs in a
worker thread, which takes the store lock only to read and record (never across
a fetch), so a slow fetch never delays a stop nor locks out a cron `check`, and
a cron `check` holding the lock only postpones work to the next turn.

Health is judged from `heartbeat.json`, rewritten on every turn: fresh means
the loop is alive, the recorded process identity shows the writer still runs,
and `stuck` (set by the watchdog) or `working_since` (the start of the current
work or its last finished page) shows whether the work itself is stuck.

Scheduling and the heartbeat's age run on the monotonic clock: the wall clock
can step (NTP, a VM resumed, an operator), and a page due "at 10:00" must not
wait a day because the clock went back a day.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from policywatch import logs
from policywatch.alerts import notify
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.config import load_config
from policywatch.errors import ConfigError, StoreError, StoreLocked
from policywatch.fetch.browser import LAUNCH_TIMEOUT, SETTLE_LIMIT
from policywatch.fetch.http import RETRY_BUDGET
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec
from policywatch.run.check import RECORD_WAIT, PageOutcome, check_pages

log = logging.getLogger("policywatch.daemon")  # the name operators filter on

HEARTBEAT = "heartbeat.json"
PURPOSE = "policywatch run"  # shown to a `check` that finds the store locked
LOOP_SLEEP = 1.0  # seconds between turns: how soon an edit, a due page or a stop is noticed
LOCK_TIMEOUT = 2.0  # seconds to wait for the store before leaving the work to the next turn
DELIVERY_EVERY = 60  # seconds between retries of alerts still pending
STAGGER_MAX = 60.0  # first checks are spread over at most this many seconds
STOP_GRACE = 3.0  # seconds a stop waits for the work in flight before abandoning it
RELOAD_TIMEOUT = 10.0  # seconds a watchlist reload may take before the old one is kept
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # monotonic times compare within one boot
# `health` default: no heartbeat, or no finished page during work, for this long is unhealthy.
# One page is bounded by its timeouts and retries (a few minutes at worst); 10 min is beyond that.
DEFAULT_MAX_AGE = 600.0
# Set to a number of seconds to override the stall limit derived from the page timeouts.
STUCK_AFTER_ENV = "POLICYWATCH_STUCK_AFTER"
STALL_SLACK = 30.0  # seconds added to a page's worst case before its work counts as stuck

Fingerprint = tuple[int, int, str] | None  # mtime_ns, size, sha256 of the watchlist file


def run(
    config_path: Path,
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    stop_event: threading.Event | None = None,
) -> int:
    """Poll until SIGTERM/SIGINT (or `stop_event`); 0 on a clean stop.

    Raises ConfigError when the watchlist is invalid at start: there is no old
    configuration to fall back on, and the CLI turns that into exit 2.

    Without a `stop_event` the process is ours (the `policywatch run` command):
    if a fetch is still in flight after STOP_GRACE the process ends at once,
    because Python would otherwise wait at exit for the fetch threads, up to
    their full timeouts. The store stays consistent: each write is atomic.
    """
    stop = stop_event if stop_event is not None else threading.Event()
    loop = Loop(Path(config_path), Path(data_dir), env, stop)
    with _stop_on_signals(stop):
        code = loop.serve()
    if loop.abandoned and stop_event is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without waiting for abandoned threads, logs written out first."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT only set the stop flag; the loop then winds down by itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in wanted}
    for sig in wanted:
        signal.signal(sig, lambda _signum, _frame: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
            notify.deliver_pending(store, self.config.routes, utcnow())
        except Exception:
            log.exception("alert delivery failed; pending alerts stay queued for the next try")


class Loop:
    """The scheduler, the watchlist watcher and the heartbeat of `policywatch run`."""

    def __init__(
        self,
        config_path: Path,
        data_dir: Path,
        env: Mapping[str, str] | None,
        stop: threading.Event,
    ) -> None:
        self.config_path = config_path
        self.data_dir = data_dir
        self.env = env
        self.stop = stop
        self.fingerprint = fingerprint(config_path)
        self.config = load_config(config_path, env)
        logs.add_secrets(route.url for route in self.config.routes)
        # page id -> (interval, when it is next due on the monotonic clock)
        self.jobs: dict[str, tuple[float, float]] = {}
        self.due: set[str] = set()
        self.deliver_due = True  # alerts left pending by a previous run go out first
        self.next_delivery = time.monotonic() + DELIVERY_EVERY
        self.work: Work | None = None
        self.abandoned = False  # the stop left work running in its thread
        self.heartbeat_failing = False
        self.store_busy = False
        self.last_check_at: datetime | None = None
        self.started_at = utcnow()
        self.stuck: list[str] = []  # pages of a batch the watchdog found making no progress
        self.identity = process_identity(os.getpid())

    # ------------------------------------------------------------------ the loop

    def serve(self) -> int:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._write_heartbeat()
        except OSError as exc:
            raise StoreError(
                f"cannot write to the data directory {self.data_dir}: {exc.strerror or exc}",
                hint="mount a volume writable by this user there (uid 10001 in the image), "
                "or choose another with -d/--data-dir",
            ) from exc
        self._schedule_pages()
        log.info(
            "started",
            extra={
                "pid": os.getpid(),
                "pages": len(self.config.pages),
                "config": str(self.config_path),
                "data": str(self.data_dir),
            },
        )
        while not self.stop.is_set():
            try:
                self._turn()
                self._beat()
            except Exception:
                log.exception("loop turn failed; trying again next turn")
            self.stop.wait(LOOP_SLEEP)
        return self._shutdown()

    def _turn(self) -> None:
        self._reap()
        self._watchdog()
        if self.work is None:
            self._maybe_reload()
        self._mark_due_pages()
        if self.work is None:
            self._start_work()

    def _start_work(self) -> None:
        """Hand the due pages (and delivery, after any check) to a worker, if there is work."""
        known = {page.id for page in self.config.pages}
        pages = sorted(self.due & known)
        deliver = bool(self.config.routes) and (self.deliver_due or bool(pages))
        self.due.clear()
        self.deliver_due = False
        if pages or deliver:
            self.work = Work(self.config, self.data_dir, pages, deliver)
            self.work.start()

    def _reap(self) -> None:
        """Collect finished work; locked-out work goes back in the queue for the next turn."""
        work = self.work
        if work is None or work.is_alive():
            return
        self.work = None
        if work.locked:
            self.due.update(work.pages)
            self.deliver_due = self.deliver_due or work.deliver
            if not self.store_busy:
                log.warning(
                    "store is locked by another policywatch (a cron `check`?); "
                    "due work waits for it",
                    extra={"pages": len(work.pages)},
                )
            self.store_busy = True
            return
        if self.store_busy:
            log.info("store free again; due work resumes")
            self.store_busy = False
        if work.checked_at is not None:
            self.last_check_at = work.checked_at

    def _watchdog(self) -> None:
        """Say loudly, once, when the work finished no page for longer than any page can take.

        Every fetch has a hard deadline, so this means a hang we did not foresee
        (a DNS lookup that never returns, a bug): the heartbeat names the pages
        and `health` fails, so the operator or the container runtime restarts us.
        """
        work = self.work
        if work is None or not work.is_alive():
            self.stuck = []
            return
        limit = stall_limit(self.config, work.pages, self.env)
        idle = time.monotonic() - work.progress_clock
        if idle <= limit:
            self.stuck = []
            return
        if not self.stuck:
            log.error(
                "work is stuck: no page finished for %.0f s (limit %.0f s); "
                "restart `policywatch run` if this lasts",
                idle,
                limit,
                extra={"stuck": ",".join(work.unfinished())},
            )
        self.stuck = work.unfinished()

    def _shutdown(self) -> int:
        log.info("stopping: no new work")
        if self.work is not None:
            self.work.join(STOP_GRACE)
            self.abandoned = self.work.is_alive()
            if self.abandoned:
                log.warning(
                    "abandoning the check in flight; the store stays consistent "
                    "(every version is written in one atomic step)",
                    extra={"pages": len(self.work.pages)},
                )
        self._beat(stopped=True)
        log.info("stopped")
        return 0

    # ------------------------------------------------------------------ scheduling

    def _mark_due_pages(self) -> None:
        """Queue every page (and the delivery retry) whose time has come on the monotonic clock.

        The next run is an interval from now, not from when it was due, so a loop
        that was held up (a long reload, a suspended VM) polls once, not in a burst.
        """
        now = time.monotonic()
        for page_id, (interval, due_at) in self.jobs.items():
            if due_at <= now:
                self.due.add(page_id)
                self.jobs[page_id] = (interval, now + interval)
        if self.next_delivery <= now:
            self.deliver_due = True
            self.next_delivery = now + DELIVERY_EVERY

    def _schedule_pages(self) -> None:
        """One job per page on its own interval; changed or new pages get a staggered start.

        A page whose interval did not change keeps its place, so an edit of the
        watchlist does not re-poll every page at once. A new page starts within
        min(interval, STAGGER_MAX) seconds, or when its interval since the last
        check recorded in the store runs out, so a restart loop cannot hammer a site.
        """
        wanted = {page.id: page.interval for page in self.config.pages}
        for page_id, (interval, _) in list(self.jobs.items()):
            if wanted.get(page_id) != interval:
                del self.jobs[page_id]
        fresh = [page for page in self.config.pages if page.id not in self.jobs]
        last = self._last_checks([page.id for page in fresh])
        now, ticks = utcnow(), time.monotonic()
        for index, page in enumerate(fresh):
            since = last.get(page.id)
            elapsed = (now - since).total_seconds() if since else None
            delay = first_delay(page.interval, index, len(fresh), elapsed)
            self.jobs[page.id] = (page.interval, ticks + delay)

    def _last_checks(self, page_ids: Sequence[str]) -> dict[str, datetime]:
        """When each page was last polled (success or failure), from the store."""
        if not page_ids:
            return {}
        found: dict[str, datetime] = {}
        try:
            with Store(self.data_dir) as store:
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

    # ------------------------------------------------------------------ reload

    def _maybe_reload(self) -> None:
        """Load the watchlist again when its content changed; keep the old one if invalid."""
        try:
            stat = self.config_path.stat()
        except OSError as exc:
            if self.fingerprint is not None:
                log.error(
                    "watchlist is unreadable; the previous one keeps running",
                    extra={"error": str(exc)},
                )
                self.fingerprint = None
            return
        if self.fingerprint and self.fingerprint[:2] == (stat.st_mtime_ns, stat.st_size):
            return
        current = fingerprint(self.config_path)
        if current is None or (self.fingerprint and current[2] == self.fingerprint[2]):
            self.fingerprint = current
            return
        self.fingerprint = current
        try:
            config = self._load_in_background()
        except ConfigError as exc:
            log.error(
                "watchlist not reloaded; the previous one keeps running",
                extra={"error": exc.message, "hint": exc.hint},
            )
            return
        before = {page.id for page in self.config.pages}
        after = {page.id for page in config.pages}
        logs.add_secrets(route.url for route in config.routes)
        self.config = config
        self._schedule_pages()
        log.info(
            "watchlist reloaded",
            extra={
                "pages": len(after),
                "added": ",".join(sorted(after - before)) or "-",
                "removed": ",".join(sorted(before - after)) or "-",
            },
        )

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
                loaded.append(load_config(self.config_path, self.env))
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
            raise ConfigError(f"reading it was given up: {why}", file=str(self.config_path))
        return loaded[0]

    # ------------------------------------------------------------------ heartbeat

    def _beat(self, stopped: bool = False) -> None:
        """Write the heartbeat; a failure is logged once, not on every turn."""
        try:
            self._write_heartbeat(stopped)
        except OSError as exc:
            if not self.heartbeat_failing:
                log.error("cannot write the heartbeat", extra={"error": str(exc)})
            self.heartbeat_failing = True
            return
        self.heartbeat_failing = False

    def _write_heartbeat(self, stopped: bool = False) -> None:
        work = self.work if self.work is not None and self.work.is_alive() else None
        now, ticks = utcnow(), time.monotonic()
        upcoming = [due_at for _, due_at in self.jobs.values()]
        beat: dict[str, Any] = {
            "pid": os.getpid(),
            "process": self.identity,
            "stuck": self.stuck,
            "at": iso(now, "seconds"),
            "monotonic": ticks,
            "started_at": iso(self.started_at, "seconds"),
            "config": str(self.config_path),
            "pages": len(self.config.pages),
            "last_check_at": iso(self.last_check_at, "seconds") if self.last_check_at else None,
            "working_since": iso(work.progress_at, "seconds") if work else None,
            "working_on": work.pages if work else [],
            "next_check_at": (
                iso(now + timedelta(seconds=max(0.0, min(upcoming) - ticks)), "seconds")
                if upcoming
                else None
            ),
            "stopped_at": iso(utcnow(), "seconds") if stopped else None,
        }
        write_atomic(self.data_dir / HEARTBEAT, json.dumps(beat, indent=1).encode())


def stall_limit(config: Config, page_ids: Sequence[str], env: Mapping[str, str] | None) -> float:
    """Seconds a batch may finish no page before the watchdog calls it stuck.

    The worst a healthy page can take: every attempt to its deadline and the
    waits between them, the browser too for `auto`/`browser` pages, all twice
    (the second look at a page that lost most sections), plus the wait to record
    it. `POLICYWATCH_STUCK_AFTER` overrides it.
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
            fetch += LAUNCH_TIMEOUT + page.timeout + SETTLE_LIMIT
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


def fingerprint(path: Path) -> Fingerprint:
    """mtime, size and content hash: the cheap pair is checked each turn, the hash on change."""
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, digest)


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
    working = beat.get("working_since")
    if working and (now - parse_iso(working)).total_seconds() > limit:
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
