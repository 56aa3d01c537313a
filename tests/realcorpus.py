"""Replays the real Seller Central history (../shared/real-pages) as live pages.

The corpus is third-party data read in place. Each version becomes a whole page
the way the site serves it: the real rendered HTML where the archive kept it,
otherwise the archived text placed into the real template of the nearest
version, always wrapped with fresh per-request noise (request and session ids,
build hashes, copyright year) and, on demand, the French page chrome that the
real site flapped to on hundreds of fetches.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

BANNER_EN = "This article applies to selling in:"
BANNER_FR = "Cet article s'applique à la vente en&nbsp;:"


@dataclass(frozen=True)
class Version:
    name: str  # file stem, e.g. "2024-08-01"
    recorded_at: str
    md: str
    html: str | None  # the real excerpt, when the archive kept one


def versions(corpus: Path, slug: str) -> list[Version]:
    folder = corpus / slug
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    found = []
    for entry in meta["versions"]:
        md = (folder / entry["file_md"]).read_text(encoding="utf-8")
        page = entry.get("file_html")
        text = (folder / page).read_text(encoding="utf-8") if page else None
        found.append(Version(Path(entry["file_md"]).stem, entry["recorded_at"], md, text))
    return sorted(found, key=lambda v: v.recorded_at)


def excerpt_for(version: Version, history: list[Version]) -> str:
    """The real excerpt, or the archived text put into the nearest real template."""
    if version.html is not None:
        return version.html
    template = min(
        (v for v in history if v.html is not None),
        key=lambda v: abs(_days(v.recorded_at) - _days(version.recorded_at)),
    )
    return _place_text(template.html or "", version.md)


def serve(excerpt: str, *, chrome: str = "en", year: int = 2024, lang: str = "en-US") -> str:
    """A whole page around an excerpt, with noise a real fetch carries."""
    body = excerpt
    if chrome == "fr":
        body = (
            body.replace(BANNER_EN, BANNER_FR)
            .replace('label="Sign in"', 'label="Connexion"')
            .replace(">Top<", ">Haut de la page<")
            .replace(">Related articles<", ">Articles connexes<")
        )
    request_id = secrets.token_hex(10).upper()
    related = "".join(
        f'<a class="hh-simple-link" href="/help/external/G{secrets.randbelow(10**9)}">'
        f"Article {secrets.randbelow(100)}</a>"
        for _ in range(3)
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}" data-aui-build-date="3.24.{secrets.randbelow(99)}">'
        f'<head><meta charset="utf-8"><meta name="a2z:request_id" content="{request_id}">'
        '<meta name="a2z:mons_app_name" content="HelpHubWebsite">'
        f"<script>var ue_id='{request_id}',"
        f"ue_sid='{secrets.randbelow(999)}-{secrets.randbelow(10**7)}';"
        "ue.count('CSMLibrarySize', 16219);</script><!-- "
        f"{secrets.token_hex(8)} --></head><body>{body}"
        f'<div class="kat-col-md-3"><kat-box class="related-articles-box">{related}</kat-box></div>'
        f'<footer><div id="hh-public-footer"><p class="copyright-text">© 1999-{year}, Amazon.com, '
        "Inc. or its affiliates</p></div></footer>"
        f'<script src="/main.{secrets.token_hex(10)}.chunk.min.js"></script></body></html>'
    )


def _days(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp() / 86400


# --------------------------------------------------------------------------- markdown -> template

_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LIST = re.compile(r"^(\s*)(?:\d+\.|[*-])\s+(.*)$")


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def _markdown_body(md: str) -> tuple[str, str, str]:
    """(country, title, body html) of an archived version's markdown."""
    lines = md.splitlines()
    country = re.search(r"\*\*(.+?)\*\*", lines[0]).group(1)  # the banner line
    rest = lines[1:]
    title_at = next(i for i, line in enumerate(rest) if re.fullmatch(r"=+", line.strip()))
    title = rest[title_at - 1].strip()
    out, items = [], []

    def close_list() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in rest[title_at + 1 :]:
        if not line.strip():
            continue
        if m := _LIST.match(line):
            items.append(_inline(m.group(2).strip()))
            continue
        close_list()
        out.append(f"<p>{_inline(line.strip())}</p>")
    close_list()
    return country, title, "\n".join(out)


def _place_text(template: str, md: str) -> str:
    """Swap the template's banner country, h1 and article body for an archived version's."""
    country, title, body = _markdown_body(md)
    root = lxml_html.fromstring(template)
    content = root.get_element_by_id("help-content")
    for child in list(content):
        content.remove(child)
    content.text = None
    for fragment in lxml_html.fragments_fromstring(body):
        content.append(fragment)
    root.cssselect("h1")[0].text = title
    root.cssselect(".hh-article-country-box b")[0].text = country
    return lxml_html.tostring(root, encoding="unicode")
