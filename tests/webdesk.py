"""A seller's desk with something on it: a data directory filled by the real `check`.

Two marketplaces of the Code of Conduct on loopback, then three edits of the US page: a new
sentence carrying `<script>` (attacker-controlled text), a time limit that changed and an
obligation that flipped. The web tests read this store through `serve` and `site`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import requests
import yaml

from policywatch.cli import main
from tests.pageserver import PageServer
from tests.seller import CONDUCT, SELLER_CENTRAL_PARTS, write_watchlist

HELP_PATH = "/help/hub/reference/external/G1801"
SCRIPT_SENTENCE = "Never paste <script>alert('owned')</script> into a message."
REVIEW_WINDOW = "between 4 and 30 days"
UK_PAGE = CONDUCT.replace("<b>United States</b>", "<b>United Kingdom</b>")
EDITS = (
    # Written as text on the page (escaped in its HTML), so the extracted sentence holds a tag.
    ("<li>Not send unsolicited", f"<li>{escape(SCRIPT_SENTENCE)}</li>\n<li>Not send unsolicited"),
    (REVIEW_WINDOW, "between 5 and 21 days"),
    ("you may use that information only", "you must not use that information except"),
)


def desk_watchlist(
    tmp_path: Path,
    server: PageServer,
    base_url: str | None = None,
    notify: Sequence[Mapping[str, str]] = (),
) -> Path:
    entry = {
        "id": "conduct",
        "title": "Seller Code of Conduct",
        "url": server.url(HELP_PATH),
        **SELLER_CENTRAL_PARTS,
        "fetch": "http",
        "marketplaces": ["US", "UK"],
    }
    defaults = {"retries": 1, "timeout": 5, **({"base_url": base_url} if base_url else {})}
    path = write_watchlist(tmp_path / "watchlist.yaml", [entry], notify=notify, defaults=defaults)
    rules = [{"name": "buyer-messaging", "severity": "critical", "terms": ["message"]}]
    config = yaml.safe_load(path.read_text(encoding="utf-8")) | {"rules": rules}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def check(config: Path, data: Path) -> None:
    assert main(["-q", "-c", str(config), "-d", str(data), "check", "--no-deliver"]) == 0


def fill_desk(tmp_path: Path, server: PageServer, edits: int = len(EDITS)) -> tuple[Path, Path]:
    """(watchlist, data dir) after a first check and `edits` edits of the US page."""
    config, data = desk_watchlist(tmp_path, server), tmp_path / "data"
    page = CONDUCT
    server.route(f"{HELP_PATH}?locale=en-US", page)
    server.route(f"{HELP_PATH}?locale=en-GB", UK_PAGE)
    check(config, data)
    for old, new in EDITS[:edits]:
        page = page.replace(old, new)
        server.route(f"{HELP_PATH}?locale=en-US", page)
        check(config, data)
    return config, data


class Serving:
    """`policywatch serve --port 0` as a real subprocess; `url` is where it said it listens."""

    def __init__(self, config: Path, data: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "policywatch", "-c", str(config), "-d", str(data)]
        self.proc = subprocess.Popen(
            [*command, "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it listens (or exits)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if found is None:
            self.stop()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.stderr.read()!r}")
        self.url = found.group(1)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=30, **kwargs)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
