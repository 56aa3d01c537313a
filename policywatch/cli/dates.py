"""`policywatch upcoming` and `policywatch calendar`: what takes effect when, across pages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from policywatch.cli.common import emit, open_store
from policywatch.clock import utcnow

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_upcoming(args: argparse.Namespace) -> int:
    from policywatch.alerts.effective import latest_events
    from policywatch.views.calendar import upcoming, upcoming_json, upcoming_text

    with open_store(args) as store:
        events = latest_events(store)
    today = utcnow().date()
    soon = upcoming(events, today, args.days)
    if args.format == "json":
        emit(upcoming_json(soon, today))
    else:
        emit(upcoming_text(soon, today, args.days))
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    from policywatch.alerts.effective import latest_events
    from policywatch.views.calendar import calendar_ics

    with open_store(args) as store:
        events = latest_events(store)
    sys.stdout.buffer.write(calendar_ics(events))
    sys.stdout.flush()
    return 0


def add_dates(command: Command, count: Callable[[str], float]) -> None:
    """Register both commands on the main parser."""
    p = command("upcoming", cmd_upcoming, "list what takes effect soon, across every page")
    p.add_argument(
        "--days",
        type=count,
        default=90,
        metavar="N",
        help="how far ahead to look, in days (default: 90)",
    )
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    command(
        "calendar",
        cmd_calendar,
        "print every effective date as iCalendar: policywatch calendar > policies.ics",
    )
