"""The types of single watchlist values, each with its check and its JSON Schema.

A check failing raises a `watchlist` validation error with our own sentence and
hint; `at` names the key or index inside the value the error points at. Shorthands
(one selector where a list is expected, one locale) are widened before checking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from policywatch.watchlist import checks
from policywatch.watchlist.checks import Invalid, did_you_mean, kind
from policywatch.watchlist.profiles import MARKETPLACES, NO_PROFILE, PROFILES

SEVERITIES = ("minor", "major", "critical")
FETCH_MODES = ("auto", "http", "browser")
# `links: alert` opts a rule or route in to changes of a link's target alone.
LINK_CHOICES = ("alert", "record")
DIGEST_PERIODS = ("daily", "weekly", "monthly")


def error(message: str, hint: str | None = None, at: str | int | None = None) -> Exception:
    return PydanticCustomError(
        "watchlist", "{message}", {"message": message, "hint": hint, "at": at}
    )


def checked(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`check` with its Invalid turned into a validation error."""

    def run(value: Any) -> Any:
        try:
            return check(value)
        except Invalid as exc:
            raise error(str(exc), exc.hint) from None

    return run


def _text(value: Any) -> str:
    """Text as the seller wrote it; a number is taken as its digits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid(f"expected text, got {kind(value)}")
    if not value.strip():
        raise Invalid("expected text, got nothing")
    return value


def _choice(what: str, choices: tuple[str, ...]) -> BeforeValidator:
    """One of `choices` (lower case), whatever case the seller wrote it in."""

    def pick(value: Any) -> str:
        text = _text(value).strip()
        if text.lower() not in choices:
            raise Invalid(f"unknown {what} {text!r}", did_you_mean(text.lower(), choices))
        return text.lower()

    return BeforeValidator(checked(pick))


def _any_case(choices: tuple[str, ...]) -> dict[str, Any]:
    """The choices for an editor to offer, in any case, as the loader takes them (`uk`)."""
    spelled = (
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in choice)
        for choice in choices
    )
    return {
        "anyOf": [
            {"type": "string", "enum": list(choices)},
            {"type": "string", "pattern": rf"^\s*(?:{'|'.join(spelled)})\s*$"},
        ]
    }


def _code(value: Any) -> str:
    code = _text(value).strip().upper()
    if code not in MARKETPLACES:
        raise Invalid(f"unknown marketplace {code!r}", did_you_mean(code, MARKETPLACES))
    return code


def _listed(value: Any) -> Any:
    """A single value where a list is expected is a one-item list; nothing is an empty one."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _not_empty(what: str, example: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value == []:
            raise Invalid(f"lists no {what}", f"e.g. {example}")
        return _listed(value)

    return check


def _once(what: str) -> AfterValidator:
    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        for i, value in enumerate(values):
            if value in values[:i]:
                raise error(f"{what} {value} is listed twice", at=i)
        return values

    return AfterValidator(check)


def list_of(what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is not None and not isinstance(value, list):
            raise error(f"expected a list of {what}, got {kind(value)}")
        return value

    return check


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def duration_schema(longest: float) -> dict[str, Any]:
    """A duration for an editor: text with units, or a bare number of seconds."""
    most = checks.format_interval(longest)
    return {
        "anyOf": [
            {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?|(\d+(\.\d+)?\s*[smhdSMHD]\s*)+)\s*$"},
            {"type": "number", "exclusiveMinimum": 0, "maximum": int(longest)},
        ],
        "description": f"a duration, at most {most}: 30s, 15m, 6h, 1d, 1h30m; a number is seconds",
    }


def _duration(longest: float, example: str) -> Any:
    """Seconds, from `6h` or a bare number of seconds, refused past `longest` (see checks)."""
    return Annotated[
        float,
        BeforeValidator(checked(lambda value: checks.duration(value, longest, example))),
        WithJsonSchema(duration_schema(longest)),
    ]


_LOCALE_SCHEMA = {"type": "string", "pattern": checks.LOCALE.pattern.replace("a-z", "A-Za-z")}

Text = Annotated[str, AfterValidator(checked(_text))]
Texts = Annotated[
    tuple[Text, ...], BeforeValidator(_listed), WithJsonSchema(_one_or_many({"type": "string"}))
]
Selector = Annotated[Text, AfterValidator(checked(checks.selector))]
Selectors = Annotated[
    tuple[Selector, ...], BeforeValidator(_listed), WithJsonSchema(_one_or_many({"type": "string"}))
]
Regex = Annotated[Text, AfterValidator(checked(checks.regex))]
Regexes = Annotated[
    tuple[Regex, ...], BeforeValidator(_listed), WithJsonSchema(_one_or_many({"type": "string"}))
]
Terms = Annotated[
    tuple[Annotated[Text, AfterValidator(checked(checks.term))], ...],
    BeforeValidator(_listed),
    WithJsonSchema(_one_or_many({"type": "string"})),
]
Interval = _duration(checks.MAX_INTERVAL, "interval: 6h")
Timeout = _duration(checks.MAX_TIMEOUT, "timeout: 30s")
SettleTime = _duration(checks.MAX_SETTLE, "settle: 2h")
TranslationLag = _duration(checks.MAX_TRANSLATION_LAG, "translation_lag: 14d")
Locale = Annotated[
    str,
    BeforeValidator(checked(lambda v: checks.locale(_text(v)))),
    WithJsonSchema(_LOCALE_SCHEMA),
]
Locales = Annotated[
    tuple[Locale, ...],
    BeforeValidator(checked(_not_empty("locale", "locale: [en-GB, de-DE]"))),
    _once("locale"),
    WithJsonSchema(_one_or_many(_LOCALE_SCHEMA)),
]
Code = Annotated[
    Literal[tuple(MARKETPLACES)],
    BeforeValidator(checked(_code)),
    WithJsonSchema(_any_case(tuple(MARKETPLACES))),
]
Codes = Annotated[
    tuple[Code, ...],
    BeforeValidator(checked(_not_empty("marketplace", "marketplaces: [US, UK, DE]"))),
    _once("marketplace"),
    WithJsonSchema(_one_or_many(_any_case(tuple(MARKETPLACES)))),
]
SeverityName = Annotated[
    Literal[SEVERITIES], _choice("severity", SEVERITIES), WithJsonSchema(_any_case(SEVERITIES))
]
FetchMode = Annotated[
    Literal[FETCH_MODES], _choice("fetch", FETCH_MODES), WithJsonSchema(_any_case(FETCH_MODES))
]
Links = Annotated[
    Literal[LINK_CHOICES], _choice("links", LINK_CHOICES), WithJsonSchema(_any_case(LINK_CHOICES))
]
_PROFILE_NAMES = (*PROFILES, NO_PROFILE)
ProfileName = Annotated[
    Literal[_PROFILE_NAMES],
    _choice("profile", _PROFILE_NAMES),
    WithJsonSchema(_any_case(_PROFILE_NAMES)),
]


def _days_before(value: Any) -> int:
    """One reminder: whole days before an effective date (0 = on the day)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        raise Invalid(
            f"a reminder is a whole number of days before the date (0 to 365), got {value!r}",
            "e.g. remind: [14, 1]",
        )
    return value


_DAYS_SCHEMA = {"type": "integer", "minimum": 0, "maximum": 365}
RemindDays = Annotated[
    tuple[
        Annotated[int, BeforeValidator(checked(_days_before)), WithJsonSchema(_DAYS_SCHEMA)], ...
    ],
    BeforeValidator(_listed),
    _once("reminder"),
    WithJsonSchema(_one_or_many(_DAYS_SCHEMA)),
]
Whole = Annotated[int, Strict()]
DigestPeriod = Annotated[
    Literal[DIGEST_PERIODS],
    _choice("digest period", DIGEST_PERIODS),
    WithJsonSchema(_any_case(DIGEST_PERIODS)),
]
DigestDay = Annotated[
    str | int,
    BeforeValidator(checked(checks.digest_day)),
    WithJsonSchema(
        {"anyOf": [_any_case(checks.WEEKDAYS), {"type": "integer", "minimum": 1, "maximum": 28}]}
    ),
]
Timezone = Annotated[Text, AfterValidator(checked(checks.timezone))]
Flag = Annotated[bool, Strict()]


def header_names(value: Any) -> Any:
    if not isinstance(value, dict):
        raise error(f"expected a mapping of header names to values, got {kind(value)}")
    for name in value:
        if not checks.HEADER_NAME.fullmatch(str(name)):
            raise error(f"{name!r} is not a valid HTTP header name", at=name)
    return value


def one_code(value: Any) -> Any:
    if isinstance(value, list):
        raise Invalid("expected one marketplace code", "for several, use `marketplaces:`")
    return value
