"""Split a policy body into a tree of sections made of readable blocks.

A seller wants to hear "the Request a Review section changed", not "the page
changed". Headings (h1-h6, and the bold one-line paragraphs Seller Central uses
as headings) give every block a path from the page title down; each section is
hashed on its own and the page digest is derived from those hashes, so one
reworded bullet changes exactly one section digest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from lxml.html import HtmlElement

from policywatch.content import Block, Section
from policywatch.document.normalize import normalize_link, normalize_text
from policywatch.models import sha256_hex

HEADING_RANKS = {f"h{n}": n for n in range(1, 7)}

# A bold one-liner ranks below every real heading: it nests under the last real
# heading, and any real heading (or the next bold one-liner) closes it.
PSEUDO_HEADING_RANK = 7
PSEUDO_HEADING_TAGS = frozenset({"p", "div"})
PSEUDO_HEADING_INNER = frozenset({"strong", "b"})
PSEUDO_HEADING_MAX_CHARS = 100
PSEUDO_HEADING_MAX_WORDS = 12
# A bold line ending like a sentence or a lead-in ("You may not:") is wording, not a heading.
SENTENCE_END = (".", "!", "?", ":", ";", ",")

# Elements that are one block each, and the Block.kind they give.
LEAF_BLOCKS = {
    "p": "p",
    "li": "li",
    "dt": "dt",
    "dd": "dd",
    "pre": "pre",
    "blockquote": "blockquote",
    "tr": "tr",
}
# Lists inside a list item (or dt/dd) are their own blocks, not part of the item's text.
NESTED_LISTS = frozenset({"ul", "ol", "dl", "menu", "table"})
CELL_TAGS = frozenset({"td", "th"})
CELL_SEPARATOR = " | "

# Elements that break the inline flow: text on either side is not one sentence.
BLOCK_TAGS = frozenset(
    {
        *HEADING_RANKS,
        *LEAF_BLOCKS,
        *NESTED_LISTS,
        *CELL_TAGS,
        "address",
        "article",
        "aside",
        "body",
        "caption",
        "center",
        "details",
        "dialog",
        "div",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "html",
        "main",
        "nav",
        "section",
        "summary",
        "tbody",
        "tfoot",
        "thead",
    }
)
LINE_BREAKS = frozenset({"br", "hr"})


def _is_block_tag(tag: str) -> bool:
    """Custom elements (kat-box, kat-alert ...) wrap content like divs do."""
    return tag in BLOCK_TAGS or "-" in tag


def section_digest(path: Sequence[str], blocks: Sequence[Block]) -> str:
    """SHA-256 of one section: its path, and each block's kind, text and links, in order."""
    payload = [list(path), [[b.kind, b.text, list(b.links)] for b in blocks]]
    return sha256_hex(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def document_digest(sections: Iterable[Section]) -> str:
    """The page digest, derived from the section digests so the two can never disagree."""
    return sha256_hex("\n".join(section.digest for section in sections))


def build_sections(
    content: HtmlElement,
    *,
    title: str,
    ignore: Sequence[re.Pattern[str]] = (),
    base_url: str = "",
) -> tuple[Section, ...]:
    """Walk `content` in document order and return its sections, the title's first.

    The first section has path (title,) and holds what comes before the first
    sub-heading; an h1 repeating the title is that section's heading, not a new
    one. Section.level is the depth of the path (the title's section is 1).
    Headings that repeat under one parent get " (2)", " (3)" ... so paths stay unique.
    """
    builder = _Builder(normalize_text(title, ignore), ignore, base_url)
    builder.walk(content)
    builder.flush()
    return tuple(
        Section(path, len(path), tuple(blocks), section_digest(path, blocks))
        for path, blocks in builder.sections
    )


class _Builder:
    """One pass over the tree: a heading stack, the sections so far, and the pending loose text."""

    def __init__(self, title: str, ignore: Sequence[re.Pattern[str]], base_url: str) -> None:
        self.title = title
        self.ignore = ignore
        self.base_url = base_url
        self.stack: list[tuple[float, str]] = [(0, title)]
        self.sections: list[tuple[tuple[str, ...], list[Block]]] = [((title,), [])]
        self.seen_paths: dict[tuple[str, ...], int] = {(title,): 1}
        self.run: list[str] = []  # loose text between blocks, e.g. directly inside a div
        self.run_links: list[str] = []

    # ------------------------------------------------------------------ walking

    def walk(self, container: HtmlElement) -> None:
        """Visit the children of a container element; its own tail is the caller's."""
        if container.text:
            self.run.append(container.text)
        for child in container:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in HEADING_RANKS:
                self.flush()
                self.heading(element_text(child, self.ignore), HEADING_RANKS[tag])
            elif tag in PSEUDO_HEADING_TAGS and (pseudo := self.pseudo_heading(child)):
                self.flush()
                self.heading(pseudo, PSEUDO_HEADING_RANK)
            elif tag == "tr":
                self.flush()
                self.row(child)
            elif tag in LEAF_BLOCKS:
                self.flush()
                self.leaf(child, LEAF_BLOCKS[tag])
            elif tag in LINE_BREAKS:
                self.run.append(" ")
                if tag == "hr":
                    self.flush()
            elif tag and (_is_block_tag(tag) or _has_block_inside(child)):
                self.flush()
                self.walk(child)
                self.flush()
            elif tag:
                _gather(child, self.run, self.run_links, self.base_url)
            if child.tail:
                self.run.append(child.tail)

    def heading(self, text: str, rank: float) -> None:
        """Open a new section under the nearest open heading of a higher rank."""
        if not text or (rank == 1 and len(self.stack) == 1 and text == self.title):
            return
        while len(self.stack) > 1 and self.stack[-1][0] >= rank:
            self.stack.pop()
        parent = tuple(name for _, name in self.stack)
        name = text
        count = self.seen_paths.get((*parent, text), 0) + 1
        self.seen_paths[(*parent, text)] = count
        if count > 1:
            name = f"{text} ({count})"
        self.stack.append((rank, name))
        self.sections.append(((*parent, name), []))

    def pseudo_heading(self, element: HtmlElement) -> str | None:
        """Text of a `<p><strong>Featured Offer</strong></p>` style heading, else None."""
        if (element.text or "").strip():
            return None
        inner = [child for child in element if isinstance(child.tag, str) and child.tag != "br"]
        if len(inner) != 1 or inner[0].tag not in PSEUDO_HEADING_INNER:
            return None
        if any((child.tail or "").strip() for child in element):
            return None
        strong = inner[0]
        if any(d.tag == "a" or _is_block_tag(str(d.tag)) for d in strong.iterdescendants()):
            return None
        text = element_text(strong, self.ignore)
        words = len(text.split())
        if (
            not text
            or len(text) > PSEUDO_HEADING_MAX_CHARS
            or words > PSEUDO_HEADING_MAX_WORDS
            or text.endswith(SENTENCE_END)
        ):
            return None
        return text

    def leaf(self, element: HtmlElement, kind: str) -> None:
        """A paragraph-like block; lists nested inside it follow as blocks of their own."""
        pieces: list[str] = []
        links: list[str] = []
        nested: list[HtmlElement] = []
        skip = NESTED_LISTS if kind in ("li", "dt", "dd") else frozenset()
        _gather(element, pieces, links, self.base_url, skip, nested)
        self.add(kind, "".join(pieces), links)
        for inner in nested:
            self.walk(inner)
            self.flush()

    def row(self, element: HtmlElement) -> None:
        """A table row reads as its cells in order, so a changed cell is a changed row."""
        cells: list[str] = []
        links: list[str] = []
        for cell in element:
            if cell.tag in CELL_TAGS:
                pieces: list[str] = []
                _gather(cell, pieces, links, self.base_url)
                cells.append(normalize_text("".join(pieces), self.ignore))
        if any(cells):
            self.add("tr", CELL_SEPARATOR.join(cells), links)

    def flush(self) -> None:
        """Turn the pending loose text into a paragraph block (div text reads as a paragraph)."""
        if self.run:
            self.add("p", "".join(self.run), self.run_links)
            self.run = []
            self.run_links = []

    def add(self, kind: str, text: str, links: list[str]) -> None:
        text = normalize_text(text, self.ignore)
        if text:
            self.sections[-1][1].append(Block(kind, text, tuple(dict.fromkeys(links))))


def _has_block_inside(element: HtmlElement) -> bool:
    """An inline element wrapping blocks (<a><div>...</div></a>) must be walked, not read."""
    return any(isinstance(d.tag, str) and _is_block_tag(d.tag) for d in element.iterdescendants())


def element_text(element: HtmlElement, ignore: Sequence[re.Pattern[str]] = ()) -> str:
    """The normalised text of an element as a reader sees it (see `_gather`)."""
    pieces: list[str] = []
    _gather(element, pieces, None, "")
    return normalize_text("".join(pieces), ignore)


def _gather(
    element: HtmlElement,
    pieces: list[str],
    links: list[str] | None,
    base_url: str,
    skip: frozenset[str] = frozenset(),
    skipped: list[HtmlElement] | None = None,
) -> None:
    """Append the element's text (not its tail) to `pieces` and its link targets to `links`
    (when a list is given).

    Unlike lxml's text_content(), block boundaries and <br> become spaces, so
    "<li><p>a</p><p>b</p></li>" reads "a b" and not "ab". Descendants whose tag
    is in `skip` are collected into `skipped` instead of being read.
    """
    if links is not None and element.tag == "a" and (href := element.get("href")):
        link = normalize_link(href, base_url)
        if link:
            links.append(link)
    if element.text:
        pieces.append(element.text)
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in skip and skipped is not None:
            skipped.append(child)
        elif tag in LINE_BREAKS:
            pieces.append(" ")
        elif tag:
            breaks = _is_block_tag(tag)
            if breaks:
                pieces.append(" ")
            _gather(child, pieces, links, base_url, skip, skipped)
            if breaks:
                pieces.append(" ")
        if child.tail:
            pieces.append(child.tail)
