"""Text safe to show: what a terminal or a chat client would obey, written as an escape.

Page text and servers' answers are attacker-controlled and reach terminals, logs,
alerts and JSON output; everything that shows them goes through these two helpers.
It sits below every stage, so logs, diff, alerts, views and web share the one set.
"""

from __future__ import annotations

import json
import re
from typing import Any

# What a terminal obeys instead of showing: C0 and C1 controls (ESC starts CSI/OSC
# sequences that clear the screen, retitle the window or plant hyperlinks; U+009B is
# CSI on its own), DEL, bidi embeddings, overrides and isolates that reorder what is
# shown, and the Unicode line and paragraph separators. Newline and tab are ours.
_UNPRINTABLE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printable(text: str) -> str:
    """`text` safe to write to a terminal: every control character shown as an escape.

    Page text is attacker-controlled and reaches people's terminals through
    `show`, `diff`, `history`, `check` and `alerts`. An escape (`\\x1b`) rather than
    a deletion keeps the oddity visible to whoever reads the output.
    """
    return _UNPRINTABLE_RE.sub(_escape, text)


def printable_json(data: Any, **dumps: Any) -> str:
    """`data` as JSON (`json.dumps` arguments in `dumps`) that shows no terminal controls.

    A control in a JSON string is escaped as `\\uXXXX`, so a reader decodes the very
    same strings while a terminal or chat client shows the escape; unlike
    `ensure_ascii`, readable non-ASCII text (German, Japanese titles) stays readable.
    Outside its strings `json.dumps` writes only ASCII punctuation, spaces and newlines.
    """
    return _UNPRINTABLE_RE.sub(_json_escape, json.dumps(data, ensure_ascii=False, **dumps))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
