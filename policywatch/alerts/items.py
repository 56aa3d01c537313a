"""The changes of a diff as the items an alert or a digest reports, in page order.

An alert lists them all; a digest names only the first. Both pick them the same way, so
a digest's line for a change is the line its alert opened with.
"""

from __future__ import annotations

from dataclasses import dataclass

from policywatch.models import PATH_SEPARATOR, Change, DiffResult, SectionChange

SECTION_VERBS = {
    "added": "section added",
    "removed": "section removed",
    "renamed": "section renamed",
    "moved": "section moved",
}


@dataclass(frozen=True)
class Item:
    """One thing to report: a changed sentence, or a section-level move without one.

    `opens` marks the first item of its section, which carries the section heading;
    bodies are only ever shortened from the end, so a kept item's heading is kept too.
    """

    section: SectionChange
    change: Change | None
    opens: bool


def alert_items(diff: DiffResult) -> list[Item]:
    """Substantive changes in page order (all changes when none is substantive); a new
    heading is told by the section line, not repeated as a sentence change."""
    substantive_only = bool(diff.substantive)
    items: list[Item] = []
    for section in diff.sections:
        if section.kind == "unchanged":
            continue
        changes = [
            c
            for c in section.changes
            if (c.substantive or not substantive_only) and "heading" not in c.tags
        ]
        if changes:
            items.extend(Item(section, c, i == 0) for i, c in enumerate(changes))
        elif section.kind in SECTION_VERBS:  # the heading line says it all
            items.append(Item(section, None, True))
    return items


def section_line(section: SectionChange) -> str:
    """The section's path, saying what happened to the section itself when it did more than
    change some sentences (added, removed, renamed, moved)."""
    if section.kind not in SECTION_VERBS:
        return section.label
    verb = SECTION_VERBS[section.kind]
    if section.kind in ("renamed", "moved") and section.old_path:
        return f"{section.label} ({verb}; was {PATH_SEPARATOR.join(section.old_path)})"
    return f"{section.label} ({verb})"


def first_change(diff: DiffResult) -> tuple[str, str]:
    """Where the change begins and its first changed sentence (the new wording, or the
    removed one): the line a digest gives each change, picked as the alert picks them."""
    items = alert_items(diff)
    if not items:
        return "", ""
    change = items[0].change
    return section_line(items[0].section), (change.new or change.old) if change else ""
