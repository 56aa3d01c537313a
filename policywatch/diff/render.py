"""Show a DiffResult to people (text, markdown, html) and to programs (json).

The same diff goes to a terminal (`policywatch diff`), an alert email (html),
Slack or Discord (markdown) and scripts (json). Page text is third-party
content, so every format escapes it: a `<script>` or `**` in a policy page
comes out as literal text, never as markup.

Cosmetic-only changes (same words after folding case, spacing, punctuation
and quotes) and unchanged sections are hidden in the human formats unless
`show_all` is set; json always carries every change, flagged.

JSON schema (``schema_version`` 1; fields are only ever added within a version)::

    {
      "schema_version": 1,
      "page": "seller-code-of-conduct",        # page id
      "old_id": "<snapshot id>", "new_id": "<snapshot id>",
      "meta": {"<key>": "<value>", ...},        # as given by the caller (urls, dates, labels)
      "summary": {
        "severity": "critical" | "major" | "minor" | null,   # rules.severity(diff)
        "sections": {"added": 0, "removed": 0, "modified": 0,
                     "renamed": 0, "moved": 0, "unchanged": 0},
        "changes": 3, "substantive": 2, "cosmetic": 1,
        "tags": {"obligation": 1, ...}          # substantive changes per tag
      },
      "sections": [                             # changed sections (all with show_all), page order
        {"kind": "modified", "label": "Title > Heading",
         "old_path": ["Title", "Heading"] | null, "new_path": [...] | null,
         "changes": 2}                          # number of changes in it
      ],
      "changes": [                              # every change, page order
        {"section": ["Title", "Heading"],       # path in the new version (old, if removed)
         "section_label": "Title > Heading",
         "section_kind": "modified",            # kind of the section it belongs to
         "kind": "added" | "removed" | "modified",
         "substantive": true,
         "old": "sentence before" | null, "new": "sentence after" | null,
         "fragments": [{"op": "equal" | "delete" | "insert", "text": "..."}],
         "tags": ["obligation", "number", "link", "term", "heading", "moved", "cosmetic-only"],
         "matches": [{"rule": "buyer-messaging", "term": "unsolicited",
                      "severity": "critical", "side": "old" | "new" | "both"}],
         "links_removed": ["https://..."], "links_added": ["https://..."],
         "effective": [{"date": "2025-03-01" | null, "period_days": 14 | null,
                        "days_left": 58,        # from the reader's today; absent for a period
                        "phrase": "March 1, 2025", "sentence": "...", "section": [...]}]}
      ]
    }
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from policywatch.content import Document
from policywatch.diff.markdown import markdown_escape
from policywatch.diff.rows import (
    NO_TEXT_CHANGE,
    SIGNS,
    Dating,
    Row,
    View,
    change_notes,
    header_lines,
    is_shown,
    section_title,
    section_views,
    summary_line,
)
from policywatch.models import Change, DiffResult, Fragment, SectionChange, short_id
from policywatch.printable import printable, printable_json
from policywatch.watchlist.rules import severity

SCHEMA_VERSION = 1
FORMATS = ("text", "markdown", "html", "json")
_KINDS = ("added", "removed", "modified", "renamed", "moved", "unchanged")


def render_diff(
    diff: DiffResult,
    fmt: str,
    *,
    color: bool = False,
    context: int = 0,
    show_all: bool = False,
    old: Document | None = None,
    new: Document | None = None,
    meta: Mapping[str, str] | None = None,
    dating: Dating | None = None,
) -> str:
    """`diff` as text, markdown, html or json.

    `context` unchanged sentences are shown around each change when both
    documents are given; `show_all` also lists unchanged sections and cosmetic
    changes; `dating` adds "Takes effect: <date> (in N days)" under a change that
    says when it governs.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown diff format {fmt!r}; use one of {', '.join(FORMATS)}")
    meta = dict(meta or {})
    effect = dating.lines if dating else _no_dates
    if fmt == "json":
        return _json(diff, show_all, meta, dating)
    views = section_views(diff, context, show_all, old, new)
    hidden = sum(1 for c in diff.changes if not is_shown(c)) if not show_all else 0
    if fmt == "text":
        return _text(diff, views, meta, hidden, color, effect)
    # Page text may carry terminal controls: text is cleaned piece by piece (around our
    # colours), markdown and html whole, since they end up in terminals and mail clients
    # too, and json inside its strings (`printable_json`), where an escape stays valid JSON.
    if fmt == "markdown":
        return printable(_markdown(diff, views, meta, hidden, effect))
    return printable(_html(diff, views, meta, hidden, effect))


Effect = Callable[[Change], list[str]]


def _no_dates(change: Change) -> list[str]:
    return []


# --------------------------------------------------------------------------- text


def _text(
    diff: DiffResult,
    views: list[View],
    meta: Mapping[str, str],
    hidden: int,
    color: bool,
    effect: Effect,
) -> str:
    paint: Callable[[str, str], str] = _ansi if color else _marker
    lines = [f"{diff.page_id}: {short_id(diff.old_id)} -> {short_id(diff.new_id)}"]
    lines += [f"  {printable(line)}" for line in header_lines(meta)]
    lines += [summary_line(views, hidden), ""]
    for view in views:
        label, note = section_title(view.section)
        lines.append(paint(printable(f"== {label} [{note}] =="), "heading"))
        rows = [_text_row(row, paint, color, effect) for row in view.rows]
        lines += rows or [f"    {NO_TEXT_CHANGE}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _text_row(row: Row, paint: Callable[[str, str], str], color: bool, effect: Effect) -> str:
    """One change or context line; page text is made printable before any colour goes on."""
    if row.change is None:
        return "    " + printable(row.context) if row.context is not None else "    …"
    change = row.change
    sign = SIGNS[change.kind] if is_shown(change) else "="
    prefix = "heading " if "heading" in change.tags else ""
    if change.kind == "modified":
        body = "".join(paint(printable(f.text), f.op) for f in change.fragments)
    else:  # the sign says it all; markers around the whole sentence would only add noise
        body = printable("".join(f.text for f in change.fragments))
        body = _ansi(body, "insert" if change.kind == "added" else "delete") if color else body
    notes = printable(change_notes(change))
    line = f"  {sign} {prefix}{body}" + (f"   [{notes}]" if notes else "")
    return "\n".join([line, *(f"      {printable(words)}" for words in effect(change))])


def _marker(text: str, op: str) -> str:
    if op == "delete":
        return f"[-{text}-]"
    if op == "insert":
        return f"{{+{text}+}}"
    return text


_ANSI = {"delete": "\x1b[31;9m", "insert": "\x1b[32m", "heading": "\x1b[1m"}


def _ansi(text: str, op: str) -> str:
    code = _ANSI.get(op)
    return f"{code}{text}\x1b[0m" if code else text


# --------------------------------------------------------------------------- markdown


def _markdown(
    diff: DiffResult, views: list[View], meta: Mapping[str, str], hidden: int, effect: Effect
) -> str:
    lines = [
        f"**Policy change: {markdown_escape(diff.page_id)}** "
        f"`{short_id(diff.old_id)}` → `{short_id(diff.new_id)}`"
    ]
    lines += [f"- {markdown_escape(line)}" for line in header_lines(meta)]
    lines += ["", summary_line(views, hidden)]
    for view in views:
        label, note = section_title(view.section)
        lines += ["", f"### {markdown_escape(label)} _({markdown_escape(note)})_"]
        lines += [_markdown_row(row, effect) for row in view.rows] or [f"_{NO_TEXT_CHANGE}_"]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_row(row: Row, effect: Effect) -> str:
    if row.change is None:
        return f"> {markdown_escape(row.context)}" if row.context is not None else "> …"
    change = row.change
    sign = {"added": "Added", "removed": "Removed", "modified": "Changed"}[change.kind]
    if "heading" in change.tags:
        sign = "Heading"
    if "link-only" in change.tags:
        sign = "Link changed"
    elif not change.substantive:
        sign += " (cosmetic)"
    if change.kind == "modified":
        body = "".join(_markdown_fragment(f) for f in change.fragments)
    else:
        body = markdown_escape(change.new or change.old or "")
    notes = change_notes(change)
    line = f"- **{sign}:** {body}" + (f" _[{markdown_escape(notes)}]_" if notes else "")
    return "\n".join([line, *(f"  - **{markdown_escape(w)}**" for w in effect(change))])


def mark(text: str, left: str, right: str) -> str:
    """Mark `text`, keeping the surrounding spaces outside the marks (Markdown needs that)."""
    core = text.strip()
    if not core:
        return text
    start = text.index(core[0])
    return f"{text[:start]}{left}{core}{right}{text[start + len(core) :]}"


def _markdown_fragment(fragment: Fragment) -> str:
    text = markdown_escape(fragment.text)
    if fragment.op == "equal":
        return text
    sign = "~~" if fragment.op == "delete" else "**"
    return mark(text, sign, sign)


# --------------------------------------------------------------------------- html

_CSS = """
body{font:15px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f;
  max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.note{color:#666;font-weight:normal;font-size:.9em}.meta{color:#555;font-size:.9em}
ul{list-style:none;padding-left:0}li{margin:.4rem 0;padding:.3rem .5rem;border-left:3px solid #ccc}
li.added{border-color:#1a7f37}li.removed{border-color:#cf222e}li.modified{border-color:#9a6700}
li.context{color:#666;border-color:transparent}li.cosmetic{color:#888}
del{background:#ffebe9;color:#cf222e;text-decoration:line-through}
ins{background:#dafbe1;color:#1a7f37;text-decoration:none}
.tags{display:block;color:#666;font-size:.85em}.effective{display:block;color:#9a6700}
"""


def _html(
    diff: DiffResult, views: list[View], meta: Mapping[str, str], hidden: int, effect: Effect
) -> str:
    esc = html.escape
    title = f"Policy change: {diff.page_id}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(short_id(diff.old_id))} → {esc(short_id(diff.new_id))}</p>',
    ]
    if meta:
        items = "".join(f"<li>{esc(line)}</li>" for line in header_lines(meta))
        parts.append(f'<ul class="meta">{items}</ul>')
    parts.append(f"<p>{esc(summary_line(views, hidden))}</p>")
    for view in views:
        label, note = section_title(view.section)
        parts.append(f'<section class="{esc(view.section.kind)}">')
        parts.append(f'<h2>{esc(label)} <span class="note">({esc(note)})</span></h2>')
        rows = "".join(_html_row(row, effect) for row in view.rows)
        rows = rows or f'<li class="context">{esc(NO_TEXT_CHANGE)}</li>'
        parts.append(f"<ul>{rows}</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_row(row: Row, effect: Effect) -> str:
    esc = html.escape
    if row.change is None:
        return f'<li class="context">{esc(row.context if row.context is not None else "…")}</li>'
    change = row.change
    css = change.kind if is_shown(change) else f"{change.kind} cosmetic"
    body = "".join(
        f"<del>{esc(f.text)}</del>"
        if f.op == "delete"
        else f"<ins>{esc(f.text)}</ins>"
        if f.op == "insert"
        else esc(f.text)
        for f in change.fragments
    )
    notes = change_notes(change)
    tags = f'<span class="tags">{esc(notes)}</span>' if notes else ""
    tags += "".join(f'<strong class="effective">{esc(w)}</strong>' for w in effect(change))
    return f'<li class="{css}">{body}{tags}</li>'


# --------------------------------------------------------------------------- json


def _json(diff: DiffResult, show_all: bool, meta: Mapping[str, str], dating: Dating | None) -> str:
    kinds = Counter(s.kind for s in diff.sections)
    tags = Counter(t for c in diff.substantive for t in c.tags)
    level = severity(diff)
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "page": diff.page_id,
        "old_id": diff.old_id,
        "new_id": diff.new_id,
        "meta": dict(meta),
        "summary": {
            "severity": str(level) if level is not None else None,
            "sections": {kind: kinds.get(kind, 0) for kind in _KINDS},
            "changes": len(diff.changes),
            "substantive": len(diff.substantive),
            "cosmetic": len(diff.changes) - len(diff.substantive),
            "tags": dict(sorted(tags.items())),
        },
        "sections": [
            {
                "kind": s.kind,
                "label": s.label,
                "old_path": list(s.old_path) if s.old_path is not None else None,
                "new_path": list(s.new_path) if s.new_path is not None else None,
                "changes": len(s.changes),
            }
            for s in diff.sections
            if show_all or s.kind != "unchanged"
        ],
        "changes": [_change_json(c, s, dating) for s in diff.sections for c in s.changes],
    }
    return printable_json(data, indent=2) + "\n"


def _change_json(change: Change, section: SectionChange, dating: Dating | None) -> dict[str, Any]:
    return {
        "section": list(change.section),
        "section_label": change.section_label,
        "section_kind": section.kind,
        "kind": change.kind,
        "substantive": change.substantive,
        "old": change.old,
        "new": change.new,
        "fragments": [{"op": f.op, "text": f.text} for f in change.fragments],
        "tags": list(change.tags),
        "matches": [m.to_dict() for m in change.matches],
        "links_removed": list(change.links_removed),
        "links_added": list(change.links_added),
        "effective": [f.to_dict(dating.today) for f in dating.of(change)] if dating else [],
    }
