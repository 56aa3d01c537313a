"""The commented starter watchlist `policywatch init` writes, from the copy shipped in the package.

`starter.yaml` is a byte-identical copy of the top-level watchlist.yaml (a test keeps them
equal): the repository's file is the one a reader of the source opens, and the package's copy
is the one an installed policywatch can reach, since package data cannot point outside the
package.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

from policywatch.errors import UsageError
from policywatch.watchlist.checks import did_you_mean
from policywatch.watchlist.profiles import MARKETPLACES

SCHEMA_FILE = "watchlist.schema.json"
_SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=\S+$", re.MULTILINE)
_MARKETPLACES_LINE = re.compile(r"^(\s+marketplaces: )\[[^\]\n]*\]$", re.MULTILINE)


def parse_marketplaces(value: str) -> tuple[str, ...]:
    """`US,UK,DE` as marketplace codes, refused with a suggestion when one is unknown."""
    codes = tuple(dict.fromkeys(c.strip().upper() for c in value.split(",") if c.strip()))
    if not codes:
        raise UsageError("--marketplaces names no marketplace", hint="e.g. --marketplaces US,UK")
    for code in codes:
        if code not in MARKETPLACES:
            raise UsageError(
                f"--marketplaces: unknown marketplace {code!r}",
                hint=did_you_mean(code, MARKETPLACES),
            )
    return codes


def starter_text(marketplaces: Sequence[str]) -> str:
    """The shipped watchlist, its first page watched in `marketplaces`, its editor schema beside it.

    The shipped file names the schema by its place in the source tree; a written copy names
    the `watchlist.schema.json` that `init` writes next to it.
    """
    text = resources.files("policywatch.watchlist").joinpath("starter.yaml").read_text("utf-8")
    text = _SCHEMA_LINE.sub(f"# yaml-language-server: $schema={SCHEMA_FILE}", text, count=1)
    return _MARKETPLACES_LINE.sub(
        lambda m: m.group(1) + "[" + ", ".join(marketplaces) + "]", text, count=1
    )
