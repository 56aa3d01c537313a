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
import importlib.util
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

from policywatch.atomic import atomic_write
from policywatch.models import Route, Severity, SkippedRoute, sha256_hex
from policywatch.watchlist import schema
from policywatch.watchlist.checks import Invalid
from policywatch.watchlist.envvars import ENV_REF, expand, unset
from policywatch.watchlist.schedule import schedule_of

ACCEPTED_KEEP = 256  # notify URLs remembered as accepted; older ones are asked again

log = logging.getLogger("policywatch.config")


def _userinfo_span(raw: str) -> tuple[int, int]:
    """Where `user:password` sits in a URL template, so values put there can be escaped."""
    start = raw.find("://")
    if start < 0:
        return 0, 0
    start += 3
    end = min((i for i in (raw.find(c, start) for c in "/?#") if i >= 0), default=len(raw))
    at = raw.rfind("@", start, end)
    return (start, at) if at >= 0 else (0, 0)


def _expand(raw: str, env: Mapping[str, str], at: tuple[str | int, ...]) -> tuple[str, list[str]]:
    """`raw` with `${VAR}` replaced from env, and the names that are unset or empty.

    A value used as the user name or password is percent-encoded, because real ones
    (a Gmail address, a generated password) hold `@`, `:` or `/`.
    """
    low, high = _userinfo_span(raw)

    def encode(match: re.Match[str], found: str) -> str:
        return quote(found, safe="") if low <= match.start() < high else found

    return expand(raw, env, at, encode)


def _route_label(raw: str) -> str:
    """A stable name that never holds a secret: the variable, or scheme and literal host."""
    whole = ENV_REF.fullmatch(raw.strip())
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


def _apprise_accepts(url: str, cache: AcceptedUrls) -> bool:
    """Whether apprise can use `url`; a URL the installed apprise accepted before is trusted.

    Asking loads every apprise plugin (0.2-0.4 s), which a cron `check` paid on every
    run for URLs that never change. Accepted URLs are remembered in the user's cache
    by a hash (the URL holds secrets) together with which apprise install accepted
    them, so an upgrade asks again. A refused URL is never remembered.
    """
    if cache.has(url):
        return True
    import apprise

    accepted = bool(apprise.Apprise().add(url))
    if accepted:
        cache.add(url)
    return accepted


class AcceptedUrls:
    """The notify URLs the installed apprise accepted, kept in `$XDG_CACHE_HOME/policywatch`.

    Only ever an optimisation: a cache that cannot be read or written is ignored.
    """

    def __init__(self) -> None:
        base = _cache_home()
        self.path = base / "policywatch" / "accepted-notify-urls.json" if base else None
        self.install = _apprise_install() if base else None
        self._hashes: list[str] | None = None

    def has(self, url: str) -> bool:
        return self.install is not None and _url_hash(url) in self._read()

    def add(self, url: str) -> None:
        if self.path is None or self.install is None:
            return
        hashes = [h for h in self._read() if h != _url_hash(url)] + [_url_hash(url)]
        self._hashes = hashes[-ACCEPTED_KEEP:]
        data = {"apprise": self.install, "accepted": self._hashes}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(data).encode(), durable=False)
        except OSError as exc:
            log.debug("cannot remember accepted notify URLs in %s: %s", self.path, exc)

    def _read(self) -> list[str]:
        if self._hashes is None:
            self._hashes = []
            try:
                data = json.loads(self.path.read_bytes())  # type: ignore[union-attr]
                if data.get("apprise") == self.install and isinstance(data.get("accepted"), list):
                    self._hashes = [h for h in data["accepted"] if isinstance(h, str)]
            except (OSError, ValueError, AttributeError):
                pass  # no cache yet, or not ours: every URL is asked
        return self._hashes


def _cache_home() -> Path | None:
    """The user's cache directory; None for a user without a home (some containers)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base)
    try:
        return Path.home() / ".cache"
    except (RuntimeError, KeyError):
        return None


def _url_hash(url: str) -> str:
    return sha256_hex(f"policywatch notify url\x00{url}")


def _apprise_install() -> str | None:
    """Which apprise is installed (where, and when it was written), without importing it."""
    spec = importlib.util.find_spec("apprise")
    if spec is None or spec.origin is None:
        return None
    try:
        stat = os.stat(spec.origin)
    except OSError:
        return None
    return f"{spec.origin}:{stat.st_mtime_ns}:{stat.st_size}"


def _route(
    model: schema.Route,
    i: int,
    env: Mapping[str, str],
    file: str,
    lines: Callable[..., int],
    skipped: list[SkippedRoute],
    cache: AcceptedUrls,
    sends: bool,
) -> Route | None:
    """One notify route, or None (noted in `skipped`) for an optional route whose variables
    are not set yet, or any such route when the command `sends` nothing."""
    at = ("notify", i, "url")
    raw = model.url.strip()
    name = model.name or _route_label(raw)
    url, missing = _expand(raw, env, at)
    if missing:
        if model.optional or not sends:
            names = ", ".join(missing)
            said = f"{file}:{lines(('notify', i))}: notify route {name!r} skipped: {names} not set"
            skipped.append(SkippedRoute(name, said))
            return None
        raise unset(missing, at, " (or mark the route `optional: true` to skip it until then)")
    if not _apprise_accepts(url, cache):
        used = ENV_REF.findall(raw)
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
    models: Sequence[schema.Route],
    env: Mapping[str, str],
    file: str,
    lines: Callable[..., int],
    sends: bool = True,
) -> tuple[tuple[Route, ...], tuple[SkippedRoute, ...]]:
    """The routes to deliver to, each with a name no other route has, and the optional routes
    skipped for want of their variables."""
    routes: list[Route] = []
    skipped: list[SkippedRoute] = []
    cache = AcceptedUrls()
    for i, model in enumerate(models):
        route = _route(model, i, env, file, lines, skipped, cache, sends)
        if route is None:
            continue
        name, n = route.name, 2
        while any(r.name == name for r in routes):
            name, n = f"{route.name}-{n}", n + 1
        routes.append(dataclasses.replace(route, name=name))
    return tuple(routes), tuple(skipped)
