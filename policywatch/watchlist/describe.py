"""What `policywatch validate` prints about a loaded watchlist, secrets redacted."""

from __future__ import annotations

from policywatch.models import Config
from policywatch.redact import redact, redact_page_url
from policywatch.watchlist.checks import format_interval
from policywatch.watchlist.profiles import PROFILES
from policywatch.watchlist.schedule import describe_schedule


def browser_warning(config: Config) -> str | None:
    """Why the pages that need the browser cannot be rendered here, and how to fix it.

    A warning rather than an error: the watchlist is valid, and the machine that
    runs `check` (the container) may well have the browser this one lacks.
    """
    from policywatch.fetch import chromium

    needing = [
        page.id
        for page in config.pages
        if page.fetch == "browser"
        or (page.fetch == "auto" and page.profile and PROFILES[page.profile].client_rendered)
    ]
    missing = chromium.available() if needing else None
    if missing is None:
        return None
    if chromium.INSTALL_CHROMIUM not in missing and chromium.chromium_path() is None:
        missing += f"; and {chromium.INSTALL_CHROMIUM}"
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
        remind = f", remind {', '.join(map(str, route.remind))} days before" if route.remind else ""
        lines.append(
            f"  notify {route.name} (>= {route.min_severity}{remind}): {redact(route.url)}"
        )
        if route.digest is not None:
            alerts = "alerts as they happen too" if route.instant else "no alerts between digests"
            lines.append(f"      digest {describe_schedule(route.digest)}; {alerts}")
    # Listed, not warned about: an optional route is one its owner chose to switch on later.
    lines += [f"  {skipped.said}" for skipped in config.skipped_routes]
    lines.append(_rules_heading(config))
    lines += [
        f"  rule {rule.name}  {rule.severity}  {rule.language or 'any language'}"
        + (f"  (pages: {', '.join(rule.pages)})" if rule.pages else "")
        for rule in config.rules
    ]
    return "\n".join(lines)


def _rules_heading(config: Config) -> str:
    """Where the active rules came from, so a `rules:` list never drops the built-ins unseen."""
    from policywatch.watchlist.rules import DEFAULT_RULES

    own = len(config.rules) - (len(DEFAULT_RULES) if config.rules_from == "added" else 0)
    return {
        "builtin": f"rules: the {len(config.rules)} built-in rules",
        "added": f"rules: the {len(DEFAULT_RULES)} built-in rules and {own} of yours",
        "own": f"rules: only yours ({own}; `builtin: false`)",
        "list": f"rules: your list of {own} REPLACES the built-in rules; to keep them and add "
        "yours, write `rules: {builtin: true, add: [...]}`",
    }[config.rules_from]
