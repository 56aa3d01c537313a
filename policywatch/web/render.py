"""The templates, shared by `serve` and `site` so a static copy reads like the live view.

Autoescape is on for every template: page text is attacker-controlled, and a `<script>` in a
policy must arrive as text. Links are relative to the page (`root`), so the same HTML works
under any prefix, on any static host, and from the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from policywatch.alerts.links import change_path, quote_id
from policywatch.clock import readable
from policywatch.content import Snapshot
from policywatch.models import short_id
from policywatch.web.pages import Rendered

HERE = files("policywatch.web")
# The only files served from the package, by name: nothing in a URL reaches the file system.
STATIC = {
    "style.css": ("text/css; charset=utf-8", (HERE / "static" / "style.css").read_bytes()),
    "icon.svg": ("image/svg+xml", (HERE / "static" / "icon.svg").read_bytes()),
}
STYLE = STATIC["style.css"][1]
# No script at all, so a policy page's text can never run in the seller's browser. `serve`
# sends it as a header (with frame-ancestors, which only a header can carry); every page also
# carries it in a <meta>, for the static copy on a host or file system that sends no policy.
POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"


def raw_path(snap: Snapshot) -> str:
    """Where a version's HTML is shown as plain text (looked up by id, never a file path)."""
    return f"snapshots/{quote_id(snap.page_id)}/{short_id(snap.id)}.txt"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda stamp: readable(stamp) if stamp else ""  # as alerts write it
    env.globals.update(
        quote=quote_id, short=short_id, change_path=change_path, raw_path=raw_path, policy=POLICY
    )
    return env


def depth(path: str) -> int:
    """How many folders deep a page's own URL is, for its relative `root`."""
    return path.strip("/").count("/") if path.strip("/") else 0


class Templates:
    """Renders a view model at a path; `static` makes links to folders' index.html files."""

    def __init__(self, *, static: bool) -> None:
        self.env = environment()
        self.static = static

    def render(self, page: Rendered, path: str, **extra: Any) -> str:
        levels = depth(path) + (1 if self.static and path.strip("/") else 0)
        root = "../" * levels
        context = {
            "root": root,
            "href": self.linker(root),
            "live": not self.static,
            "page_path": extra.pop("page_path", None),
            **page.context,
            **extra,
        }
        return self.env.get_template(page.template).render(context)

    def linker(self, root: str) -> Callable[[str], str]:
        def href(path: str) -> str:
            if self.static:
                return f"{root}{path}/index.html" if path else f"{root}index.html"
            return f"{root}{path}" if (root or path) else "./"

        return href
