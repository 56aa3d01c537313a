"""Whether one check cycle's store work grows with the stored history, and how the store grows.

A cron `check` opens the store, and for each unchanged page reads its latest version
and state, moves last_seen, sets its state and writes at the end. This runs exactly
that through `Store` (fresh per cycle, as each `check` process is) on 50 pages holding
10 versions in all, and on 50 pages holding 10,000 (60-section pages), interleaved so
a noisy machine hurts both alike, and reports the median ratio (goal: at most 1.1).
Fetching and parsing are left out: they cost the same in both and would hide a store
that grows. Then 1,000 unchanged polls of 50 pages must grow the directory < 100 KB.

    python bench/bench_store.py            # 15 interleaved rounds
    python bench/bench_store.py --rounds 3 # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policywatch.clock import iso
from policywatch.models import Snapshot, sha256_hex
from policywatch.store import Store
from policywatch.store_page import PageFiles, Row

PAGES = 50
SECTIONS = 60
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def seed(data_dir: Path, versions: int) -> None:
    """`versions` versions spread over the pages, written as the store lays them out."""
    store = Store(data_dir)
    raw = store.put_blob(b"<html>page</html>")
    doc = store.put_blob(b'{"title":"page"}')
    with store.lock():
        for p in range(PAGES):
            page_id = f"page-{p:02d}"
            page = PageFiles(data_dir, page_id)
            page.versions()
            count = versions // PAGES + (1 if p < versions % PAGES else 0)
            for n in range(max(count, 1)):
                at = iso(T0 + timedelta(hours=n))
                digest = sha256_hex(f"{page_id} {n}")
                sections = {
                    f"Policy > Section {s} about a rule": sha256_hex(f"{n}{s}")
                    for s in range(SECTIONS)
                }
                snap = Snapshot(
                    id=sha256_hex(f"{page_id}{n}"),
                    page_id=page_id,
                    digest=digest,
                    captured_at=at,
                    last_seen_at=at,
                    url=f"https://example.test/{page_id}",
                    raw_key=raw,
                    doc_key=doc,
                    title="Policy",
                    section_digests=sections,
                )
                page.insert(Row(T0 + timedelta(hours=n), snap))
            page.save()
            store._page_list.insert({"page_id": page_id})
        store._index.dirty = True


def cycle(data_dir: Path, now: datetime) -> float:
    """One unchanged check cycle's store work; returns seconds taken."""
    start = time.perf_counter()
    with Store(data_dir) as store, store.lock():
        for page_id in store.page_ids():
            latest = store.latest(page_id)
            store.page_state(page_id)
            store.touch(page_id, latest.id, now)
            store.set_page_state(page_id, consecutive_failures=0, last_ok_at=iso(now), etag=None)
    return time.perf_counter() - start


def size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp, "small"), Path(tmp, "large")
        seed(small, 10)
        seed(large, 10_000)
        ratios = []
        for n in range(args.rounds):
            now = T0 + timedelta(days=400, minutes=n)
            a, b = cycle(small, now), cycle(large, now)
            ratios.append(b / a)
        ratio = statistics.median(ratios)
        print(f"cycle with 10,000 versions / with 10: median {ratio:.3f} (goal <= 1.1)")
        before = size(small)
        for n in range(1000):
            cycle(small, T0 + timedelta(days=500, minutes=n))
        growth = size(small) - before
        print(
            f"growth over 1,000 unchanged polls of {PAGES} pages: {growth / 1000:.1f} KB "
            "(goal < 100 KB)"
        )
    return 0 if ratio <= 1.1 and growth < 100_000 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
