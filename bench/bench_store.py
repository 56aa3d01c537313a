"""Whether a check cycle costs more with a long stored history, and how the store grows.

Fifty loopback pages (bench/pages.py, served from a child process) are checked by
`check_pages` as the `policywatch run` loop does, against two data directories that
differ only in history: one version per page, and 10,000 versions in all (the pages'
own first version after 199 older 60-section versions each). Cycles alternate
between the two so a noisy machine hurts both alike; the median of the per-round
ratios is the figure (goal: at most 1.1). The same is reported for the store's part
alone (what fetching and parsing would otherwise dilute). Then `--polls` unchanged
cycles must grow the directory by less than 100 KB.

    python bench/bench_store.py                        # 9 rounds, 1,000 polls: many minutes
    python bench/bench_store.py --rounds 3 --polls 50  # smoke run
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench_check
import pages

from policywatch.clock import iso
from policywatch.content import Snapshot
from policywatch.history.page import PageFiles, Row
from policywatch.history.store import Store
from policywatch.models import sha256_hex
from policywatch.watchlist.load import load_config

PAGES = 50
VERSIONS = 10_000
SECTIONS = 60
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def pad_history(data_dir: Path, total: int) -> None:
    """Put older versions before every page's stored one until the store holds `total`."""
    store = Store(data_dir)
    with store.lock():
        for page_id in store.page_ids():
            page = PageFiles(data_dir, page_id)
            rows = page.versions()
            kept = rows[-1].snap
            for n in range(total // len(store.page_ids()) - len(rows)):
                at = T0 + timedelta(hours=n)
                snap = Snapshot(
                    id=sha256_hex(f"{page_id} {n}"),
                    page_id=page_id,
                    digest=sha256_hex(f"{page_id} digest {n}"),
                    captured_at=iso(at),
                    last_seen_at=iso(at),
                    url=kept.url,
                    raw_key=kept.raw_key,
                    doc_key=kept.doc_key,
                    title=kept.title,
                    section_digests={
                        f"Policy > Section {s} about a rule": sha256_hex(f"{n} {s}")
                        for s in range(SECTIONS)
                    },
                )
                page.insert(Row(at, snap), n)
            page.save()


def store_cycle(data_dir: Path) -> None:
    """The store's part of an unchanged cycle, exactly the calls check_pages makes: the lock
    and the write once per page."""
    now = datetime.now(UTC)
    with Store(data_dir) as store:
        for page_id in store.page_ids():
            with store.lock():
                latest = store.latest(page_id)
                store.page_state(page_id)
                store.touch(page_id, latest.id, now)
                store.set_page_state(page_id, consecutive_failures=0, last_ok_at=iso(now))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def median_ratio(rounds: int, long: Callable[[], object], short: Callable[[], object]) -> float:
    return statistics.median(timed(long) / timed(short) for _ in range(rounds))


def size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--polls", type=int, default=1000, help="polls for growth (default 1000)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp,
        bench_check.page_server(PAGES) as base,
    ):
        work = Path(tmp)
        watchlist, short, long = work / "watchlist.yaml", work / "short", work / "long"
        urls = [pages.page_url(base, i) for i in range(PAGES)]
        bench_check.write_watchlist(watchlist, urls, None)
        config = load_config(watchlist)
        bench_check.policywatch_cycle(config, short, expect="new")
        shutil.copytree(short, long)
        pad_history(long, VERSIONS)
        stored = sum(len(Store(long).snapshots(p)) for p in Store(long).page_ids())

        def cycle(data_dir: Path) -> Callable[[], None]:
            return lambda: bench_check.policywatch_cycle(config, data_dir)

        check = median_ratio(args.rounds, cycle(long), cycle(short))
        store_only = median_ratio(
            args.rounds * 3, lambda: store_cycle(long), lambda: store_cycle(short)
        )
        print(
            f"check cycle of {PAGES} pages, {stored:,} versions stored / {PAGES}: "
            f"median {check:.3f} (goal <= 1.1)"
        )
        print(f"the store's part of that cycle alone: median {store_only:.3f}")
        before = size(short)
        for _ in range(args.polls):
            bench_check.policywatch_cycle(config, short)
        growth = size(short) - before
        print(
            f"growth over {args.polls:,} unchanged polls of {PAGES} pages: "
            f"{growth / 1000:.1f} KB (goal < 100 KB)"
        )
    return 0 if check <= 1.1 and growth < 100_000 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
