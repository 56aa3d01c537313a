"""Read watchlist.yaml into a validated Config, failing early with the line to fix.

Everything a run could trip over later (a typo'd key, a selector that does not
compile, a regex with an unbalanced bracket, a notify URL whose secret is not
set) is caught here, before anything is fetched or written, and reported as
`watchlist.yaml:12: pages[2].select: ...` with a hint. The YAML is composed into
its node tree rather than loaded, so every value keeps the line it came from.

Notify URLs may hold `${VAR}` references, expanded from the environment so
secrets stay out of the file. A route marked `optional: true` whose variables
are not all set is skipped with a warning instead of failing, which is how the
shipped example validates on a machine with no secrets configured.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import yaml

from policywatch.errors import ConfigError
from policywatch.fetch import netpolicy
from policywatch.models import (
    Config,
    Defaults,
    PageSpec,
    Route,
    Rule,
    Settle,
    Severity,
    Validity,
)
from policywatch.profiles import (
    MARKETPLACES,
    NO_PROFILE,
    PROFILES,
    Profile,
    accept_language,
    marketplace_for_host,
    profile_for_host,
)
from policywatch.redact import redact, redact_page_url

log = logging.getLogger(__name__)

TOP_KEYS = ("defaults", "pages", "rules", "notify")
PAGE_DEFAULT_KEYS = ("select", "remove", "ignore", "fetch", "allow_private")
DURATION_DEFAULTS = ("interval", "timeout")
DEFAULT_KEYS = (
    *DURATION_DEFAULTS,
    "user_agent",
    "per_host",
    "workers",
    "max_bytes",
    "retries",
    "failures_before_alert",
    "alert_on_cosmetic",
    "settle",
    *PAGE_DEFAULT_KEYS,
)
PAGE_KEYS = (
    "id",
    "url",
    "title",
    "select",
    "remove",
    "ignore",
    "marketplace",
    "marketplaces",
    "locale",
    "fetch",
    "interval",
    "timeout",
    "headers",
    "profile",
    "validity",
    "rules",
    "allow_private",
    "settle",
)
VALIDITY_KEYS = tuple(f.name for f in dataclasses.fields(Validity))
PAGE_RULE_KEYS = ("name", "terms", "patterns", "severity", "links", "language", "lang")
RULE_KEYS = (*PAGE_RULE_KEYS, "pages")  # a global rule may be limited to some pages
SETTLE_KEYS = ("polls", "for")
ROUTE_KEYS = ("url", "name", "min_severity", "optional", "links", "timeout")
# `links: alert` opts a rule or route in to changes of a link's target alone.
LINK_CHOICES = ("alert", "record")
FETCH_MODES = ("auto", "http", "browser")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_PAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LOCALE = re.compile(r"([a-z]{2,3})(?:[-_]([a-z]{2}))?", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXAMPLE_URL = "https://sellercentral.amazon.com/help/hub/reference/external/G1801?locale=en-US"


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


# --------------------------------------------------------------------------- YAML with lines


class _Node(NamedTuple):
    """A YAML value (scalar, list of _Node, or dict of str -> _Node) and its 1-based line.

    A mapping entry carries the line of its key, which is where a reader looks.
    """

    value: Any
    line: int


@dataclasses.dataclass(frozen=True)
class _At:
    """Where a value sits: file, line and key path (`pages[2].select`), to word errors."""

    file: str
    key: str
    line: int

    def child(self, name: str | int, node: _Node) -> _At:
        if isinstance(name, int):
            key = f"{self.key}[{name}]"
        else:
            key = f"{self.key}.{name}" if self.key else name
        return _At(self.file, key, node.line)

    def entry(self, entries: Mapping[str, _Node], name: str) -> _At:
        """The location of `name` in a mapping, or of the mapping itself when it is absent."""
        return self.child(name, entries[name]) if name in entries else self

    def error(self, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line, key=self.key or None, hint=hint)


class _Invalid(ValueError):
    """A value of the right type that does not make sense; the reader adds the location."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# A watchlist of a few hundred pages is tens of KB and a few thousand YAML values; these
# bounds are far above that and far below what hurts (an alias bomb under 1 KB expands
# to billions of values: gigabytes of memory, a frozen `run`).
MAX_WATCHLIST_BYTES = 1024 * 1024
MAX_WATCHLIST_VALUES = 100_000


def _read_tree(path: Path, file: str) -> _Node:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_WATCHLIST_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            "no such file",
            file=file,
            hint="create it (start from the commented watchlist.yaml shipped with policywatch) "
            "or point to yours with `policywatch -c PATH validate`",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    if len(data) > MAX_WATCHLIST_BYTES:
        raise ConfigError(
            f"is larger than {MAX_WATCHLIST_BYTES // 1024} KB; a watchlist is a few KB",
            file=file,
            hint="check that -c/--config points at the watchlist, not at another file",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "is not UTF-8 text", file=file, line=line, hint="save it as UTF-8"
        ) from None
    constructor = yaml.constructor.SafeConstructor()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return _Node(None, 1)
        _check_expansion(root, file)
        return _convert(root, constructor, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(
            f"invalid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            hint="check the indentation and quoting on this line or the one above; "
            "quote values that contain ': ' or start with a special character",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError(
            "is nested too deeply to be a watchlist", file=file, hint="flatten the nesting"
        ) from None


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document whose aliases expand past MAX_WATCHLIST_VALUES values.

    Aliases are shared nodes, so the expanded size of each node is counted once
    (memoised by identity): the check is linear in the text even for a bomb,
    and it names the line of the first value whose expansion is too big.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_WATCHLIST_VALUES + 1  # a node that contains itself is unbounded
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_WATCHLIST_VALUES:
                raise ConfigError(
                    f"YAML aliases here expand to more than {MAX_WATCHLIST_VALUES:,} values "
                    "(an alias bomb?); a watchlist is a few thousand",
                    file=file,
                    line=child.start_mark.line + 1,
                    hint="write the values out, or use fewer nested `*alias` references",
                )
        sizes[id(node)] = total
        return total

    size(root)


def _convert(node: yaml.Node, constructor: yaml.constructor.SafeConstructor, file: str) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, key_line = (
                str(constructor.construct_object(key_node)),
                key_node.start_mark.line + 1,
            )
            if key in seen:
                raise ConfigError(
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} "
                    f"and {key_line}); the second would silently win",
                    file=file,
                    line=key_line,
                    key=key,
                    hint="remove or merge one of them",
                )
            seen[key] = key_line
        constructor.flatten_mapping(node)  # `<<: *anchor` merges; the mapping's own keys win
        entries = {
            str(constructor.construct_object(k)): _Node(
                _convert(v, constructor, file).value, k.start_mark.line + 1
            )
            for k, v in node.value
        }
        return _Node(entries, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(item, constructor, file) for item in node.value], line)
    return _Node(constructor.construct_object(node, deep=True), line)


# --------------------------------------------------------------------------- typed readers


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "text"


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    listed = ", ".join(choices)
    return f"did you mean {close[0]!r}? (allowed: {listed})" if close else f"allowed: {listed}"


def _mapping(node: _Node, at: _At, allowed: Collection[str]) -> dict[str, _Node]:
    if not isinstance(node.value, dict):
        raise at.error(f"expected a mapping (key: value lines), got {_kind(node.value)}")
    for key, child in node.value.items():
        if key not in allowed:
            raise at.child(key, child).error(f"unknown key {key!r}", _did_you_mean(key, allowed))
    return node.value


def _text(node: _Node, at: _At, check: Callable[[str], None] | None = None) -> str:
    value = node.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise at.error(f"expected text, got {_kind(value)}")
    if not value.strip():
        raise at.error("expected text, got nothing")
    if check is not None:
        try:
            check(value)
        except _Invalid as exc:
            raise at.error(str(exc), exc.hint) from None
    return value


def _texts(node: _Node, at: _At, check: Callable[[str], None] | None = None) -> tuple[str, ...]:
    """A list of strings; a single string is accepted as a one-item list."""
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        return (_text(node, at, check),)
    return tuple(_text(item, at.child(i, item), check) for i, item in enumerate(node.value))


def _integer(node: _Node, at: _At, minimum: int) -> int:
    if not isinstance(node.value, int) or isinstance(node.value, bool):
        raise at.error(f"expected a whole number, got {_kind(node.value)}")
    if node.value < minimum:
        raise at.error(f"must be at least {minimum}, got {node.value}")
    return node.value


def _boolean(node: _Node, at: _At) -> bool:
    if not isinstance(node.value, bool):
        raise at.error(f"expected true or false, got {_kind(node.value)}")
    return node.value


def _duration(node: _Node, at: _At) -> float:
    if not isinstance(node.value, str | int | float):
        raise at.error(f"expected a duration like 6h, got {_kind(node.value)}")
    try:
        return parse_interval(node.value)
    except ValueError as exc:
        raise at.error(str(exc), "units: s (seconds), m, h, d; e.g. interval: 6h") from None


def _settle(node: _Node, at: _At, base: Settle) -> Settle:
    """`settle: 2h` (how long), or `settle: {polls: 3, for: 2h}`; unset parts keep `base`."""
    if not isinstance(node.value, dict):
        return dataclasses.replace(base, seconds=_duration(node, at))
    entries = _mapping(node, at, SETTLE_KEYS)
    return Settle(
        polls=_read(entries, at, "polls", _integer, 1, default=base.polls),
        seconds=_read(entries, at, "for", _duration, default=base.seconds),
    )


def _choice(node: _Node, at: _At, choices: Collection[str], what: str) -> str:
    """One of `choices` (all lower case), whatever case the user wrote it in."""
    value = _text(node, at).strip()
    if value.lower() not in choices:
        raise at.error(f"unknown {what} {value!r}", _did_you_mean(value.lower(), choices))
    return value.lower()


def _severity(node: _Node, at: _At) -> Severity:
    choices = [str(s) for s in Severity]
    return Severity.parse(_choice(node, at, choices, "severity"))


# --------------------------------------------------------------------------- value checks


@lru_cache(maxsize=512)
def _check_selector(selector: str) -> None:
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    try:
        CSSSelector(selector)
    except SelectorError as exc:
        raise _Invalid(
            f"invalid CSS selector {selector!r}: {exc}",
            "write a CSS selector such as #full-help-page, .help-content or div[hidden]",
        ) from None


def _check_regex(pattern: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise _Invalid(
            f"invalid regular expression {pattern!r}: {exc}",
            r"escape characters that have a meaning in regexes, e.g. \( \[ \. \*",
        ) from None
    if compiled.fullmatch(""):
        # An `ignore` like `.*` would erase every change; a rule like it would flag them all.
        raise _Invalid(
            f"regular expression {pattern!r} matches empty text, so it matches everywhere",
            "make it require at least one character, e.g. `x+` rather than `x*`",
        )


def _check_url(url: str) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _Invalid(
            f"{url!r} is not an http(s) URL",
            f"write the full address of the page, e.g. {_EXAMPLE_URL}",
        )


def _check_term(term: str) -> None:
    if "*" in term.rstrip("*") or term.strip() == "*":
        raise _Invalid(
            f"term {term!r}: '*' may only end a word (incentiv* matches incentive, incentivize)",
            "use `patterns:` with a regular expression for anything fancier",
        )


def _check_page_id(page_id: str) -> None:
    if not _PAGE_ID.fullmatch(page_id):
        raise _Invalid(
            f"page id {page_id!r} may only use letters, digits, '.', '_' and '-'",
            "e.g. id: seller-code-of-conduct ('@' is added by `marketplaces:`)",
        )


# --------------------------------------------------------------------------- sections


def _read(
    entries: Mapping[str, _Node],
    at: _At,
    key: str,
    reader: Callable[..., Any],
    *args: Any,
    default: Any = None,
) -> Any:
    """`reader` applied to `key` at its own location when present, else `default`."""
    if key not in entries:
        return default
    return reader(entries[key], at.child(key, entries[key]), *args)


class _PageDefaults(NamedTuple):
    """Page settings written under `defaults:`; a page's own value wins over these."""

    select: str | None = None
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fetch: str | None = None
    allow_private: bool = False


_MINIMUMS = {
    "per_host": 1,
    "workers": 1,
    "max_bytes": 1024,
    "retries": 0,
    "failures_before_alert": 1,
}


def _parse_defaults(node: _Node | None, at: _At) -> tuple[Defaults, _PageDefaults]:
    if node is None or node.value is None:
        return Defaults(), _PageDefaults()
    entries = _mapping(node, at, DEFAULT_KEYS)
    values: dict[str, Any] = {}
    for key in entries.keys() & set(DURATION_DEFAULTS):
        values[key] = _read(entries, at, key, _duration)
    for key in entries.keys() & _MINIMUMS.keys():
        values[key] = _read(entries, at, key, _integer, _MINIMUMS[key])
    if "user_agent" in entries:
        values["user_agent"] = _read(entries, at, "user_agent", _text)
    if "alert_on_cosmetic" in entries:
        values["alert_on_cosmetic"] = _read(entries, at, "alert_on_cosmetic", _boolean)
    if "settle" in entries:
        values["settle"] = _read(entries, at, "settle", _settle, Settle())
    page = _PageDefaults(
        select=_read(entries, at, "select", _text, _check_selector),
        remove=_read(entries, at, "remove", _texts, _check_selector, default=()),
        ignore=_read(entries, at, "ignore", _texts, _check_regex, default=()),
        fetch=_read(entries, at, "fetch", _choice, FETCH_MODES, "fetch"),
        allow_private=_read(entries, at, "allow_private", _boolean, default=False),
    )
    return Defaults(**values), page


def _parse_rule(node: _Node, at: _At, allowed: Collection[str]) -> Rule:
    entries = _mapping(node, at, allowed)
    if "name" not in entries:
        raise at.error("a rule needs a `name`", "e.g. name: buyer-contact")
    name = _read(entries, at, "name", _text)
    terms = _read(entries, at, "terms", _texts, _check_term, default=())
    patterns = _read(entries, at, "patterns", _texts, _check_regex, default=())
    if not terms and not patterns:
        raise at.error(f"rule {name!r} watches nothing", "give it `terms:` or `patterns:`")
    if "language" in entries and "lang" in entries:
        raise at.entry(entries, "lang").error(
            "use either `language:` or `lang:`, not both", "e.g. language: de"
        )
    key = "lang" if "lang" in entries else "language"
    return Rule(
        name=name,
        severity=_read(entries, at, "severity", _severity, default=Severity.MAJOR),
        terms=terms,
        patterns=patterns,
        pages=_read(entries, at, "pages", _texts, default=()),
        links_alert=_links_alert(entries, at),
        language=_read(entries, at, key, _locale),
    )


def _links_alert(entries: Mapping[str, _Node], at: _At) -> bool:
    return _read(entries, at, "links", _choice, LINK_CHOICES, "links", default="record") == "alert"


def _parse_rules(node: _Node, at: _At, allowed: Collection[str]) -> tuple[Rule, ...]:
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise at.error(f"expected a list of rules, got {_kind(node.value)}")
    rules: list[Rule] = []
    seen: dict[tuple[str, str | None], int] = {}
    for i, item in enumerate(node.value):
        where = at.child(i, item)
        rule = _parse_rule(item, where, allowed)
        # One name may be written once per language: the same rule as each market words it.
        key = (rule.name, rule.language)
        if key in seen:
            raise where.error(
                f"rule name {rule.name!r} is used twice (lines {seen[key]} and {item.line})",
                "give each rule its own name",
            )
        seen[key] = item.line
        rules.append(rule)
    return tuple(rules)


def _check_rule_pages(node: _Node, rules: tuple[Rule, ...], at: _At, ids: set[str]) -> None:
    for i, rule in enumerate(rules):
        unknown = [page_id for page_id in rule.pages if page_id not in ids]
        if unknown:
            raise at.child(i, node.value[i]).error(
                f"rule {rule.name!r} names page {unknown[0]!r}, which is not in `pages`",
                _did_you_mean(unknown[0], sorted(ids)),
            )


# --------------------------------------------------------------------------- pages


def _profile(entries: Mapping[str, _Node], at: _At, url: str) -> Profile | None:
    if "profile" not in entries:
        return profile_for_host(urlsplit(url).hostname or "")
    name = _read(entries, at, "profile", _choice, (*PROFILES, NO_PROFILE), "profile")
    return None if name == NO_PROFILE else PROFILES[name]


def _parse_validity(node: _Node, at: _At, base: Validity) -> Validity:
    entries = _mapping(node, at, VALIDITY_KEYS)
    readers: dict[str, tuple[Any, ...]] = {
        "min_length": (_integer, 0),
        "language": (_text,),
        "h1": (_text, _check_regex),
        "required_headings": (_texts,),
        "country": (_text,),
    }
    changes = {key: _read(entries, at, key, *readers[key]) for key in entries}
    return dataclasses.replace(base, **changes)


def _parse_headers(node: _Node, at: _At) -> dict[str, str]:
    if not isinstance(node.value, dict):
        raise at.error(f"expected a mapping of header names to values, got {_kind(node.value)}")
    headers: dict[str, str] = {}
    for name, child in node.value.items():
        where = at.child(name, child)
        if not _HEADER_NAME.fullmatch(name):
            raise where.error(f"{name!r} is not a valid HTTP header name")
        value = _text(child, where)
        if "\n" in value or "\r" in value:
            raise where.error("a header value must fit on one line")
        headers[name] = value
    return headers


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Concatenate lists of selectors/patterns, keeping the first of each duplicate."""
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _locales(node: _Node, at: _At) -> tuple[str, ...]:
    """One locale, or a list of them: the languages the page is watched in."""
    if not isinstance(node.value, list):
        return (_locale(node, at),)
    if not node.value:
        raise at.error("lists no locale", "e.g. locale: [en-GB, de-DE]")
    locales = tuple(_locale(item, at.child(i, item)) for i, item in enumerate(node.value))
    for i, locale in enumerate(locales):
        if locale in locales[:i]:
            raise at.child(i, node.value[i]).error(f"locale {locale} is listed twice")
    return locales


def _locale(node: _Node, at: _At) -> str:
    value = _text(node, at)
    match = _LOCALE.fullmatch(value.strip())
    if not match:
        raise at.error(f"{value!r} is not a locale", "write it like en-US, en-GB or de-DE")
    language, region = match.groups()
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def _pin_locale(spec: PageSpec, locale: str, host: str | None = None) -> PageSpec:
    """The page with `?locale=` and Accept-Language pinned, on `host` when given."""
    parts = urlsplit(spec.url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "locale"]
    netloc = parts.netloc
    if host is not None:
        netloc = host if parts.port is None else f"{host}:{parts.port}"
    url = urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode([*query, ("locale", locale)]), parts.fragment)
    )
    headers = dict(spec.headers)
    if not any(name.lower() == "accept-language" for name in headers):
        headers["Accept-Language"] = accept_language(locale)
    return dataclasses.replace(spec, url=url, headers=headers)


def _marketplace_codes(entries: Mapping[str, _Node], at: _At) -> tuple[list[str], bool]:
    """The marketplace codes asked for, and whether ids get an `@CODE` suffix."""
    if "marketplace" in entries and "marketplaces" in entries:
        raise at.entry(entries, "marketplaces").error(
            "use either `marketplace:` (one) or `marketplaces:` (a list), not both"
        )
    key = "marketplaces" if "marketplaces" in entries else "marketplace"
    if key not in entries:
        return [], False
    node, where = entries[key], at.entry(entries, key)
    if key == "marketplace" and isinstance(node.value, list):
        raise where.error("expected one marketplace code", "for several, use `marketplaces:`")
    items = [(node, where)]
    if isinstance(node.value, list):
        items = [(item, where.child(i, item)) for i, item in enumerate(node.value)]
    if not items:
        raise where.error("lists no marketplace", "e.g. marketplaces: [US, UK, DE]")
    codes: list[str] = []
    for item, item_at in items:
        code = _text(item, item_at).strip().upper()
        if code not in MARKETPLACES:
            raise item_at.error(f"unknown marketplace {code!r}", _did_you_mean(code, MARKETPLACES))
        if code in codes:
            raise item_at.error(f"marketplace {code} is listed twice")
        codes.append(code)
    return codes, key == "marketplaces"


def _parse_page(
    node: _Node, at: _At, defaults: Defaults, page_defaults: _PageDefaults
) -> list[PageSpec]:
    """One page entry with profile and defaults applied: one PageSpec per marketplace.

    Precedence: the page's own value, then `defaults:`, then the profile; `remove`
    and `ignore` lists add up instead.
    """
    entries = _mapping(node, at, PAGE_KEYS)
    for required, example in (("id", "seller-code-of-conduct"), ("url", _EXAMPLE_URL)):
        if required not in entries:
            raise at.error(f"a page needs an `{required}`", f"e.g. {required}: {example}")
    page_id = _read(entries, at, "id", _text, _check_page_id)
    url = _read(entries, at, "url", _text, _check_url).strip()
    host = urlsplit(url).hostname or ""
    profile = _profile(entries, at, url)
    validity = profile.validity if profile else Validity()
    home = marketplace_for_host(host)
    if profile and home and validity.country is None:
        validity = dataclasses.replace(validity, country=home.country)
    if "validity" in entries:
        validity = _read(entries, at, "validity", _parse_validity, validity)
    select = _read(entries, at, "select", _text, _check_selector)
    fetch = _read(entries, at, "fetch", _choice, FETCH_MODES, "fetch")
    spec = PageSpec(
        id=page_id,
        url=url,
        title=_read(entries, at, "title", _text, default=""),
        select=select or page_defaults.select or (profile.select if profile else None),
        remove=_merge(
            profile.remove if profile else (),
            page_defaults.remove,
            _read(entries, at, "remove", _texts, _check_selector, default=()),
        ),
        ignore=_merge(
            page_defaults.ignore, _read(entries, at, "ignore", _texts, _check_regex, default=())
        ),
        fetch=fetch or page_defaults.fetch or (profile.fetch if profile else "auto"),
        interval=_read(entries, at, "interval", _duration, default=defaults.interval),
        timeout=_read(entries, at, "timeout", _duration, default=defaults.timeout),
        headers=_read(entries, at, "headers", _parse_headers, default={}),
        profile=profile.name if profile else None,
        validity=validity,
        rules=_read(entries, at, "rules", _parse_rules, PAGE_RULE_KEYS, default=()),
        allow_private=_read(
            entries, at, "allow_private", _boolean, default=page_defaults.allow_private
        ),
        settle=_read(entries, at, "settle", _settle, defaults.settle, default=defaults.settle),
    )
    try:  # a URL that names a refused address could never be fetched: say so now
        netpolicy.check_url(url, spec.allow_private)
    except netpolicy.Refused as exc:
        raise at.entry(entries, "url").error(exc.reason) from None
    locales = _read(entries, at, "locale", _locales, default=())
    codes, suffix = _marketplace_codes(entries, at)
    if len(locales) > 1:
        # One policy read in several languages: one watch per language, `id@de-DE` or
        # `id@DE.de-DE`, so `compare` can tell when one language has not followed the other.
        return [
            dataclasses.replace(one, id=f"{one.id}{'.' if '@' in one.id else '@'}{locale}")
            for locale in locales
            for one in _pinned(spec, entries, at, locale, codes, suffix)
        ]
    return _pinned(spec, entries, at, locales[0] if locales else None, codes, suffix)


def _pinned(
    spec: PageSpec,
    entries: Mapping[str, _Node],
    at: _At,
    locale: str | None,
    codes: list[str],
    suffix: bool,
) -> list[PageSpec]:
    """The page's watches for one pinned locale (None: each marketplace's English page)."""
    url = spec.url
    host = urlsplit(url).hostname or ""
    page_id = spec.id
    if not codes:
        return [spec if locale is None else _pin_locale(spec, locale)]
    if "validity" in entries and "country" in entries["validity"].value:
        raise at.entry(entries, "validity").error(
            "`validity.country` comes from the marketplace on this page; remove it"
        )
    url_locale = dict(parse_qsl(urlsplit(url).query)).get("locale")
    specs = []
    for code in codes:
        market = MARKETPLACES[code]
        market_spec = dataclasses.replace(
            spec,
            id=f"{page_id}@{code}" if suffix else page_id,
            marketplace=code,
            validity=dataclasses.replace(spec.validity, country=market.country),
        )
        pinned = locale or url_locale or market.english
        swap = market.host if profile_for_host(host) else None
        specs.append(_pin_locale(market_spec, pinned, swap))
    return specs


def _parse_pages(
    node: _Node | None, at: _At, defaults: Defaults, page_defaults: _PageDefaults
) -> tuple[PageSpec, ...]:
    if node is None or node.value is None or node.value == []:
        raise at.error(
            "lists no pages to watch",
            f"add a page, e.g.\npages:\n  - id: seller-code-of-conduct\n    url: {_EXAMPLE_URL}",
        )
    if not isinstance(node.value, list):
        raise at.error(f"expected a list of pages, got {_kind(node.value)}")
    specs: list[PageSpec] = []
    lines: dict[str, int] = {}
    for i, item in enumerate(node.value):
        where = at.child(i, item)
        for spec in _parse_page(item, where, defaults, page_defaults):
            id_node = item.value["id"]
            if spec.id in lines:
                raise where.child("id", id_node).error(
                    f"page id {spec.id!r} is used twice "
                    f"(lines {lines[spec.id]} and {id_node.line})",
                    "every page needs its own id; history is kept per id",
                )
            lines[spec.id] = id_node.line
            specs.append(spec)
    return tuple(specs)


# --------------------------------------------------------------------------- notify


def _userinfo_span(raw: str) -> tuple[int, int]:
    """Where `user:password` sits in a URL template, so values put there can be escaped."""
    start = raw.find("://")
    if start < 0:
        return 0, 0
    start += 3
    end = min((i for i in (raw.find(c, start) for c in "/?#") if i >= 0), default=len(raw))
    at = raw.rfind("@", start, end)
    return (start, at) if at >= 0 else (0, 0)


def _expand(raw: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`raw` with `${VAR}` replaced from env, and the names that are unset or empty.

    A value used as the user name or password is percent-encoded, because real ones
    (a Gmail address, a generated password) hold `@`, `:` or `/`.
    """
    missing: list[str] = []
    low, high = _userinfo_span(raw)

    def value(match: re.Match[str]) -> str:
        found = env.get(match.group(1), "")
        if not found:
            missing.append(match.group(1))
        return quote(found, safe="") if low <= match.start() < high else found

    return _ENV_REF.sub(value, raw), missing


def _route_label(raw: str) -> str:
    """A stable name that never holds a secret: the variable, or scheme and literal host."""
    whole = _ENV_REF.fullmatch(raw.strip())
    if whole:
        return whole.group(1).lower().replace("_", "-")
    try:
        parts = urlsplit(raw)
        scheme, host = parts.scheme or "route", parts.hostname or ""
    except ValueError:
        return "route"
    if host and "$" not in host and ("." in host or host == "localhost"):
        return f"{scheme}:{host}"
    return scheme


def _apprise_accepts(url: str) -> bool:
    import apprise

    return bool(apprise.Apprise().add(url))


def _parse_route(node: _Node, at: _At, env: Mapping[str, str]) -> Route | None:
    """One notify route, or None for an optional route whose variables are not set yet."""
    entries: Mapping[str, _Node] = {}
    url_at = at
    if isinstance(node.value, dict):
        entries = _mapping(node, at, ROUTE_KEYS)
        if "url" not in entries:
            raise at.error(
                "a notify route needs a `url`",
                "e.g. url: mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com",
            )
        node, url_at = entries["url"], at.entry(entries, "url")
    raw = _text(node, url_at).strip()
    name = _read(entries, at, "name", _text) or _route_label(raw)
    if "${" in _ENV_REF.sub("", raw):
        raise url_at.error("unfinished `${` in the URL", "write variables as ${NAME}")
    url, missing = _expand(raw, env)
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        if _read(entries, at, "optional", _boolean, default=False):
            log.warning("%s:%d: notify route %r skipped: %s not set", at.file, at.line, name, names)
            return None
        unset = list(dict.fromkeys(missing))
        raise url_at.error(
            f"environment variable{'s' if len(unset) > 1 else ''} {names} "
            f"{'are' if len(unset) > 1 else 'is'} not set (or empty)",
            "; ".join(f"export {n}=..." for n in unset)
            + " (or mark the route `optional: true` to skip it until then)",
        )
    if not _apprise_accepts(url):
        used = _ENV_REF.findall(raw)
        raise url_at.error(
            f"apprise cannot use this notify URL (scheme {urlsplit(url).scheme or 'missing'!r})",
            "check it against https://github.com/caronc/apprise/wiki"
            + (f"; it takes values from {', '.join(used)}: check them" if used else ""),
        )
    floor = _read(entries, at, "min_severity", _severity, default=Severity.MINOR)
    timeout = _read(entries, at, "timeout", _duration, default=Route.timeout)
    return Route(
        url=url,
        name=name,
        min_severity=floor,
        links_alert=_links_alert(entries, at),
        timeout=timeout,
    )


def _parse_routes(node: _Node | None, at: _At, env: Mapping[str, str]) -> tuple[Route, ...]:
    if node is None or node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise at.error(f"expected a list of notify routes, got {_kind(node.value)}")
    routes: list[Route] = []
    for i, item in enumerate(node.value):
        route = _parse_route(item, at.child(i, item), env)
        if route is None:
            continue
        name, n = route.name, 2
        while any(r.name == name for r in routes):
            name, n = f"{route.name}-{n}", n + 1
        routes.append(dataclasses.replace(route, name=name))
    return tuple(routes)


# --------------------------------------------------------------------------- entry points


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a watchlist; raises ConfigError naming file, line and key."""
    file = str(path)
    env = os.environ if env is None else env
    root = _read_tree(Path(path), file)
    top = _At(file, "", 1)
    if root.value is None:
        raise top.error("is empty", "it needs at least a `pages:` list")
    entries = _mapping(root, top, TOP_KEYS)
    defaults, page_defaults = _parse_defaults(
        entries.get("defaults"), top.entry(entries, "defaults")
    )
    pages = _parse_pages(entries.get("pages"), top.entry(entries, "pages"), defaults, page_defaults)
    if "rules" in entries:
        rules_at = top.child("rules", entries["rules"])
        rules = _parse_rules(entries["rules"], rules_at, RULE_KEYS)
        ids = {p.id for p in pages} | {p.id.split("@", 1)[0] for p in pages}
        _check_rule_pages(entries["rules"], rules, rules_at, ids)
    else:
        from policywatch.rules import DEFAULT_RULES

        rules = tuple(DEFAULT_RULES)
    routes = _parse_routes(entries.get("notify"), top.entry(entries, "notify"), env)
    return Config(path=file, pages=pages, rules=rules, routes=routes, defaults=defaults)


def browser_warning(config: Config) -> str | None:
    """Why the pages that need the browser cannot be rendered here, and how to fix it.

    A warning rather than an error: the watchlist is valid, and the machine that
    runs `check` (the container) may well have the browser this one lacks.
    """
    from policywatch.fetch import browser

    needing = [
        page.id
        for page in config.pages
        if page.fetch == "browser"
        or (page.fetch == "auto" and page.profile and PROFILES[page.profile].client_rendered)
    ]
    missing = browser.available() if needing else None
    if missing is None:
        return None
    if browser.INSTALL_CHROMIUM not in missing and browser.chromium_path() is None:
        missing += f"; and {browser.INSTALL_CHROMIUM}"
    shown = ", ".join(needing[:5]) + (f" and {len(needing) - 5} more" if len(needing) > 5 else "")
    return (
        f"{config.path}: {len(needing)} page{'s' if len(needing) > 1 else ''} need the "
        f"browser ({shown}) but it cannot run here: {missing}. "
        "Until then every check of these pages is blocked."
    )


def describe(config: Config) -> str:
    """What `policywatch validate` prints: the pages and routes, secrets redacted."""
    lines = [
        f"{config.path}: {len(config.pages)} pages, {len(config.rules)} rules, "
        f"{len(config.routes)} notify routes"
    ]
    for page in config.pages:
        details = [
            f"select {page.select or '(main content)'}",
            f"every {format_interval(page.interval)}",
            f"fetch {page.fetch}",
        ]
        if page.marketplace:
            details.append(f"marketplace {page.marketplace}")
        if page.profile:
            details.append(f"profile {page.profile}")
        if page.allow_private:
            details.append("private addresses allowed")
        lines.append(f"  {page.id}  {redact_page_url(page.url)}\n      " + ", ".join(details))
    for route in config.routes:
        lines.append(f"  notify {route.name} (>= {route.min_severity}): {redact(route.url)}")
    return "\n".join(lines)
