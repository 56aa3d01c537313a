"""How fast `policywatch check` reads JavaScript-built pages, next to the least a browser must do.

Pages that only exist after their scripts run (Seller Central help) are read
with a headless Chromium. At each concurrency (1, 4 and 8 pages at once) two
contenders poll the same N loopback pages (bench/js_pages.py), interleaved so a
noisy machine hurts both alike:

* the floor: the same Chromium with the same flags and as many tabs as pages at
  once; per page only goto, wait for the selector, read the container's HTML;
* policywatch: `check_pages` in-process with every page `fetch: browser` and
  `browser_concurrency` set, its browser kept between cycles as the daemon keeps it.

Reported per contender: pages/s (median of the runs), the ratio of policywatch's
median time to the floor's (goal: at most 1.2) and the peak resident memory of
the browser's process tree (the browser and every helper it started).

    python bench/bench_browser.py                       # 100 pages, 3 runs each, c = 1, 4, 8
    python bench/bench_browser.py --pages 20 --repeat 1 --concurrency 4   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import js_pages
import pages
import yaml

from policywatch.fetch.browser import PROCESS_TAG_ENV, BrowserFetcher
from policywatch.fetch.chromium import CHROMIUM_ARGS, chromium_path
from policywatch.history.store import Store
from policywatch.models import Config
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from policywatch.watchlist.profiles import SELLER_CENTRAL

FLOOR_GOAL = 1.2  # policywatch may take at most this many floors
TIMEOUT = 30.0
MEMORY_POLL = 0.05  # seconds between two looks at the browser's memory


class BenchError(Exception):
    """A contender did not read every page, so its time would mean nothing."""


# --------------------------------------------------------------------------- memory


def _tree_rss(tag: bytes) -> int:
    """Bytes resident in the processes carrying `tag` in their environment and their descendants."""
    parents: dict[int, int] = {}
    roots: set[int] = set()
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
            if tag in (entry / "environ").read_bytes().split(b"\0"):
                roots.add(pid)
        except OSError:
            continue
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1]) * 1024
    tree, grew = set(roots), True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree)


class PeakMemory:
    """Samples the browser tree's RSS in the background; `peak` is the largest seen."""

    def __init__(self, tag: str) -> None:
        self.tag = f"{PROCESS_TAG_ENV}={tag}".encode()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(MEMORY_POLL):
            self.peak = max(self.peak, _tree_rss(self.tag))


# --------------------------------------------------------------------------- contenders


@dataclass
class Contender:
    name: str
    tag: str  # PROCESS_TAG_ENV of its browser, to measure its memory
    cycle: Callable[[], None]
    times: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)

    def timed(self) -> None:
        with PeakMemory(self.tag) as memory:
            started = time.perf_counter()
            self.cycle()
            self.times.append(time.perf_counter() - started)
        self.peaks.append(memory.peak)


class Floor:
    """goto, wait for the selector, read its HTML: `concurrency` tabs of one Chromium."""

    def __init__(self, urls: Sequence[str], concurrency: int) -> None:
        self.urls = urls
        self.concurrency = concurrency
        self.tag = secrets.token_hex(8)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(
            executable_path=chromium_path(),
            args=list(CHROMIUM_ARGS),
            env={**os.environ, PROCESS_TAG_ENV: self.tag},
        )
        context = await self.browser.new_context()
        self.tabs = [await context.new_page() for _ in range(self.concurrency)]

    def cycle(self) -> None:
        self.loop.run_until_complete(self._cycle())

    async def _cycle(self) -> None:
        queue = list(reversed(self.urls))

        async def worker(tab: object) -> None:
            while queue:
                url = queue.pop()
                await tab.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT * 1000)  # type: ignore[attr-defined]
                html = await tab.inner_html(pages.SELECT, timeout=TIMEOUT * 1000)  # type: ignore[attr-defined]
                if "<h1>" not in html:
                    raise BenchError(f"floor: no article in {url}")

        await asyncio.gather(*(worker(tab) for tab in self.tabs))

    def close(self) -> None:
        async def stop() -> None:
            await self.browser.close()
            await self.playwright.stop()

        self.loop.run_until_complete(stop())
        self.loop.close()


def policywatch_cycle(
    config: Config, data_dir: Path, browser: BrowserFetcher, expect: str = "unchanged"
) -> None:
    """One poll as the `policywatch run` loop makes it, with the browser it keeps."""
    with Store(data_dir) as store, store.lock():
        report = check_pages(config, store, browser=browser)
    wrong = [o for o in report.outcomes if o.status != expect]
    if wrong or len(report.outcomes) != len(config.pages):
        first = wrong[0] if wrong else None
        raise BenchError(f"policywatch: {len(wrong)} pages not {expect!r}; first: {first}")


# --------------------------------------------------------------------------- set-up


def page_server(count: int) -> AbstractContextManager[str]:
    """The bench's pages served from a child process (see pages.child_server)."""
    return pages.child_server(Path(__file__).with_name("js_pages.py"), count)


def write_watchlist(path: Path, urls: Sequence[str], concurrency: int) -> None:
    document = {
        "defaults": {"allow_private": True, "browser_concurrency": concurrency},
        "pages": [
            {"id": f"page-{i:04d}", "url": url, "profile": SELLER_CENTRAL.name, "fetch": "browser"}
            for i, url in enumerate(urls)
        ],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def measure(urls: Sequence[str], concurrency: int, repeat: int, work: Path) -> dict:
    """Both contenders at one concurrency, interleaved, first one then the other leading."""
    watchlist, data_dir = work / f"watchlist-{concurrency}.yaml", work / f"data-{concurrency}"
    write_watchlist(watchlist, urls, concurrency)
    config = load_config(watchlist)
    floor = Floor(urls, concurrency)
    with BrowserFetcher(config.defaults) as browser:
        try:
            policywatch_cycle(config, data_dir, browser, expect="new")  # the first versions
            floor.cycle()  # both warm
            contenders = [
                Contender("floor", floor.tag, floor.cycle),
                Contender(
                    "policywatch",
                    browser.process_tag,
                    lambda: policywatch_cycle(config, data_dir, browser),
                ),
            ]
            for run in range(repeat):
                for contender in contenders[run % 2 :] + contenders[: run % 2]:
                    contender.timed()
        finally:
            floor.close()
    rows = {
        c.name: {
            "pages_per_s": round(len(urls) / statistics.median(c.times), 2),
            "median_s": round(statistics.median(c.times), 3),
            "runs_s": [round(t, 3) for t in c.times],
            "peak_rss_mb": round(max(c.peaks) / 2**20),
        }
        for c in contenders
    }
    ratio = rows["policywatch"]["median_s"] / rows["floor"]["median_s"]
    return {"concurrency": concurrency, "results": rows, "x_floor": round(ratio, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100, help="pages to serve and poll (100)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender (3)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 4, 8], help="pages at once (1 4 8)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("no Chromium found: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp, page_server(args.pages) as base:
        urls = [pages.page_url(base, i) for i in range(args.pages)]
        page_kb = round(len(js_pages.split_page(0)[0]) / 1024)
        report = [measure(urls, c, args.repeat, Path(tmp)) for c in args.concurrency]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.pages} JavaScript-built pages ({page_kb} KB shell + article), {args.repeat} runs")
    print(f"{'pages at once':<14}{'contender':<13}{'pages/s':>9}{'median s':>10}{'peak MB':>9}")
    for level in report:
        for name, row in level["results"].items():
            print(
                f"{level['concurrency']:<14}{name:<13}{row['pages_per_s']:>9.2f}"
                f"{row['median_s']:>10.2f}{row['peak_rss_mb']:>9}"
            )
        met = "met" if level["x_floor"] <= FLOOR_GOAL else "NOT met"
        print(f"{'':<14}x floor {level['x_floor']:.2f} (goal {FLOOR_GOAL}: {met})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
