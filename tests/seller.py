"""A seller at the keyboard: their watchlist, their data dir, and the `policywatch` they type.

Shared by the CLI stories so every test writes watchlists and reads output the
same way a seller does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from policywatch.cli import main
from policywatch.history.store import Store
from tests.pageserver import PageServer, fixture

CONDUCT = fixture("conduct-v1.html")
REWORDED = CONDUCT.replace(
    "<li>Not send unsolicited or inappropriate communications</li>",
    "<li>Not send unsolicited, promotional or inappropriate communications</li>",
)
# What the seller-central profile would select and drop, written out for loopback URLs.
SELLER_CENTRAL_PARTS = {
    "select": "#full-help-page",
    "remove": ["[hidden]", ".hh-scroll-to-top-box"],
}
INBOX = {"url": "json://127.0.0.1:9/", "name": "seller-inbox"}
QUICK = {"retries": 1, "timeout": 5}  # failing fetches fail fast


def pages_at(urls: Mapping[str, str]) -> list[dict[str, Any]]:
    """Watch entries for Seller Central-like pages at loopback URLs, over plain HTTP."""
    return [
        {"id": i, "url": u, **SELLER_CENTRAL_PARTS, "fetch": "http", "allow_private": True}
        for i, u in urls.items()
    ]


def write_watchlist(
    path: Path,
    pages: list[dict[str, Any]],
    *,
    notify: Sequence[Mapping[str, str]] = (INBOX,),
    defaults: Mapping[str, Any] = QUICK,
) -> Path:
    """A watchlist.yaml as a seller writes it; no watched-term rules unless a test adds them."""
    # The pages are served on loopback, which only `allow_private` pages may reach.
    config: dict[str, Any] = {
        "defaults": {"allow_private": True, **defaults},
        "pages": pages,
        "rules": [],
    }
    if notify:
        config["notify"] = [dict(route) for route in notify]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class Seller:
    """Types `policywatch -c watchlist.yaml -d data ...` and reads what it printed."""

    def __init__(self, tmp_path: Path, config: Path) -> None:
        self.config = config
        self.data = tmp_path / "data"

    def __call__(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-c", str(self.config), "-d", str(self.data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    def json(self, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
        code, out, err = self(capsys, *args, "--format", "json")
        assert code in (0, 1), err
        return json.loads(out)

    def store(self) -> Store:
        return Store(self.data)

    def snapshots(self, page_id: str) -> list:
        with self.store() as store:
            return store.snapshots(page_id)

    def alerts(self, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
        return self.json(capsys, "alerts")


def conduct_seller(tmp_path: Path, server: PageServer, **page: Any) -> Seller:
    """A seller watching the Code of Conduct page served at /conduct."""
    entry = {"id": "conduct", "url": server.url("/conduct"), **SELLER_CENTRAL_PARTS, **page}
    entry.setdefault("fetch", "http")
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry]))


def hooked_seller(tmp_path: Path, page_id: str, url: str, hook_url: str) -> Seller:
    """A seller watching one page, whose alerts go to one webhook route named `hook`."""
    pages = pages_at({page_id: url})
    route = {"name": "hook", "url": hook_url}
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))
