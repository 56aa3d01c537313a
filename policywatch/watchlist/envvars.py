"""`${NAME}` in watchlist values, read from the environment so secrets stay out of the file.

Notify URLs (webhook tokens, mail passwords) and page headers (a cookie, an API key)
take them. Expanding depends on the environment, not on the file alone, so it runs
after the schema; the errors carry the value's location for the loader to name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from policywatch.watchlist.checks import Invalid

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(
    raw: str,
    env: Mapping[str, str],
    loc: tuple[str | int, ...],
    encode: Callable[[re.Match[str], str], str] | None = None,
) -> tuple[str, list[str]]:
    """`raw` with each `${NAME}` replaced from `env`, and the names unset or empty.

    `encode(match, value)` gives the text a value is written as (a URL's user name is
    percent-encoded); a `${` that opens no reference is refused rather than sent as is.
    """
    if "${" in ENV_REF.sub("", raw):
        raise Invalid("unfinished `${`", "write variables as ${NAME}", loc)
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        found = env.get(match.group(1), "")
        if not found:
            missing.append(match.group(1))
        return encode(match, found) if encode else found

    return ENV_REF.sub(value, raw), list(dict.fromkeys(missing))


def unset(names: Sequence[str], loc: tuple[str | int, ...], also: str = "") -> Invalid:
    """The error for variables that are not set: which ones, and how to set them."""
    many = len(names) > 1
    return Invalid(
        f"environment variable{'s' if many else ''} {', '.join(names)} "
        f"{'are' if many else 'is'} not set (or empty)",
        "; ".join(f"export {n}=..." for n in names) + also,
        loc,
    )
