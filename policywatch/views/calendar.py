"""What takes effect when: the upcoming list and the iCalendar file.

Both take events (alerts/effective.py) and return text or bytes; neither reads the store
nor the clock, so the web view can serve the same calendar bytes as `policywatch calendar`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from policywatch.alerts.effective import Event
from policywatch.clock import parse_iso
from policywatch.document.effective import dated
from policywatch.printable import printable, printable_json

PRODID = "-//policywatch//effective dates//EN"


def calendar_ics(events: Sequence[Event]) -> bytes:
    """One all-day event per effective date, in date order, with stable UIDs.

    DTSTAMP is the capture of the version that states the date, not the run's time,
    so two runs over the same store give the same bytes. Page text reaches calendar apps
    (and terminals, with `> policies.ics` forgotten) with its control characters escaped.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Policy changes taking effect")
    for event in sorted(events, key=lambda e: (e.on, e.page_id, e.uid)):
        entry = CalendarEvent()
        entry.add("uid", event.uid)
        entry.add("dtstamp", parse_iso(event.captured_at))
        entry.add("dtstart", event.on)
        entry.add("dtend", event.on + timedelta(days=1))
        entry.add("summary", printable(f"{event.name}: takes effect"))
        where = f"Section: {event.section_label}\n" if event.section else ""
        entry.add("description", printable(f"{event.sentence}\n\n{where}{event.url}"))
        entry.add("url", event.url)
        entry.add("transp", "TRANSPARENT")
        calendar.add_component(entry)
    return calendar.to_ical()


def upcoming(events: Sequence[Event], today: date, days: int) -> list[Event]:
    """What takes effect from today to `days` ahead, soonest first."""
    last = today + timedelta(days=days)
    return sorted(
        (e for e in events if today <= e.on <= last), key=lambda e: (e.on, e.page_id, e.uid)
    )


def upcoming_text(events: Sequence[Event], today: date, days: int) -> str:
    if not events:
        return f"Nothing takes effect in the next {days} days."
    lines = []
    for event in events:
        lines.append(f"{dated(event.on, today)}  {event.name} [{event.page_id}]")
        if event.section:
            lines.append(f"    section:  {event.section_label}")
        lines.append(f"    sentence: {event.sentence}")
        lines.append(f"    {event.url}")
    return "\n".join(lines)


def upcoming_json(events: Sequence[Event], today: date) -> str:
    """Valid JSON that shows no control of the page's sentences (escaped inside strings)."""
    return printable_json([event.to_dict(today) for event in events], indent=2)
