"""What a rendered diff shows: the rows of each changed section, with context, in every format.

Cosmetic-only changes and unchanged sections are hidden unless `show_all` is set; the
formats in `render` only decide how a row looks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from policywatch.clock import parse_iso, readable
from policywatch.content import Document, Section
from policywatch.diff.sentences import opcodes
from policywatch.document.dates import DATE_LABEL_RE
from policywatch.document.effective import (
    Anchor,
    EffectiveDate,
    anchor_for,
    describe,
    find_in_sentence,
    is_candidate,
)
from policywatch.document.segment import split_sentences
from policywatch.models import PATH_SEPARATOR, Change, DiffResult, SectionChange

# --------------------------------------------------------------------------- the header

_LABELS = {"translation_lag": "Translation lag"}


def header_lines(meta: Mapping[str, str]) -> list[str]:
    """The facts above a diff as people read them ("Captured: ...", "Last updated: ...");
    only JSON shows the `meta` keys themselves."""
    rest = dict(meta)
    lines = []
    if "old_label" in rest and "new_label" in rest:
        lines.append(f"Compared: {rest.pop('old_label')} -> {rest.pop('new_label')}")
    stamps = [rest.pop(k) for k in ("old_captured_at", "new_captured_at") if k in rest]
    page_date = rest.pop("page_date", None)
    if "url" in rest:
        lines.append(f"URL: {rest.pop('url')}")
    if stamps:
        lines.append("Captured: " + " -> ".join(readable(s, "seconds") for s in stamps))
    if page_date:
        # The page's own line ("Last updated: ...", "Zuletzt aktualisiert: ...") is its label.
        lines.append(page_date if DATE_LABEL_RE.match(page_date) else f"Last updated: {page_date}")
    lines += [f"{_LABELS.get(k, k.replace('_', ' ').capitalize())}: {v}" for k, v in rest.items()]
    return lines


# --------------------------------------------------------------------------- what to show


@dataclass(frozen=True)
class Row:
    """One line under a section heading: a change, an unchanged sentence, or a gap (…)."""

    change: Change | None = None
    context: str | None = None


@dataclass(frozen=True)
class View:
    section: SectionChange
    rows: tuple[Row, ...]


def section_views(
    diff: DiffResult, context: int, show_all: bool, old: Document | None, new: Document | None
) -> list[View]:
    views = []
    for section in diff.sections:
        changes = [c for c in section.changes if show_all or is_shown(c)]
        structural = section.kind in ("added", "removed", "moved")
        if not (changes or structural or show_all):
            continue
        rows = [Row(change=c) for c in changes]
        if context > 0 and old is not None and new is not None and changes:
            rows = _with_context(section, changes, context, old, new)
        views.append(View(section, tuple(rows)))
    return views


def _with_context(
    section: SectionChange, changes: list[Change], context: int, old: Document, new: Document
) -> list[Row]:
    """Interleave changes with the unchanged sentences around them, `context` on each side."""
    old_sentences = _sentences(_find(old, section.old_path))
    new_sentences = _sentences(_find(new, section.new_path))
    rows: list[Row] = [Row(change=c) for c in changes if "heading" in c.tags]
    pending = [c for c in changes if "heading" not in c.tags]
    for op, i1, i2, j1, j2 in opcodes(old_sentences, new_sentences):
        if op == "equal":
            rows.extend(Row(context=s) for s in new_sentences[j1:j2])
            continue
        olds, news = set(old_sentences[i1:i2]), set(new_sentences[j1:j2])
        here = [c for c in pending if c.old in olds or c.new in news]
        if not here:  # only cosmetic edits, hidden: the sentences read as unchanged
            rows.extend(Row(context=s) for s in new_sentences[j1:j2])
        pending = [c for c in pending if c not in here]
        rows.extend(Row(change=c) for c in here)
    rows.extend(Row(change=c) for c in pending)
    return _trim_context(rows, context)


def _trim_context(rows: list[Row], context: int) -> list[Row]:
    """Keep unchanged sentences within `context` of a change; mark each cut with one gap (…)."""
    far = len(rows) + 1
    distance = [far] * len(rows)
    for order in (range(len(rows)), range(len(rows) - 1, -1, -1)):
        seen = far
        for k in order:
            seen = 0 if rows[k].change else seen + 1
            distance[k] = min(distance[k], seen)
    kept: list[Row] = []
    for row, near in zip(rows, distance, strict=True):
        if near <= context:
            kept.append(row)
        elif not kept or kept[-1] != _GAP:
            kept.append(_GAP)
    return kept


_GAP = Row()


def is_shown(change: Change) -> bool:
    """Shown without `--all`: what a reader would call a change, and a link that now leads
    elsewhere under the same words (not alerted, but a seller following it should know)."""
    return change.substantive or "link-only" in change.tags


def _find(document: Document, path: tuple[str, ...] | None) -> Section | None:
    return next((s for s in document.sections if s.path == path), None)


def _sentences(section: Section | None) -> list[str]:
    if section is None:
        return []
    return [s for block in section.blocks for s in split_sentences(block.text)]


def summary_line(views: Sequence[View], hidden: int) -> str:
    changed = sum(1 for v in views if v.section.kind != "unchanged")
    shown = sum(1 for v in views for r in v.rows if r.change)
    line = f"{changed} section(s) changed, {shown} change(s)" if changed else "No changes"
    if hidden:
        line += f" ({hidden} cosmetic change(s) not shown)"
    return line + "."


def section_title(section: SectionChange) -> tuple[str, str]:
    """(label, note) such as ("T > New", "renamed from T > Old")."""
    note = section.kind
    if section.kind in ("renamed", "moved") and section.old_path != section.new_path:
        note = f"{section.kind} from {PATH_SEPARATOR.join(section.old_path or ())}"
    return section.label, note


def change_notes(change: Change) -> str:
    """The tags and watched terms of a change, in words."""
    if "link-only" in change.tags and len(change.links_removed) == len(change.links_added) == 1:
        parts = [f"link changed: {change.links_removed[0]} -> {change.links_added[0]}"]
    else:
        parts = ["link changed"] if "link-only" in change.tags else []
        parts += [f"link removed: {link}" for link in change.links_removed]
        parts += [f"link added: {link}" for link in change.links_added]
    hidden = (
        ("term", "heading", "link", "link-only")
        if "link-only" in change.tags
        else ("term", "heading")
    )
    tags = [t for t in change.tags if t not in hidden]
    terms = [f'{m.severity} term "{m.term}" ({m.side})' for m in change.matches]
    return "; ".join([*tags, *terms, *parts])


SIGNS = {"added": "+", "removed": "-", "modified": "~"}
NO_TEXT_CHANGE = "(no change to the text)"


@dataclass(frozen=True)
class Dating:
    """When the wording of a change takes effect: counted from the new version's anchor
    (its capture, or its own "Last updated" date), shown against the reader's `today`."""

    anchor: Anchor
    today: date

    @classmethod
    def of_version(
        cls, metadata: Mapping[str, str], captured_at: str, today: date | None = None
    ) -> Dating:
        """For a stored version (its metadata and capture); `today` defaults to the capture,
        which is how an alert written at that moment counts the days."""
        captured = parse_iso(captured_at)
        return cls(anchor_for(metadata, captured), today or captured.date())

    def of(self, change: Change) -> list[EffectiveDate]:
        """The governing dates in the new wording (a removed sentence governs nothing)."""
        if change.kind == "removed" or not change.new or not is_candidate(change.new):
            return []
        return find_in_sentence(change.new, self.anchor, change.section)

    def lines(self, change: Change) -> list[str]:
        return [describe(found, self.today) for found in self.of(change)]
