"""From a validated watchlist to the runtime Config: defaults, profiles, marketplaces, locales.

The checks here need more than one value or more than the file (a page id used
twice, a rule naming a page that is not watched, an address the network policy
refuses), so they run after the schema and raise `Invalid` with the location.

Precedence for a page: its own value, then `defaults:`, then the profile;
`remove` and `ignore` lists add up instead. `marketplaces:` and a list of
locales turn one entry into one watch per marketplace and language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from policywatch.fetch import netpolicy
from policywatch.models import Config, Defaults, PageSpec, Rule, Settle, Severity, Validity
from policywatch.watchlist import checks, schema
from policywatch.watchlist.checks import Invalid, did_you_mean
from policywatch.watchlist.envvars import ENV_REF, expand, unset
from policywatch.watchlist.profiles import (
    MARKETPLACES,
    NO_PROFILE,
    PROFILES,
    Profile,
    accept_language,
    marketplace_for_host,
    profile_for_host,
)
from policywatch.watchlist.routes import build_routes

Loc = tuple[str | int, ...]
Lines = Callable[[Loc], int]


class _PageDefaults(NamedTuple):
    """Page settings written under `defaults:`; a page's own value wins over these."""

    select: str | None = None
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fetch: str | None = None
    allow_private: bool = False


_RUN_DEFAULTS = tuple(f.name for f in dataclasses.fields(Defaults) if f.name != "settle")


def build_config(
    model: schema.Watchlist, file: str, env: Mapping[str, str], lines: Lines, sends: bool = True
) -> Config:
    """The Config the rest of policywatch runs on; `lines` finds a location's line.

    Without `sends` (a command that fetches and notifies nothing: serve, site, diff), a
    `${NAME}` that is not set is no error: headers keep it as written and the route waits.
    """
    defaults, page_defaults = _defaults(model.defaults)
    pages = _pages(model.pages or [], defaults, page_defaults, env if sends else None, lines)
    rules, rules_from = _global_rules(model, pages, lines)
    routes, skipped = build_routes(model.notify or [], env, file, lines, sends)
    return Config(
        path=file,
        pages=pages,
        rules=rules,
        routes=routes,
        defaults=defaults,
        rules_from=rules_from,
        skipped_routes=skipped,
    )


def _global_rules(
    model: schema.Watchlist, pages: tuple[PageSpec, ...], lines: Lines
) -> tuple[tuple[Rule, ...], Literal["builtin", "added", "own", "list"]]:
    """The rules for every page, and where they came from: the built-ins, yours, or both."""
    from policywatch.watchlist.rules import DEFAULT_RULES

    if "rules" not in model.model_fields_set:
        return tuple(DEFAULT_RULES), "builtin"
    if isinstance(model.rules, schema.RuleSet):
        at: Loc = ("rules", "add")
        own = _rules(model.rules.add or [], at, lines)
        builtin = tuple(DEFAULT_RULES) if model.rules.builtin else ()
        _check_not_builtin(own, builtin, at)
        origin = "added" if builtin else "own"
    else:
        at, builtin, origin = ("rules",), (), "list"
        own = _rules(model.rules or [], at, lines)
    ids = {p.id for p in pages} | {p.id.split("@", 1)[0] for p in pages}
    _check_rule_pages(own, ids, at)
    return builtin + own, origin


def _settle(model: schema.Settle | None, base: Settle) -> Settle:
    """`settle: 2h` (how long), or `{polls: 3, for: 2h}`; unset parts keep `base`."""
    if model is None:
        return base
    return Settle(
        polls=base.polls if model.polls is None else model.polls,
        seconds=base.seconds if model.for_ is None else model.for_,
    )


def _defaults(model: schema.Defaults | None) -> tuple[Defaults, _PageDefaults]:
    if model is None:
        return Defaults(), _PageDefaults()
    values = {key: getattr(model, key) for key in model.model_fields_set & set(_RUN_DEFAULTS)}
    page = _PageDefaults(
        select=model.select,
        remove=model.remove or (),
        ignore=model.ignore or (),
        fetch=model.fetch,
        allow_private=bool(model.allow_private),
    )
    return Defaults(**values, settle=_settle(model.settle, Settle())), page


def _rule(model: schema.PageRule) -> Rule:
    return Rule(
        name=model.name,
        severity=Severity.parse(model.severity),
        terms=model.terms or (),
        patterns=model.patterns or (),
        pages=getattr(model, "pages", None) or (),
        links_alert=model.links == "alert",
        language=model.lang if model.lang is not None else model.language,
    )


def _rules(models: Sequence[schema.PageRule], at: Loc, lines: Lines) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: dict[tuple[str, str | None], int] = {}
    for i, model in enumerate(models):
        rule = _rule(model)
        # One name may be written once per language: the same rule as each market words it.
        key, line = (rule.name, rule.language), lines((*at, i))
        if key in seen:
            raise Invalid(
                f"rule name {rule.name!r} is used twice (lines {seen[key]} and {line})",
                "give each rule its own name",
                (*at, i),
            )
        seen[key] = line
        rules.append(rule)
    return tuple(rules)


def _check_not_builtin(own: tuple[Rule, ...], builtin: tuple[Rule, ...], at: Loc) -> None:
    """An added rule named like a built-in one would fire beside it, not instead of it."""
    taken = {(rule.name, rule.language) for rule in builtin}
    for i, rule in enumerate(own):
        if (rule.name, rule.language) in taken:
            raise Invalid(
                f"rule name {rule.name!r} is a built-in rule's; yours would alert beside it",
                "give yours its own name, or write `builtin: false` and list every rule",
                (*at, i),
            )


def _check_rule_pages(rules: tuple[Rule, ...], ids: set[str], at: Loc) -> None:
    for i, rule in enumerate(rules):
        unknown = [page_id for page_id in rule.pages if page_id not in ids]
        if unknown:
            raise Invalid(
                f"rule {rule.name!r} names page {unknown[0]!r}, which is not in `pages`",
                did_you_mean(unknown[0], sorted(ids)),
                (*at, i),
            )


def _pages(
    models: Sequence[schema.Page],
    defaults: Defaults,
    page_defaults: _PageDefaults,
    env: Mapping[str, str] | None,
    lines: Lines,
) -> tuple[PageSpec, ...]:
    specs: list[PageSpec] = []
    first: dict[str, int] = {}
    for i, model in enumerate(models):
        for spec in _page(model, i, defaults, page_defaults, env, lines):
            line = lines(("pages", i, "id"))
            if spec.id in first:
                raise Invalid(
                    f"page id {spec.id!r} is used twice (lines {first[spec.id]} and {line})",
                    "every page needs its own id; history is kept per id",
                    ("pages", i, "id"),
                )
            first[spec.id] = line
            specs.append(spec)
    return tuple(specs)


def _profile(model: schema.Page, url: str) -> Profile | None:
    if model.profile is None:
        return profile_for_host(urlsplit(url).hostname or "")
    return None if model.profile == NO_PROFILE else PROFILES[model.profile]


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Concatenate lists of selectors/patterns, keeping the first of each duplicate."""
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _headers(model: schema.Page, i: int, env: Mapping[str, str] | None) -> dict[str, str]:
    """The page's `headers` with `${NAME}` read from the environment: a cookie or an API key
    stays out of the file, as a notify route's token does. A value must still be one line.
    No `env`: the command sends nothing, and the headers stay as written."""
    if env is None:
        return dict(model.headers or {})
    headers = {}
    for name, raw in (model.headers or {}).items():
        at: Loc = ("pages", i, "headers", name)
        value, missing = expand(raw, env, at)
        if missing:
            raise unset(missing, at)
        try:
            headers[name] = checks.header_value(value)
        except Invalid as exc:
            names = ", ".join(ENV_REF.findall(raw))
            raise Invalid(
                f"{exc}: {names} from the environment holds a line break (a CRLF .env file?)",
                loc=at,
            ) from None
    return headers


def _page(
    model: schema.Page,
    i: int,
    defaults: Defaults,
    page_defaults: _PageDefaults,
    env: Mapping[str, str] | None,
    lines: Lines,
) -> list[PageSpec]:
    """One page entry with profile and defaults applied: one PageSpec per watch."""
    url = model.url
    profile = _profile(model, url)
    validity = profile.validity if profile else Validity()
    home = marketplace_for_host(urlsplit(url).hostname or "")
    if profile and home and validity.country is None:
        validity = dataclasses.replace(validity, country=home.country)
    if model.validity is not None:
        given = model.validity.model_fields_set
        validity = dataclasses.replace(validity, **{k: getattr(model.validity, k) for k in given})
    spec = PageSpec(
        id=model.id,
        url=url,
        title=model.title or "",
        select=model.select or page_defaults.select or (profile.select if profile else None),
        remove=_merge(profile.remove if profile else (), page_defaults.remove, model.remove or ()),
        ignore=_merge(page_defaults.ignore, model.ignore or ()),
        fetch=model.fetch or page_defaults.fetch or (profile.fetch if profile else "auto"),
        interval=defaults.interval if model.interval is None else model.interval,
        timeout=defaults.timeout if model.timeout is None else model.timeout,
        headers=_headers(model, i, env),
        profile=profile.name if profile else None,
        validity=validity,
        rules=_rules(model.rules or [], ("pages", i, "rules"), lines),
        allow_private=(
            page_defaults.allow_private if model.allow_private is None else model.allow_private
        ),
        settle=_settle(model.settle, defaults.settle),
        translation_lag=(
            defaults.translation_lag if model.translation_lag is None else model.translation_lag
        ),
    )
    try:  # a URL that names a refused address could never be fetched: say so now
        netpolicy.check_url(url, spec.allow_private)
    except netpolicy.Refused as exc:
        raise Invalid(exc.reason, loc=("pages", i, "url")) from None
    locales = model.locale or ()
    codes = list(model.marketplaces or ([model.marketplace] if model.marketplace else []))
    suffix = model.marketplaces is not None
    if len(locales) > 1:
        return _per_language(spec, locales, codes, suffix)
    return _pinned(spec, locales[0] if locales else None, codes, suffix)


def _per_language(
    spec: PageSpec, locales: Sequence[str], codes: list[str], suffix: bool
) -> list[PageSpec]:
    """One policy read in several languages: one watch per language, `id@de-DE` or
    `id@DE.de-DE`, each knowing its siblings in the same marketplace, so `compare` and
    the lag alert can tell when one language has not followed the other."""
    watches = []
    for locale in locales:
        for one in _pinned(spec, locale, codes, suffix):
            joint = "." if "@" in one.id else "@"
            watches.append((one.id, dataclasses.replace(one, id=f"{one.id}{joint}{locale}")))
    return [
        dataclasses.replace(
            one, siblings=tuple(o.id for m, o in watches if m == market and o.id != one.id)
        )
        for market, one in watches
    ]


def _pinned(spec: PageSpec, locale: str | None, codes: list[str], suffix: bool) -> list[PageSpec]:
    """The page's watches for one pinned locale (None: each marketplace's English page)."""
    if not codes:
        return [spec if locale is None else _pin_locale(spec, locale)]
    url_locale = dict(parse_qsl(urlsplit(spec.url).query)).get("locale")
    swap_host = profile_for_host(spec.host) is not None
    specs = []
    for code in codes:
        market = MARKETPLACES[code]
        market_spec = dataclasses.replace(
            spec,
            id=f"{spec.id}@{code}" if suffix else spec.id,
            marketplace=code,
            validity=dataclasses.replace(spec.validity, country=market.country),
        )
        pinned = locale or url_locale or market.english
        specs.append(_pin_locale(market_spec, pinned, market.host if swap_host else None))
    return specs


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
