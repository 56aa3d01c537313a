"""How fast the web view answers on real sizes: 1,000 watches, 100,000 stored versions.

Builds a data directory synthetically (fast): twelve variants of a Code of Conduct page,
each watch cycling through them for 100 versions, so every version is a real change with a
real stored Document. Then it times, through the WSGI application exactly as `serve` calls
it, the overview and the first page of the timeline, next to `json.dumps` of the same rows
in the same run (the floor any renderer pays for the data), and reports ms and the ratio.
Goal: each page under 200 ms. Nothing is asserted; the figures are printed.

    python bench/bench_web.py                          # 1,000 watches x 100 versions
    python bench/bench_web.py --watches 100 --versions 20   # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policywatch.clock import iso
from policywatch.content import Document, Snapshot
from policywatch.document.extract import extract_document
from policywatch.history.page import PageFiles, Row
from policywatch.history.store import Store
from policywatch.models import PageSpec, sha256_hex
from policywatch.web.app import WebApp

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 1, 1, tzinfo=UTC)
VARIANTS = 12
GOAL_MS = 200.0


def variants() -> list[tuple[bytes, Document]]:
    """Twelve readings of the page, each with one sentence reworded."""
    html = (ROOT / "tests" / "fixtures" / "conduct-v1.html").read_text("utf-8")
    page = PageSpec(id="bench", url="https://example.com/", select="#full-help-page")
    out = []
    for n in range(VARIANTS):
        text = html.replace("between 4 and 30 days", f"between {n + 2} and {30 + n} days")
        out.append((text.encode(), extract_document(text, page, page.url)))
    return out


def build(data: Path, watches: int, versions: int) -> None:
    pool = variants()
    markets = ("US", "UK", "DE", "FR", "IT", "ES", "JP", "CA", "MX", "IN")
    store = Store(data)
    stored: list[Snapshot] = []
    for n, (raw, doc) in enumerate(pool):  # blobs once, through the Store
        at = iso(T0 + timedelta(minutes=n))
        snap = Snapshot(
            store.new_snapshot_id("seed", doc.digest, at),
            "seed",
            doc.digest,
            at,
            at,
            "https://example.com/",
            "",
            "",
            doc.title,
            {},
            dict(doc.metadata),
        )
        stored.append(store.record_snapshot(snap, raw, doc))
    for w in range(watches):
        page_id = f"policy-{w // len(markets):03d}@{markets[w % len(markets)]}"
        first = stored[w % VARIANTS]
        at = iso(T0)
        snap = _copy(first, page_id, 0, at, markets[w % len(markets)])
        store.record_snapshot(snap, b"", pool[w % VARIANTS][1])
        with store.lock():
            files = PageFiles(data, page_id)
            for n in range(1, versions):
                base = stored[(w + n) % VARIANTS]
                when = T0 + timedelta(hours=n, minutes=w)
                files.insert(Row(when, _copy(base, page_id, n, iso(when), snap.marketplace)))
            files.save()


def _copy(base: Snapshot, page_id: str, n: int, at: str, market: str | None) -> Snapshot:
    return Snapshot(
        sha256_hex(f"{page_id} {n}"),
        page_id,
        base.digest,
        at,
        at,
        base.url,
        base.raw_key,
        base.doc_key,
        base.title,
        dict(base.section_digests),
        dict(base.metadata),
        "fetch",
        market,
    )


def call(app: WebApp, path: str) -> bytes:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "HTTP_HOST": "b"}
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h: status.append(s)))
    assert status == ["200 OK"], status
    return body


def timed(work: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def overview_rows(app: WebApp) -> list[dict[str, Any]]:
    return [
        {
            "page": w.page_id,
            "title": w.title,
            "market": w.marketplace,
            "state": w.state,
            "since": w.since,
            "last_check": w.last_check,
            "last_change": w.last_change
            and [w.last_change.at, w.last_change.severity, w.last_change.first],
        }
        for w in app.desk.watches()
    ]


def timeline_rows(app: WebApp) -> list[dict[str, Any]]:
    return [
        {
            "at": c.at,
            "severity": c.severity,
            "page": c.page_id,
            "sections": c.sections,
            "first": c.first,
            "stated": c.stated,
        }
        for c in app.desk.timeline()[:50]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--watches", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        build(data, args.watches, args.versions)
        print(
            f"built {args.watches} watches x {args.versions} versions "
            f"in {time.perf_counter() - start:.1f} s"
        )
        app = WebApp(data)
        cold = timed(lambda: call(app, "/timeline"), 1)
        print(f"first request (reads every history; gists only for the rows shown): {cold:.0f} ms")
        failed = False
        for name, path, rows in (
            ("overview", "/", overview_rows),
            ("timeline", "/timeline", timeline_rows),
        ):
            page = timed(lambda p=path: call(app, p), args.repeat)
            floor = timed(lambda r=rows: json.dumps(r(app)), args.repeat)
            verdict = "ok" if page < GOAL_MS else "OVER GOAL"
            failed |= page >= GOAL_MS
            print(
                f"{name:9} {page:7.1f} ms   json.dumps of the same rows {floor:6.1f} ms   "
                f"ratio {page / floor:5.2f}   goal < {GOAL_MS:.0f} ms: {verdict}"
            )
        one = next(p for p in app.desk.page_ids() if p != "seed")
        later = app.desk.snapshots(one)[-1]
        with Store(data) as store, store.lock():
            files = PageFiles(data, one)
            files.versions()
            when = T0 + timedelta(days=3650)
            files.insert(
                Row(
                    when,
                    _copy(app.desk.snapshots("seed")[0], one, 10**6, iso(when), later.marketplace),
                )
            )
            files.save()
        after = timed(lambda: call(app, "/timeline"), 1)
        print(f"timeline after `run` stored one new version: {after:.0f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
