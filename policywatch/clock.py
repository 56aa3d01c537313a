"""One way to read and write times, so every stage agrees on UTC and on the format.

Stored times carry microseconds and a fixed width ("2026-11-29T22:40:00.123456Z"):
two polls in the same second must still order correctly, and equal-width strings
also sort in time order. Humans get `iso(dt, "seconds")` or `"minutes"`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Timespec = Literal["microseconds", "seconds", "minutes"]

_FORMATS: dict[str, str] = {
    "microseconds": "%Y-%m-%dT%H:%M:%S.%fZ",
    "seconds": "%Y-%m-%dT%H:%M:%SZ",
    "minutes": "%Y-%m-%dT%H:%MZ",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (naive datetimes are never passed around)."""
    return datetime.now(UTC)


def iso(dt: datetime, timespec: Timespec = "microseconds") -> str:
    """`dt` as ISO 8601 UTC with a `Z`; naive datetimes are taken to be UTC already."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(_FORMATS[timespec])


def readable(stamp: str, timespec: Timespec = "minutes") -> str:
    """A stored ISO time as people read it, `2026-11-29 22:40 UTC` (the text itself when it
    is no time), the same in alerts and in every diff header."""
    try:
        return iso(parse_iso(stamp), timespec).replace("T", " ").replace("Z", " UTC")
    except ValueError:
        return stamp


def parse_iso(text: str) -> datetime:
    """Read an ISO 8601 date or date/time into an aware UTC datetime.

    Accepts what people and other tools write: `Z` or `+02:00` offsets, a space
    instead of `T`, with or without fractions, and a bare date (`2026-01-01`,
    meaning midnight UTC at the start of that day). A time without an offset is
    UTC. Raises ValueError naming the text otherwise.
    """
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-01-01 or 2026-01-01T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
