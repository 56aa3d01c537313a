"""`policywatch site OUT/`: the web view as static files, for any web server or object store.

The same templates as `serve`, with links to each folder's index.html so the copy works from
the file system too. A manifest (OUT/.policywatch-site.json) records what each file was made
from: a change page from its two versions and its neighbours, a history from its versions, a
raw snapshot from its id. A rebuild skips every file whose inputs are unchanged without even
rendering it, and writes the listings (overview, timeline, health, feeds) only when their
bytes differ, so a page with no new version is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from policywatch.alerts.links import change_path
from policywatch.atomic import atomic_write
from policywatch.errors import UsageError
from policywatch.models import Config, sha256_hex, short_id
from policywatch.run.daemon import health
from policywatch.web import feeds, pages
from policywatch.web.desk import Desk
from policywatch.web.pages import Rendered
from policywatch.web.render import STATIC, STYLE, Templates, raw_path

MANIFEST = ".policywatch-site.json"


@dataclass
class SiteReport:
    written: int = 0
    kept: int = 0
    files: list[str] = field(default_factory=list)  # written this time, relative to OUT


class Site:
    def __init__(self, desk: Desk, out: Path, base_url: str | None) -> None:
        self.desk, self.out, self.base_url = desk, out, base_url
        self.root = out.resolve()
        self.templates = Templates(static=True)
        self.report = SiteReport()
        try:
            self.manifest: dict[str, str] = json.loads((out / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            self.manifest = {}
        self.seen: dict[str, str] = {}

    def put(self, name: str, key: str, make: Callable[[], bytes]) -> None:
        """Write `name` unless the manifest says it was made from the same `key`."""
        self.seen[name] = key
        if self.manifest.get(name) == key and (self.out / name).exists():
            self.report.kept += 1
            return
        target = self.out / name
        if not target.parent.resolve().is_relative_to(self.root):
            raise UsageError(
                f"{target}: a symlink inside {self.out} leads out of it; "
                "remove it and run `site` again (nothing is written outside OUT)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, make(), durable=False)
        self.report.written += 1
        self.report.files.append(name)

    def listing(self, name: str, data: bytes) -> None:
        """A page every new version changes: keyed by its own bytes."""
        self.put(name, "sha256:" + sha256_hex(data), lambda: data)

    def html(self, folder: str, page: Callable[[], Rendered], key: str | None, **extra) -> None:
        name = f"{folder}/index.html" if folder else "index.html"
        make = lambda: self.templates.render(page(), folder, **extra).encode("utf-8")  # noqa: E731
        if key is None:
            self.listing(name, make())
        else:
            self.put(name, "inputs:" + sha256_hex(key + sha256_hex(STYLE)), make)

    def build(self) -> SiteReport:
        desk = self.desk
        for name, (_, data) in STATIC.items():
            self.listing(f"static/{name}", data)
        self.html("", lambda: pages.overview(desk, {}), None)
        self._timeline()
        self.html("health", lambda: pages.health(desk, lambda: health(desk.data_dir)), None)
        for page_id in desk.page_ids():
            self._page(page_id)
        for name in feeds.names(desk):
            parts = name.split("/")
            self.listing(f"feeds/{name}", feeds.route(desk, parts, self.base_url))
        self.listing("calendar.ics", feeds.calendar(desk))
        manifest = json.dumps(self.seen, indent=1).encode("utf-8")
        # A rename replaces a symlink planted in its place; write_text would follow it.
        atomic_write(self.out / MANIFEST, manifest, durable=False)
        return self.report

    def _timeline(self) -> None:
        first = pages.timeline(self.desk, {}, 1)
        paths = lambda n: "timeline" if n == 1 else f"timeline/{n}"  # noqa: E731
        for number in range(1, first.context["last"] + 1):
            view = first if number == 1 else pages.timeline(self.desk, {}, number)
            self.html(paths(number), lambda v=view: v, None, page_path=paths)

    def _page(self, page_id: str) -> None:
        desk = self.desk
        versions = desk.snapshots(page_id)
        ids = ",".join(s.id for s in versions)
        self.html(f"pages/{page_id}", lambda: pages.history(desk, page_id), ids)
        for snap in versions:
            self.put(raw_path(snap), "id:" + snap.id, lambda s=snap: desk.store.raw_html(s))
        history = desk.changes(page_id)
        for at, change in enumerate(history):
            around = history[max(0, at - 1) : at + 2]
            key = "|".join(f"{c.old.id}..{c.new.id}" for c in around)
            old, new = change.old.id, change.new.id
            folder = change_path(page_id, old, new)
            pair = (short_id(old), short_id(new))
            self.html(folder, lambda p=pair: pages.change(desk, page_id, *p), key)


def _claim(out: Path) -> None:
    """Make `out` the site's folder: a new or empty one, or the site's own earlier output.

    `site` replaces index.html, static/, feeds/ and more by name: in a folder of the
    seller's own (a homepage, `/`, a home directory) it would overwrite their files.
    Its own output is known by its manifest, written here before any other file so a
    first build cut short is still known as ours.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"{out} is a file, not a folder", "name a new or empty folder for the site"
        )
    manifest = out / MANIFEST
    if manifest.exists():
        return
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"{out} is not empty and holds no {MANIFEST}, so it is not an earlier "
            "`policywatch site` output; nothing was written, to overwrite none of its files",
            "name a new or empty folder, e.g. `policywatch site public/`",
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(manifest, b"{}", durable=False)


def build_site(data_dir: Path, out: Path, config: Config | None) -> SiteReport:
    """Write the web view into `out`: a new or empty folder, or the site's own output."""
    _claim(out)
    desk = Desk(data_dir, config)
    return Site(desk, out, config.defaults.base_url if config else None).build()
