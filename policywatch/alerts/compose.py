"""Alert messages: what a seller reads when watched wording changes, in each channel's format.

Pure. An alert is written once, when the change is recorded, and stored in the
outbox as it will be sent, so a retry days later sends the same words. Each
alert carries three bodies: plain text (webhooks, SMS-like channels), Markdown
for chat (Slack, Discord, Teams, Telegram) and HTML for email. The text and
Markdown bodies are kept split into an always-kept head and foot and one item
per change, so a chat channel with a length limit can drop whole changes and
say how many it left out instead of cutting a sentence in half.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from os.path import normpath
from typing import Any, Literal

from policywatch.clock import iso, readable
from policywatch.content import Snapshot
from policywatch.diff.markdown import markdown_escape
from policywatch.models import PageSpec, Route, Severity, sha256_hex
from policywatch.printable import printable

AlertKind = Literal[
    "change",
    "reminder",
    "flapping",
    "settled",
    "unreachable",
    "recovered",
    "history_lost",
    "translation_lag",
    "test",
    "digest",
]
BodyFormat = Literal["text", "markdown"]

DEFAULT_CONFIG = "watchlist.yaml"  # CLI defaults: left out of suggested commands
DEFAULT_DATA_DIR = "policywatch-data"
# Unchanged words kept around a change in chat, so a long paragraph still fits a message.
CHAT_CONTEXT = 120
MIN_CLIP = 80  # below this a clipped change says too little to be worth showing


# Markdown the chat body itself uses; page text is escaped so it can never open any.
_MD_MARKERS = re.compile(r"(?<!\\)(\*\*|~~|`)")
_MD_TRAILING_MARK = re.compile(r"(?<!\\)(\*\*|~~|`)+$")
_MD_OPEN_LINK = re.compile(r"(?<!\\)\[")
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_MD_CLOSE_LINK = re.compile(r"(?<!\\)\]")


# --------------------------------------------------------------------------- message bodies


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _closers(markdown: str) -> str | None:
    """The marks that close every bold, strike and code span left open in `markdown`, or
    None when it cannot be closed cleanly (a link cut in half, marks crossing)."""
    if len(_MD_OPEN_LINK.findall(markdown)) != len(_MD_CLOSE_LINK.findall(markdown)):
        return None
    link = markdown.rfind("](")
    if link >= 0 and ")" not in markdown[link:]:
        return None
    opened: list[str] = []
    for marker in _MD_MARKERS.finditer(markdown):
        if opened and opened[-1] == marker.group():
            opened.pop()
        elif marker.group() in opened:
            return None
        else:
            opened.append(marker.group())
    return "".join(reversed(opened))


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, ending with "…".

    Markdown stays valid: a bold or struck phrase cut mid-way is closed right after
    the last kept word (the changed words are what the reader needs), a link is
    never cut (we back off to before it), and a mark is never left dangling.
    """
    if len(text) <= limit:
        return text
    cut = limit - 1  # room for the ellipsis
    while cut > 0:
        space = max(text.rfind(" ", 0, cut + 1), text.rfind("\n", 0, cut + 1))
        if space <= 0:
            break
        head = _MD_TRAILING_MARK.sub("", text[:space].rstrip()).rstrip()
        closers = _closers(head)
        if head and closers is not None and len(head) + len(closers) < limit:
            return head + closers + "…"
        cut = space - 1
    return "…"


@dataclass(frozen=True)
class Body:
    """A message in the pieces it may be shortened at: head and foot stay, items may go."""

    head: str
    items: tuple[str, ...] = ()
    foot: str = ""

    @property
    def full(self) -> str:
        return _join(self.head, *self.items, self.foot)

    def fit(self, limit: int, note: Callable[[int], str]) -> str:
        """The body within `limit` characters: whole items while they fit, the next one
        clipped when there is room for a useful part of it, then `note(n)` saying how
        many were left out; head and foot always stay."""
        text = self.full
        if len(text) <= limit:
            return text
        count = len(self.items)
        kept: list[str] = []
        for i, item in enumerate(self.items):
            left = count - i - 1
            if len(_join(self.head, *kept, item, note(left) if left else "", self.foot)) > limit:
                break
            kept.append(item)
        if len(kept) < count:
            left = count - len(kept) - 1
            room = limit - len(_join(self.head, *kept, "x", note(left) if left else "", self.foot))
            if room + 1 >= MIN_CLIP:
                kept.append(clip(self.items[len(kept)], room + 1))
        left = count - len(kept)
        return clip(_join(self.head, *kept, note(left) if left else "", self.foot), limit)

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "items": list(self.items), "foot": self.foot}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Body:
        return cls(data["head"], tuple(data.get("items", ())), data.get("foot", ""))


@dataclass(frozen=True)
class Alert:
    """One message about one page, ready for any channel; stored in the outbox as a payload."""

    key: str  # identity of the event (page + versions, or page + episode); routes extend it
    kind: AlertKind
    page_id: str
    severity: Severity
    title: str
    text_body: Body
    markdown_body: Body
    html: str
    command: str = ""  # the command that shows everything, named when a body is shortened

    def __post_init__(self) -> None:
        """Page text is attacker-controlled, and mail and chat clients obey or hide its raw
        controls (ESC sequences, BEL, bidi overrides): every alert, whatever composed it and
        whichever channel sends it (or read back from the outbox), shows them as escapes."""
        object.__setattr__(self, "title", printable(self.title))
        object.__setattr__(self, "text_body", _printable_body(self.text_body))
        object.__setattr__(self, "markdown_body", _printable_body(self.markdown_body))
        object.__setattr__(self, "html", printable(self.html))

    @property
    def text(self) -> str:
        return self.text_body.full

    @property
    def markdown(self) -> str:
        return self.markdown_body.full

    def fit(self, fmt: BodyFormat, limit: int) -> str:
        """The text or Markdown body within `limit` characters, naming how to see the rest."""
        if fmt == "markdown":
            return self.markdown_body.fit(limit, lambda n: _more_note(n, f"`{self.command}`"))
        return self.text_body.fit(limit, lambda n: _more_note(n, self.command))

    def to_payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "page_id": self.page_id,
            "severity": str(self.severity),
            "title": self.title,
            "text": self.text_body.to_dict(),
            "markdown": self.markdown_body.to_dict(),
            "html": self.html,
            "command": self.command,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            key=data["key"],
            kind=data["kind"],
            page_id=data["page_id"],
            severity=Severity.parse(data["severity"]),
            title=data["title"],
            text_body=Body.from_dict(data["text"]),
            markdown_body=Body.from_dict(data["markdown"]),
            html=data["html"],
            command=data.get("command", ""),
        )


def _printable_body(body: Body) -> Body:
    return Body(printable(body.head), tuple(map(printable, body.items)), printable(body.foot))


def _more_note(count: int, command: str) -> str:
    changes = "change" if count == 1 else "changes"
    return f"… {count} more {changes} — run {command}" if command else f"… {count} more {changes}"


# --------------------------------------------------------------------------- shared pieces


def cli_command(*args: str, config_path: str | None = None, data_dir: str | None = None) -> str:
    """The exact `policywatch` command line, with -c/-d only when they are not the defaults."""
    words = ["policywatch"]
    if config_path and normpath(config_path) != DEFAULT_CONFIG:
        words += ["-c", config_path]
    if data_dir and normpath(data_dir) != DEFAULT_DATA_DIR:
        words += ["-d", data_dir]
    return shlex.join([*words, *args])


def page_name(page: PageSpec, snapshot: Snapshot | None = None) -> str:
    """What a seller calls the page: its title, with the marketplace when it has one."""
    name = page.title or (snapshot.title if snapshot else "") or page.id
    market = page.marketplace or (snapshot.marketplace if snapshot else None)
    return f"{name} ({market})" if market else name


def when(stamp: str) -> str:
    """A stored ISO time as people read it: `2026-11-29 22:40 UTC`."""
    return readable(stamp)


# Characters that would end a Markdown link or a Slack `<url|label>` early: a page's own
# href must not carry a label or a mention of its own into a chat message.
_URL_BREAKERS = {c: f"%{ord(c):02X}" for c in " ()<>|"}
# Discord pings the whole server for `@everyone` and `@here` wherever they stand, in a
# link's text too; in a path or query `%40` is the same `@` to the site the link leads
# to. A user name in a page's link (`https://a@everyone.example/`) is mangled instead: a
# ping of the seller's whole server is worse than a broken link browsers warn about anyway.
_MASS_MENTION = re.compile(r"@(?=(?i:everyone|here))")


def md_url(url: str) -> str:
    return _MASS_MENTION.sub("%40", "".join(_URL_BREAKERS.get(c, c) for c in url))


def md_link(label: str, url: str) -> str:
    return f"[{markdown_escape(label)}]({md_url(url)})"


# --------------------------------------------------------------------------- the outbox


def outbox_items(
    alert: Alert, routes: Sequence[Route], created_at: str | datetime
) -> list[dict[str, Any]]:
    """One pending outbox entry per route that wants this severity.

    The entry key is the alert's identity plus the route name, so each route gets
    each event once, and a route whose URL changed (a rotated token) still does.
    "Unreachable" and "recovered" go to every route whatever its floor: a route
    kept for critical changes must still learn that nobody is watching the page.
    A digest route without `instant: true` hears nothing between its digests (the
    digests and reminders it asked for pick their routes themselves: `outbox_entry`).
    """
    return [
        outbox_entry(alert, route, created_at)
        for route in routes
        if route.instant
        and (
            route.min_severity <= alert.severity
            or alert.kind in ("unreachable", "recovered", "history_lost")
        )
    ]


def outbox_entry(
    alert: Alert, route: Route, created_at: str | datetime, key: str | None = None
) -> dict[str, Any]:
    """The pending outbox entry of `alert` for `route`, whatever the route's filters.

    `key` defaults to the alert's identity plus the route name.
    """
    created = created_at if isinstance(created_at, str) else iso(created_at)
    return {
        "key": key or sha256_hex(f"{alert.key}\n{route.name}"),
        "page_id": alert.page_id,
        "route": route.name,
        "kind": alert.kind,
        "severity": str(alert.severity),
        "payload": alert.to_payload(),
        "created_at": created,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created,
        "last_error": None,
        "sent_at": None,
    }


def html_page(title: str, facts: Sequence[tuple[str, str]], diff_page: str = "") -> str:
    """An email: our facts table (escaped here) at the top of the renderer's diff page.

    `render_diff(..., "html")` gives a whole document with its own styles, so the
    facts go in right after its `<body>`; without a diff we make a minimal page.
    """
    rows = "\n".join(
        f'<tr><th align="left" valign="top">{html.escape(k)}</th><td>{_html_value(k, v)}</td></tr>'
        for k, v in facts
    )
    header = f'<h1>{html.escape(title)}</h1>\n<table cellpadding="4">\n{rows}\n</table>\n'
    body = _BODY_TAG.search(diff_page)
    if body:
        return f"{diff_page[: body.end()]}\n{header}<hr>\n{diff_page[body.end() :]}"
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>\n{header}{diff_page}</body></html>\n"
    )


def _html_value(key: str, value: str) -> str:
    if key in ("URL", "View"):
        return f'<a href="{html.escape(value)}">{html.escape(value)}</a>'
    if key == "Full diff":
        return f"<code>{html.escape(value)}</code>"
    return html.escape(value)
