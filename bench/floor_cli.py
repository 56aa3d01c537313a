"""The floor of bench_check.py, and the same as a command: the least a cron job can take.

`python bench/floor_cli.py CONCURRENCY URLS_FILE` GETs every URL of the file (one per
line) with a plain `requests.Session`, CONCURRENCY at once, parses each body once with
`lxml.html.fromstring`, and exits. It imports nothing else, so its time is interpreter
start-up, those two imports and the floor's cycle: no command that downloads and
parses every page can finish sooner, whatever it does with them afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import lxml.html
import requests
from requests.adapters import HTTPAdapter

TIMEOUT = 30.0


class BenchError(Exception):
    """A contender did not see 'nothing changed', so its time would be meaningless."""


def floor_cycle(urls: Sequence[str], concurrency: int) -> None:
    """Plain requests + one lxml parse per page: no poller of HTML pages can do less."""
    with requests.Session() as session:
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
        session.mount("http://", adapter)

        def one(url: str) -> None:
            response = session.get(url, timeout=TIMEOUT)
            if response.status_code != 200:
                raise BenchError(f"floor: {url} answered {response.status_code}")
            lxml.html.fromstring(response.content)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, urls))


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: python bench/floor_cli.py CONCURRENCY URLS_FILE", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as lines:
        urls = [line.strip() for line in lines if line.strip()]
    try:
        floor_cycle(urls, int(argv[0]))
    except BenchError as exc:
        print(f"floor_cli: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
