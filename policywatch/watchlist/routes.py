"""Notify routes: `${VAR}` expanded from the environment, checked against apprise.

Notify URLs may hold `${VAR}` references so secrets stay out of the file. A
route marked `optional: true` whose variables are not all set is skipped with
a note instead of failing, which is how the shipped example validates on a
machine with no secrets configured. The note is kept on the Config for `validate`
and the start of `run` to show, not logged here: every command loads the
watchlist, and a warning on each `diff` or `history` is noise. This runs after
the schema: it depends on the environment, not on the file alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

from policywatch.models import Route, Severity
from policywatch.watchlist import schema
from policywatch.watchlist.checks import Invalid
from policywatch.watchlist.schedule import schedule_of

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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


def _route(
    model: schema.Route,
    i: int,
    env: Mapping[str, str],
    file: str,
    lines: Callable[..., int],
    skipped: list[str],
) -> Route | None:
    """One notify route, or None (noted in `skipped`) for an optional route whose variables
    are not set yet."""
    at = ("notify", i, "url")
    raw = model.url.strip()
    name = model.name or _route_label(raw)
    if "${" in _ENV_REF.sub("", raw):
        raise Invalid("unfinished `${` in the URL", "write variables as ${NAME}", at)
    url, missing = _expand(raw, env)
    if missing:
        unset = list(dict.fromkeys(missing))
        names = ", ".join(unset)
        if model.optional:
            skipped.append(
                f"{file}:{lines(('notify', i))}: notify route {name!r} skipped: {names} not set"
            )
            return None
        raise Invalid(
            f"environment variable{'s' if len(unset) > 1 else ''} {names} "
            f"{'are' if len(unset) > 1 else 'is'} not set (or empty)",
            "; ".join(f"export {n}=..." for n in unset)
            + " (or mark the route `optional: true` to skip it until then)",
            at,
        )
    if not _apprise_accepts(url):
        used = _ENV_REF.findall(raw)
        raise Invalid(
            f"apprise cannot use this notify URL (scheme {urlsplit(url).scheme or 'missing'!r})",
            "check it against https://github.com/caronc/apprise/wiki"
            + (f"; it takes values from {', '.join(used)}: check them" if used else ""),
            at,
        )
    d = model.digest
    digest = d and schedule_of(d.every, d.day, d.hour, d.timezone)
    return Route(
        url=url,
        name=name,
        min_severity=Severity.parse(model.min_severity),
        links_alert=model.links == "alert",
        timeout=Route.timeout if model.timeout is None else model.timeout,
        digest=digest,
        # A digest route is for people who asked for less mail: alerts only when asked.
        instant=digest is None or bool(model.instant),
        remind=tuple(sorted(set(model.remind or ()), reverse=True)),
    )


def build_routes(
    models: Sequence[schema.Route], env: Mapping[str, str], file: str, lines: Callable[..., int]
) -> tuple[tuple[Route, ...], tuple[str, ...]]:
    """The routes to deliver to, each with a name no other route has, and the optional routes
    skipped for want of their variables."""
    routes: list[Route] = []
    skipped: list[str] = []
    for i, model in enumerate(models):
        route = _route(model, i, env, file, lines, skipped)
        if route is None:
            continue
        name, n = route.name, 2
        while any(r.name == name for r in routes):
            name, n = f"{route.name}-{n}", n + 1
        routes.append(dataclasses.replace(route, name=name))
    return tuple(routes), tuple(skipped)
