"""Digest schedules: the periods a route's digest covers, and when each one is due.

A period ends at the configured hour (and weekday, or day of the month) on the wall
clock of the route's timezone (UTC unless `timezone:` names another), so "Monday
08:00 Europe/Berlin" stays 08:00 there across daylight saving. The digest of a
period is due the moment the period ends; periods are [start, end) in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from policywatch.models import DigestSchedule
from policywatch.watchlist.checks import WEEKDAYS
from policywatch.watchlist.values import error

DEFAULT_HOUR = 8


def check_day(model: Any) -> Any:
    """The day fits the period: a weekday for weekly, 1-28 for monthly, none for daily."""
    every, day = model.every, model.day
    if day is None:
        return model
    if every == "daily":
        raise error("a daily digest has no `day`", "remove `day:`, or use every: weekly", "day")
    if every == "weekly" and not isinstance(day, str):
        raise error(f"a weekly digest's day is a weekday, not {day!r}", "e.g. day: monday", "day")
    if every == "monthly" and not (isinstance(day, int) and 1 <= day <= 28):
        raise error(
            f"a monthly digest's day is a day of the month from 1 to 28, not {day!r}",
            "e.g. day: 1 (28 at most, so every month has it)",
            "day",
        )
    return model


def schedule_of(
    every: str, day: str | int | None, hour: int | None, zone: str | None
) -> DigestSchedule:
    """The runtime schedule of a validated `digest:` entry, defaults applied."""
    if every == "weekly":
        number = WEEKDAYS.index(day) if isinstance(day, str) else 0
    else:
        number = day if isinstance(day, int) else 1
    return DigestSchedule(
        every=every,  # type: ignore[arg-type]
        day=number,
        hour=DEFAULT_HOUR if hour is None else hour,
        timezone=zone or "UTC",
    )


def _boundary_at_or_before(schedule: DigestSchedule, local: datetime) -> datetime:
    """The latest period end at or before `local` (a wall time in the route's zone)."""
    end = local.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
    if schedule.every == "daily":
        return end if end <= local else end - timedelta(days=1)
    if schedule.every == "weekly":
        end -= timedelta(days=(end.weekday() - schedule.day) % 7)
        return end if end <= local else end - timedelta(days=7)
    end = end.replace(day=schedule.day)
    return end if end <= local else _months_before(end, 1)


def _months_before(local: datetime, months: int) -> datetime:
    total = local.year * 12 + local.month - 1 - months
    return local.replace(year=total // 12, month=total % 12 + 1)


def _previous(schedule: DigestSchedule, end: datetime) -> datetime:
    """The period end one period before `end` (both wall times in the route's zone)."""
    if schedule.every == "daily":
        return end - timedelta(days=1)
    if schedule.every == "weekly":
        return end - timedelta(days=7)
    return _months_before(end, 1)


def last_period(schedule: DigestSchedule, now: datetime) -> tuple[datetime, datetime]:
    """The last period that has ended by `now`: (start, end), both in UTC.

    Wall-time arithmetic happens in the route's zone, then each end is converted, so
    a week that crosses a daylight saving change is 167 or 169 hours long.
    """
    zone = ZoneInfo(schedule.timezone)
    # fold=0: in the hour that repeats in autumn a boundary is its first occurrence,
    # whichever of the two the clock is in, so every pass agrees on the period's end.
    local = now.astimezone(zone).replace(tzinfo=None, fold=0)
    end = _boundary_at_or_before(schedule, local)
    start = _previous(schedule, end)
    return (start.replace(tzinfo=zone).astimezone(UTC), end.replace(tzinfo=zone).astimezone(UTC))


def describe_schedule(schedule: DigestSchedule) -> str:
    """The schedule as `validate` prints it: `weekly, due Mondays 08:00 UTC`."""
    at = f"{schedule.hour:02d}:00 {schedule.timezone}"
    if schedule.every == "daily":
        return f"daily, due every day at {at}"
    if schedule.every == "weekly":
        return f"weekly, due {WEEKDAYS[schedule.day].capitalize()}s at {at}"
    return f"monthly, due on day {schedule.day} of each month at {at}"
