"""Checks on single watchlist values that a type alone cannot express, and durations.

Each check raises `Invalid` with a sentence and a hint a seller can act on; the
schema turns it into a validation error and the loader adds the file, line and key.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

EXAMPLE_URL = "https://sellercentral.amazon.com/help/hub/reference/external/G1801?locale=en-US"

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_PAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LOCALE = re.compile(r"([a-z]{2,3})(?:[-_]([a-z]{2}))?", re.IGNORECASE)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class Invalid(ValueError):
    """A value that does not make sense, with the hint to fix it.

    `loc` is where it sits in the watchlist (`("pages", 2, "id")`), set by the checks
    that run after the schema, which the loader turns into a file line and key path.
    """

    def __init__(
        self, message: str, hint: str | None = None, loc: tuple[str | int, ...] = ()
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.loc = loc


def kind(value: Any) -> str:
    """What a YAML value is, in the words a seller knows."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return "text"


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    listed = ", ".join(choices)
    return f"did you mean {close[0]!r}? (allowed: {listed})" if close else f"allowed: {listed}"


# --------------------------------------------------------------------------- durations


def parse_interval(text: str | float) -> float:
    """Seconds in `6h`, `30m`, `2s`, `1d`, `1h30m` or a bare number of seconds.

    Raises ValueError with a sentence a user can act on.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like 6h, got {text!r}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = str(text).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", compact):
            seconds = float(compact)
        elif compact and re.fullmatch(f"(?:{_INTERVAL_PART.pattern})+", compact):
            seconds = sum(float(n) * _UNITS[u] for n, u in _INTERVAL_PART.findall(compact))
        else:
            raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 15m, 6h or 1d")
    if not 0 < seconds < math.inf:
        raise ValueError(f"a duration must be more than zero and finite, got {text!r}")
    return seconds


def format_interval(seconds: float) -> str:
    """The shortest exact spelling of a duration (`21600` -> `6h`), for listings."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# The longest each duration may be. Past them a value is a typo, not a wish, and it
# would fail much later instead of at its line: `run`'s scheduler keeps an interval in
# a C int, a fetch's deadline is a time_t, a lag a timedelta of at most 10^9 days.
YEAR = 365 * 86400.0
# A page polled less than yearly is not watched; a flap or a translation that takes a
# year to settle is a new version, not noise.
MAX_INTERVAL = MAX_SETTLE = MAX_TRANSLATION_LAG = YEAR
# A site or a receiver that has not answered in 10 minutes will not; waiting longer only
# keeps a cron `check` running and `run`'s watchdog from seeing a stuck fetch or send.
MAX_TIMEOUT = 600.0


def duration(value: Any, longest: float, example: str) -> float:
    """A duration as the watchlist writes it, in seconds, at most `longest`."""
    if not isinstance(value, str | int | float):
        raise Invalid(f"expected a duration like 6h, got {kind(value)}")
    try:
        seconds = parse_interval(value)
    except ValueError as exc:
        raise Invalid(str(exc), f"units: s (seconds), m, h, d; e.g. {example}") from None
    if seconds > longest:
        raise Invalid(
            f"{value!r} is too long: it may be at most {format_interval(longest)}",
            f"e.g. {example}",
        )
    return seconds


# --------------------------------------------------------------------------- text values


@lru_cache(maxsize=512)
def selector(text: str) -> str:
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    try:
        CSSSelector(text)
    except SelectorError as exc:
        raise Invalid(
            f"invalid CSS selector {text!r}: {exc}",
            "write a CSS selector such as #full-help-page, .help-content or div[hidden]",
        ) from None
    return text


def regex(pattern: str) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise Invalid(
            f"invalid regular expression {pattern!r}: {exc}",
            r"escape characters that have a meaning in regexes, e.g. \( \[ \. \*",
        ) from None
    if compiled.fullmatch(""):
        # An `ignore` like `.*` would erase every change; a rule like it would flag them all.
        raise Invalid(
            f"regular expression {pattern!r} matches empty text, so it matches everywhere",
            "make it require at least one character, e.g. `x+` rather than `x*`",
        )
    return pattern


def url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Invalid(
            f"{text!r} is not an http(s) URL",
            f"write the full address of the page, e.g. {EXAMPLE_URL}",
        )
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise Invalid(f"{text!r} has no valid port", "a port is a number up to 65535") from None
    if any(c.isspace() for c in parts.netloc):  # caught now, not at the first check
        raise Invalid(
            f"{text!r} has a space in its host name", "copy the address again from the browser"
        )
    return text.strip()


def page_url(text: str) -> str:
    """A page's address, which takes no `${NAME}`: it is shown in `validate`, alerts, history
    and the web view, and names the page's history, so a secret belongs in `headers:`."""
    if "${" in text:
        raise Invalid(
            "a page `url` takes no ${...} from the environment; it would be fetched as written",
            'put the secret in a header, e.g. headers: {Authorization: "Bearer ${POLICY_TOKEN}"}',
        )
    return url(text)


def term(text: str) -> str:
    if "*" in text.rstrip("*") or text.strip() == "*":
        raise Invalid(
            f"term {text!r}: '*' may only end a word (incentiv* matches incentive, incentivize)",
            "use `patterns:` with a regular expression for anything fancier",
        )
    return text


def page_id(text: str) -> str:
    if not _PAGE_ID.fullmatch(text):
        raise Invalid(
            f"page id {text!r} may only use letters, digits, '.', '_' and '-'",
            "e.g. id: seller-code-of-conduct ('@' is added by `marketplaces:`)",
        )
    return text


def locale(text: str) -> str:
    """`de_de` -> `de-DE`: the one spelling URLs, headers and ids use."""
    match = LOCALE.fullmatch(text.strip())
    if not match:
        raise Invalid(f"{text!r} is not a locale", "write it like en-US, en-GB or de-DE")
    language, region = match.groups()
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def header_value(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise Invalid("a header value must fit on one line")
    return text


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def digest_day(value: Any) -> str | int:
    """A weekday by name (any case), or a day of the month as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text and text.isdigit():
        return int(text)
    if text not in WEEKDAYS:
        raise Invalid(
            f"unknown day {value!r}",
            did_you_mean(text or "", WEEKDAYS) + "; or a day of the month, 1-28",
        )
    return text


def timezone(name: str) -> str:
    """An IANA timezone name the system knows (zoneinfo), e.g. Europe/Berlin."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"unknown timezone {name!r}", "use an IANA name, e.g. UTC, Europe/Berlin"
        ) from None
    return name.strip()
