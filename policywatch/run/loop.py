"""`policywatch run`: the loop a container keeps alive for months.

The main thread only keeps time: it marks pages due on their own intervals,
notices watchlist edits, writes the heartbeat and answers SIGTERM. The actual
work (one `check_pages` call for every page due, then alert delivery) runs in a
worker thread, which takes the store lock only to read and record (never across
a fetch), so a slow fetch never delays a stop nor locks out a cron `check`, and
a cron `check` holding the lock only postpones work to the next turn.

The heartbeat is rewritten on every turn; `run.daemon.health` judges it.

The wall clock can step (NTP, a VM resumed, an operator), and a page due in ten
minutes must not wait a day because the clock went back a day: `schedule` keeps
wall-clock times, so each turn moves every job by any step the wall clock made
against the monotonic clock (`follow_clock_steps`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import schedule

from policywatch import logs
from policywatch.clock import iso, utcnow
from policywatch.errors import StoreError
from policywatch.run.daemon import (
    CLOCK_STEP,
    DELIVERY_EVERY,
    HEARTBEAT,
    LOOP_SLEEP,
    STOP_GRACE,
    Work,
    first_delay,
    last_checks,
    process_identity,
    stall_limit,
    write_atomic,
)
from policywatch.run.digests import LoopDigests
from policywatch.run.reload import WatchlistWatcher
from policywatch.watchlist.load import load_config

log = logging.getLogger("policywatch.daemon")  # the name operators filter on


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
        self.watcher = WatchlistWatcher(config_path, env, stop)
        self.config = load_config(config_path, env)
        logs.add_secrets(route.url for route in self.config.routes)
        # page id -> (interval, when it is next due on the monotonic clock)
        self.scheduler = schedule.Scheduler()
        self.jobs: dict[str, tuple[float, schedule.Job]] = {}  # page id -> (interval, job)
        self.due: set[str] = set()
        self.deliver_due = True  # alerts left pending by a previous run go out first
        self.digests = LoopDigests()
        self.scheduler.every(DELIVERY_EVERY).seconds.do(self._want_delivery)
        self.clock_offset = clock_offset()
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
        for skipped in self.config.skipped_routes:
            log.warning(skipped.said)
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
        # Before a reload schedules new pages from the stepped clock, so they move only once.
        self.clock_offset = follow_clock_steps(self.scheduler, self.clock_offset)
        if self.work is None:
            self._maybe_reload()
        self.scheduler.run_pending()
        if self.work is None:
            self.deliver_due |= self.digests.turn(self.config, self.data_dir)
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

    def _want_delivery(self) -> None:
        self.deliver_due = True

    def _mark_due(self, page_id: str) -> None:
        self.due.add(page_id)

    def _schedule_pages(self) -> None:
        """One job per page on its own interval; changed or new pages get a staggered start.

        A page whose interval did not change keeps its place, so an edit of the
        watchlist does not re-poll every page at once. A new page starts within
        min(interval, STAGGER_MAX) seconds, or when its interval since the last
        check recorded in the store runs out, so a restart loop cannot hammer a site.
        """
        wanted = {page.id: page.interval for page in self.config.pages}
        for page_id, (interval, job) in list(self.jobs.items()):
            if wanted.get(page_id) != interval:
                self.scheduler.cancel_job(job)
                del self.jobs[page_id]
        fresh = [page for page in self.config.pages if page.id not in self.jobs]
        last = last_checks(self.data_dir, [page.id for page in fresh])
        now, local_now = utcnow(), datetime.now()  # `schedule` keeps naive local times
        for index, page in enumerate(fresh):
            since = last.get(page.id)
            elapsed = (now - since).total_seconds() if since else None
            delay = first_delay(page.interval, index, len(fresh), elapsed)
            job = self.scheduler.every(page.interval).seconds.do(self._mark_due, page.id)
            job.next_run = local_now + timedelta(seconds=delay)
            self.jobs[page.id] = (page.interval, job)

    # ------------------------------------------------------------------ reload

    def _maybe_reload(self) -> None:
        """Load the watchlist again when its content changed; keep the old one if invalid."""
        config = self.watcher.edited()
        if config is None:
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
        upcoming = [job.next_run for _, job in self.jobs.values() if job.next_run]
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
            # The same on the monotonic clock, which health trusts over the wall clock.
            "idle_seconds": round(ticks - work.progress_clock, 1) if work else None,
            "working_on": work.pages if work else [],
            # `schedule` keeps naive local times: the wait, added to UTC now, survives DST.
            "next_check_at": (
                iso(now + max(min(upcoming) - datetime.now(), timedelta(0)), "seconds")
                if upcoming
                else None
            ),
            "stopped_at": iso(utcnow(), "seconds") if stopped else None,
        }
        write_atomic(self.data_dir / HEARTBEAT, json.dumps(beat, indent=1).encode())


_EPOCH = datetime(1970, 1, 1)  # naive, like the local times `schedule` keeps


def clock_offset() -> float:
    """How far local wall time is ahead of the monotonic clock.

    It moves when the wall clock steps, and when daylight saving time begins or ends:
    `schedule` compares naive local times, so both are steps for it.
    """
    return (datetime.now() - _EPOCH).total_seconds() - time.monotonic()


def follow_clock_steps(scheduler: schedule.Scheduler, offset: float) -> float:
    """Move every job by the wall clock's step since `offset`; returns the offset now.

    `schedule` keeps wall-clock times. Without this, a clock set back a day would
    hold every poll for a day, and a jump forward would fire them all at once; the
    monotonic clock cannot step, so the two drifting apart is a step (slow NTP
    slewing stays far below CLOCK_STEP per turn).
    """
    now = clock_offset()
    step = now - offset
    if abs(step) >= CLOCK_STEP:
        shift = timedelta(seconds=step)
        for job in scheduler.jobs:
            if job.next_run is not None:
                job.next_run += shift
            if job.last_run is not None:
                job.last_run += shift
        log.warning(
            "the wall clock stepped; the schedule moved with it", extra={"step": round(step)}
        )
    return now
