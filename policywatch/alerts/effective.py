"""Effective dates as events a seller plans around, and the reminders about them.

An event is one governing date in the latest version of a page, with the sentence and
section it came from. Its UID is derived from the page, the date and the sentence, never
from the run, so a calendar app updates an event instead of duplicating it and a reminder
is keyed the same way on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from policywatch.alerts.compose import Alert, Body, html_page, md_link, when
from policywatch.clock import parse_iso
from policywatch.content import Snapshot
from policywatch.diff.markdown import markdown_escape
from policywatch.document.effective import anchor_for, dated, find_in_document
from policywatch.history.store import Store
from policywatch.models import PATH_SEPARATOR, Severity, sha256_hex
from policywatch.redact import redact_page_url


@dataclass(frozen=True)
class Event:
    """One date on which a page's wording takes effect, as its latest version states it."""

    page_id: str
    name: str  # what a seller calls the page: its title, with the marketplace
    marketplace: str | None
    url: str  # where to read it (credentials masked)
    on: date
    sentence: str
    section: tuple[str, ...]
    snapshot_id: str
    captured_at: str

    @property
    def uid(self) -> str:
        """Stable across runs: page, date and the sentence's digest."""
        key = f"{self.page_id}\n{self.on.isoformat()}\n{sha256_hex(self.sentence)}"
        return f"{sha256_hex(key)[:32]}@policywatch"

    @property
    def section_label(self) -> str:
        return PATH_SEPARATOR.join(self.section)

    def record(self) -> dict[str, Any]:
        """As kept in page state, so a later pass compares without reading history."""
        return {**asdict(self), "on": self.on.isoformat(), "section": list(self.section)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            **{**data, "on": date.fromisoformat(data["on"]), "section": tuple(data["section"])}
        )

    def to_dict(self, today: date) -> dict[str, Any]:
        return {
            "page": self.page_id,
            "name": self.name,
            "marketplace": self.marketplace,
            "date": self.on.isoformat(),
            "days_left": (self.on - today).days,
            "sentence": self.sentence,
            "section": list(self.section),
            "url": self.url,
            "uid": self.uid,
            "snapshot": self.snapshot_id,
        }


def version_events(store: Store, snapshot: Snapshot) -> tuple[Event, ...]:
    """The dated events of one stored version (a period without a date is no event)."""
    document = store.document(snapshot)
    anchor = anchor_for(snapshot.metadata, parse_iso(snapshot.captured_at))
    name = snapshot.title or document.title or snapshot.page_id
    if snapshot.marketplace:
        name = f"{name} ({snapshot.marketplace})"
    return tuple(
        Event(
            page_id=snapshot.page_id,
            name=name,
            marketplace=snapshot.marketplace,
            url=redact_page_url(snapshot.url),
            on=found.on,
            sentence=found.sentence,
            section=found.section,
            snapshot_id=snapshot.id,
            captured_at=snapshot.captured_at,
        )
        for found in find_in_document(document, anchor)
        if found.on is not None
    )


def latest_events(store: Store, page_ids: Sequence[str] | None = None) -> list[Event]:
    """The events of the latest version of every page, in date order."""
    events: list[Event] = []
    for page_id in page_ids if page_ids is not None else store.page_ids():
        latest = store.latest(page_id)
        if latest is not None:
            events.extend(version_events(store, latest))
    return sorted(events, key=lambda e: (e.on, e.page_id, e.uid))


# --------------------------------------------------------------------------- alerts


def _alert(key: str, page_id: str, title: str, facts: list[tuple[str, str]], url: str) -> Alert:
    """A short notice; every fact is page text or built from it, escaped per format."""
    facts = [*facts, ("URL", url)]
    return Alert(
        key=key,
        kind="reminder",
        page_id=page_id,
        severity=Severity.MAJOR,
        title=title,
        text_body=Body(head="\n".join(f"{label}: {value}" for label, value in facts)),
        markdown_body=Body(
            head="\n".join(
                f"{label}: {md_link(value, value) if label == 'URL' else markdown_escape(value)}"
                for label, value in facts
            )
        ),
        html=html_page(title, facts),
    )


def reminder_alert(event: Event, days: int, today: date) -> Alert:
    """ "Takes effect in 14 days": sent once per route and reminder."""
    facts = [
        ("Page", event.name),
        ("Takes effect", dated(event.on, today)),
        ("Section", event.section_label),
        ("Sentence", event.sentence),
        ("Stated since", when(event.captured_at)),
    ]
    title = f"[reminder] {event.name}: takes effect on {event.on.isoformat()}"
    return _alert(f"remind:{event.uid}:{days}", event.page_id, title, facts, event.url)


def cancelled_alert(old: Event, new: Event | None) -> Alert:
    """The date reminders were scheduled for moved, or the page no longer states it."""
    if new is None:
        verb = f"withdrawn (was {old.on.isoformat()})"
        facts = [("Page", old.name), ("Takes effect", f"{old.on.isoformat()} withdrawn")]
    else:
        verb = f"moved from {old.on.isoformat()} to {new.on.isoformat()}"
        facts = [("Page", old.name), ("Takes effect", verb), ("Now", new.sentence)]
    facts += [("Before", old.sentence), ("Reminders", f"cancelled for {old.on.isoformat()}")]
    title = f"[reminder] {old.name}: effective date {verb}"
    key = f"cancel:{old.uid}:{new.uid if new else 'withdrawn'}"
    return _alert(key, old.page_id, title, facts, old.url)
