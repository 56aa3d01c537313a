"""Build Documents for diff tests from compact outlines or from markdown.

The diff only sees Documents, so most stories describe a page as
{"Title > Heading": ["block", "- bullet"]} instead of HTML; the real-corpus
stories read the Open Terms Archive markdown the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from policywatch.content import Block, Document, Section
from policywatch.models import PATH_SEPARATOR, sha256_hex

_LINK_RE = re.compile(r"\[([^\]]*)\]\(([^)\s]+)[^)]*\)")


def block(text: str) -> Block:
    """A block from outline text: "- " makes a list item, [label](url) a link."""
    kind = "li" if text.startswith("- ") else "p"
    text = text[2:] if kind == "li" else text
    links = tuple(m.group(2) for m in _LINK_RE.finditer(text))
    return Block(kind, _LINK_RE.sub(r"\1", text).strip(), links)


def section(path: Sequence[str], blocks: Sequence[Block]) -> Section:
    body = "\n".join(f"{b.text}\t{' '.join(b.links)}" for b in blocks)
    return Section(tuple(path), len(path), tuple(blocks), sha256_hex(body))


def document(outline: Mapping[str, Sequence[str]]) -> Document:
    """{"Title": [...], "Title > Heading": [...]} -> Document, sections in dict order."""
    sections = tuple(
        section(label.split(PATH_SEPARATOR), [block(text) for text in texts])
        for label, texts in outline.items()
    )
    title = sections[0].path[0] if sections else ""
    return Document(title, sections, sha256_hex("".join(s.digest for s in sections)))


def markdown_document(text: str) -> Document:
    """Read an Open Terms Archive version: setext/# title, **bold** and _italic_ headings."""
    outline: dict[str, list[str]] = {}
    path: list[str] = []
    lines = text.splitlines()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            outline.setdefault(PATH_SEPARATOR.join(path), []).append(" ".join(paragraph))
            paragraph.clear()

    for i, line in enumerate(lines):
        stripped = line.strip()
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        heading = _heading(stripped, underline)
        if re.fullmatch(r"=+|-+", stripped) or stripped.startswith("This article applies to"):
            continue
        if heading is not None:
            flush()
            level, title = heading
            path[level - 1 :] = [title]
            outline.setdefault(PATH_SEPARATOR.join(path), [])
        elif not stripped:
            flush()
        elif re.match(r"[-*] ", stripped):
            flush()
            paragraph.append("- " + stripped[2:])
            flush()
        else:
            paragraph.append(stripped)
    flush()
    return document(outline)


def _heading(line: str, underline: str) -> tuple[int, str] | None:
    if line and re.fullmatch(r"=+", underline):
        return 1, line
    if line.startswith("#"):
        hashes = len(line) - len(line.lstrip("#"))
        return hashes, line[hashes:].strip()
    bold = re.fullmatch(r"\*\*(.+)\*\*", line)
    if bold:
        return 2, bold.group(1)
    italic = re.fullmatch(r"_(.+)_", line)
    return (3, italic.group(1)) if italic else None
