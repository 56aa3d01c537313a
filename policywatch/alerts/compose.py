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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from os.path import normpath
from typing import Any, Literal

from policywatch.clock import iso, parse_iso
from policywatch.diff.render import mark, markdown_escape, render_diff
from policywatch.document.extract import page_date_line
from policywatch.models import (
    PATH_SEPARATOR,
    Change,
    DiffResult,
    Fragment,
    PageSpec,
    Route,
    RuleMatch,
    SectionChange,
    Severity,
    Snapshot,
    sha256_hex,
    short_id,
)
from policywatch.redact import redact_page_url

AlertKind = Literal[
    "change", "flapping", "settled", "unreachable", "recovered", "history_lost", "test"
]
BodyFormat = Literal["text", "markdown"]

DEFAULT_CONFIG = "watchlist.yaml"  # CLI defaults: left out of suggested commands
DEFAULT_DATA_DIR = "policywatch-data"
# Unchanged words kept around a change in chat, so a long paragraph still fits a message.
CHAT_CONTEXT = 120
MIN_CLIP = 80  # below this a clipped change says too little to be worth showing

# Tags that explain a change when no watched term matched, most telling first.
_TAG_WORDS = {
    "obligation": "obligation wording",
    "number": "a number",
    "link": "a link",
    "term": "a watched term",
}
_SECTION_VERBS = {
    "added": "section added",
    "removed": "section removed",
    "renamed": "section renamed",
    "moved": "section moved",
}

# Markdown the chat body itself uses; page text is escaped so it can never open any.
_MD_MARKERS = re.compile(r"(?<!\\)(\*\*|~~|`)")
_MD_TRAILING_MARK = re.compile(r"(?<!\\)(\*\*|~~|`)+$")
_MD_OPEN_LINK = re.compile(r"(?<!\\)\[")
_MD_CLOSE_LINK = re.compile(r"(?<!\\)\]")
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_REGEX_SYNTAX = re.compile(r"[\\()\[\]{}|^$+?]")


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
    try:
        return iso(parse_iso(stamp), "minutes").replace("T", " ").replace("Z", " UTC")
    except ValueError:
        return stamp


# Characters that would end a Markdown link or a Slack `<url|label>` early: a page's own
# href must not carry a label or a mention of its own into a chat message.
_URL_BREAKERS = {c: f"%{ord(c):02X}" for c in " ()<>|"}


def _md_url(url: str) -> str:
    return "".join(_URL_BREAKERS.get(c, c) for c in url)


def _md_link(label: str, url: str) -> str:
    return f"[{markdown_escape(label)}]({_md_url(url)})"


# --------------------------------------------------------------------------- change alerts


@dataclass(frozen=True)
class _Item:
    """One thing to report: a changed sentence, or a section-level move without one.

    `opens` marks the first item of its section, which carries the section heading;
    bodies are only ever shortened from the end, so a kept item's heading is kept too.
    """

    section: SectionChange
    change: Change | None
    opens: bool


def _items(diff: DiffResult) -> list[_Item]:
    """Substantive changes in page order (all changes when none is substantive); a new
    heading is told by the section line, not repeated as a sentence change."""
    substantive_only = bool(diff.substantive)
    items: list[_Item] = []
    for section in diff.sections:
        if section.kind == "unchanged":
            continue
        changes = [
            c
            for c in section.changes
            if (c.substantive or not substantive_only) and "heading" not in c.tags
        ]
        if changes:
            items.extend(_Item(section, c, i == 0) for i, c in enumerate(changes))
        elif section.kind in _SECTION_VERBS:  # the heading line says it all
            items.append(_Item(section, None, True))
    return items


def _rule_hits(changes: Iterable[Change]) -> list[RuleMatch]:
    """Each (rule, term) once, loudest first, then in page order."""
    seen: dict[tuple[str, str], RuleMatch] = {}
    for change in changes:
        for match in change.matches:
            seen.setdefault((match.rule, match.term.lower()), match)
    return sorted(seen.values(), key=lambda m: (-m.severity, _is_pattern(m.term)))


def _is_pattern(term: str) -> bool:
    """A rule's regular expression rather than a plain watched word (too cryptic for a title)."""
    return bool(_REGEX_SYNTAX.search(term))


def _headline(hits: Sequence[RuleMatch], items: Sequence[_Item]) -> str:
    """What the title names: the loudest watched term, else what kind of wording, else where."""
    if hits and not _is_pattern(hits[0].term):
        return f'"{hits[0].term}"'
    tags = {tag for item in items if item.change for tag in item.change.tags}
    for tag, words in _TAG_WORDS.items():
        if tag in tags:
            return words
    if items:
        section = items[0].section
        return f'"{(section.new_path or section.old_path or ("",))[-1]}"'
    return "wording"


def _marked(
    fragments: Sequence[Fragment],
    keep: str,
    mark: Callable[[str], str],
    plain: Callable[[str], str] = str,
) -> str:
    """The sentence on one side of a change (`keep` = "delete" for old, "insert" for new),
    with that side's changed words marked and the unchanged words passed through `plain`."""
    return "".join(
        mark(f.text) if f.op == keep else plain(f.text)
        for f in fragments
        if f.op in ("equal", keep)
    )


def _shorten_equal(text: str, position: Literal["first", "middle", "last"]) -> str:
    """Long unchanged stretches in chat, cut to a little context on each side of a change."""
    if len(text) <= 2 * CHAT_CONTEXT + 20:
        return text
    if position == "first":
        tail = text[-CHAT_CONTEXT:]
        return "…" + tail[tail.find(" ") :] if " " in tail else "…" + tail
    if position == "last":
        head = text[:CHAT_CONTEXT]
        return (head[: head.rfind(" ")] if " " in head else head) + " …"
    head, tail = text[:CHAT_CONTEXT], text[-CHAT_CONTEXT:]
    head = head[: head.rfind(" ")] if " " in head else head
    tail = tail[tail.find(" ") :] if " " in tail else tail
    return f"{head} …{tail}"


def _chat_fragments(fragments: Sequence[Fragment]) -> list[Fragment]:
    last = len(fragments) - 1
    out = []
    for i, f in enumerate(fragments):
        if f.op == "equal":
            position = "first" if i == 0 else "last" if i == last else "middle"
            f = Fragment("equal", _shorten_equal(f.text, position))
        out.append(f)
    return out


def _sides(change: Change) -> tuple[list[Fragment], list[Fragment]]:
    """Fragments for the old and the new sentence (whole sentences when there is no diff)."""
    if change.fragments:
        return list(change.fragments), list(change.fragments)
    old = [Fragment("delete", change.old)] if change.old else []
    new = [Fragment("insert", change.new)] if change.new else []
    return old, new


def _section_line(section: SectionChange) -> str:
    """The section's path, saying what happened to the section itself when it did more than
    change some sentences (added, removed, renamed, moved)."""
    if section.kind not in _SECTION_VERBS:
        return section.label
    verb = _SECTION_VERBS[section.kind]
    if section.kind in ("renamed", "moved") and section.old_path:
        return f"{section.label} ({verb}; was {PATH_SEPARATOR.join(section.old_path)})"
    return f"{section.label} ({verb})"


def _links(change: Change) -> list[tuple[str, str]]:
    return [("link removed", u) for u in change.links_removed] + [
        ("link added", u) for u in change.links_added
    ]


def _change_lines(
    change: Change,
    labels: Mapping[str, str],
    delete: Callable[[str], str],
    insert: Callable[[str], str],
    plain: Callable[[str], str],
    chat: bool,
) -> list[str]:
    """Before/now lines of a reworded sentence, or one added/removed line, marked up."""
    old, new = _sides(change)
    if chat:
        old, new = _chat_fragments(old), _chat_fragments(new)
    if change.kind == "added" and change.new:
        return [labels["added"] + plain(change.new)]
    if change.kind == "removed" and change.old:
        return [labels["removed"] + plain(change.old)]
    lines = []
    if change.old:
        lines.append(labels["before"] + _marked(old, "delete", delete, plain))
    if change.new:
        lines.append(labels["now"] + _marked(new, "insert", insert, plain))
    return lines


_TEXT_LABELS = {
    "before": "  before: ",
    "now": "  now:    ",
    "added": "  added: ",
    "removed": "  removed: ",
}
_MD_LABELS = {"before": "Before: ", "now": "Now: ", "added": "Added: ", "removed": "Removed: "}


def _text_item(item: _Item) -> str:
    lines = [_section_line(item.section)] if item.opens else []
    change = item.change
    if change is not None:
        lines += _change_lines(
            change,
            _TEXT_LABELS,
            lambda t: mark(t, "[-", "-]"),
            lambda t: mark(t, "{+", "+}"),
            str,
            chat=False,
        )
        lines += [f"  {what}: {url}" for what, url in _links(change)]
    return "\n".join(lines)


def _md_item(item: _Item) -> str:
    lines = [f"**{markdown_escape(_section_line(item.section))}**"] if item.opens else []
    change = item.change
    if change is not None:
        lines += _change_lines(
            change,
            _MD_LABELS,
            lambda t: mark(markdown_escape(t), "~~", "~~"),
            lambda t: mark(markdown_escape(t), "**", "**"),
            markdown_escape,
            chat=True,
        )
        lines += [f"{what.capitalize()}: <{_md_url(url)}>" for what, url in _links(change)]
    return "\n".join(lines)


def _hit_words(hits: Sequence[RuleMatch]) -> list[str]:
    return [
        f"{m.rule} pattern ({m.severity})"
        if _is_pattern(m.term)
        else f'{m.rule} "{m.term}" ({m.severity})'
        for m in hits
    ]


@dataclass(frozen=True)
class Return:
    """The page is back on wording it had before: `first` is that wording's first capture.

    `withdrawn_at` is set when the wording coming back is the newer one (a change
    that was withdrawn and is now reinstated); without it, it is a revert.
    """

    first: Snapshot
    withdrawn_at: str | None = None


def _notes(back: Return | None, silent_edit: bool, settled_from: str | None) -> list[str]:
    notes = []
    if settled_from is not None:
        notes.append(
            f"The page flipped between versions from {when(settled_from)} and has now stayed "
            "on this one; compared here with the version of the last change alert."
        )
    if back is not None and back.withdrawn_at is not None:
        notes.append(
            f"Reinstated: this wording was first seen on {when(back.first.captured_at)} "
            f"(snapshot {short_id(back.first.id)}), withdrawn on {when(back.withdrawn_at)}, "
            "and is back."
        )
    elif back is not None:
        notes.append(
            f"This is a revert: the page is back to the version first seen on "
            f"{when(back.first.captured_at)} (snapshot {short_id(back.first.id)})."
        )
    if silent_edit:
        notes.append(
            'Silent edit: the wording changed but the page\'s "Last updated" date did not.'
        )
    return notes


def _verb(back: Return | None, settled_from: str | None) -> str:
    if settled_from is not None:
        return "settled"
    if back is None:
        return "changed"
    return "reverted" if back.withdrawn_at is None else "reinstated"


def change_alert(
    diff: DiffResult,
    page: PageSpec,
    severity: Severity,
    old_snap: Snapshot,
    new_snap: Snapshot,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
    revert_of: Snapshot | Return | None = None,
    silent_edit: bool = False,
    settled_from: str | None = None,
) -> Alert:
    """The alert for one new version: what changed, where, which rules fired, how to see more.

    `settled_from` (when a flapping page began to flip) makes it the one alert that
    ends the flapping. Keyed by the announcement (the new version's snapshot id and
    the version it is compared with): a retry after a crash sends the same key, a
    change withdrawn and later reinstated is a new snapshot, so a new alert.
    """
    items = _items(diff)
    hits = _rule_hits(item.change for item in items if item.change)
    name = page_name(page, new_snap)
    back = Return(revert_of) if isinstance(revert_of, Snapshot) else revert_of
    verb = _verb(back, settled_from)
    title = f"[{severity}] {name} {verb} — {_headline(hits, items)}"
    old_id, new_id = short_id(old_snap.id), short_id(new_snap.id)
    command = cli_command(
        "diff", page.id, old_id, new_id, config_path=config_path, data_dir=data_dir
    )
    url = redact_page_url(new_snap.url or page.url)
    market = page.marketplace or new_snap.marketplace
    notes = _notes(back, silent_edit, settled_from)
    versions = f"{old_id} ({when(old_snap.captured_at)}) -> {new_id} ({when(new_snap.captured_at)})"

    text_head = [f"Page: {name}", f"URL: {url}"]
    md_head = [f"Page: {_md_link(name, url)}"]
    page_date = page_date_line(
        old_snap.metadata.get("last_updated"), new_snap.metadata.get("last_updated")
    )
    if page_date:  # the date a seller quotes to support
        text_head.append(page_date)
        md_head.append(markdown_escape(page_date))
    if market:
        text_head.append(f"Marketplace: {market}")
        md_head.append(f"Marketplace: {markdown_escape(market)}")
    if hits:
        text_head.append("Rules: " + "; ".join(_hit_words(hits)))
        md_head.append("Rules: " + "; ".join(markdown_escape(w) for w in _hit_words(hits)))
    text_body = Body(
        head="\n".join([*text_head, *notes]),
        items=tuple(_text_item(i) for i in items),
        foot=f"Snapshots: {versions}\nFull diff: {command}",
    )
    markdown_body = Body(
        head="\n".join(md_head + [markdown_escape(n) for n in notes]),
        items=tuple(_md_item(i) for i in items),
        foot=f"Snapshots: `{old_id}` → `{new_id}` · full diff: `{command}`",
    )
    facts = [("Page", name), ("URL", url)]
    facts += [("Page date", page_date)] if page_date else []
    facts += [("Marketplace", market)] if market else []
    facts += [("Rules", "; ".join(_hit_words(hits)))] if hits else []
    facts += [("Note", n) for n in notes]
    facts += [("Snapshots", versions), ("Full diff", command)]
    return Alert(
        key=sha256_hex("\n".join((verb, page.id, old_snap.digest, new_snap.id))),
        kind="settled" if settled_from is not None else "change",
        page_id=page.id,
        severity=severity,
        title=title,
        text_body=text_body,
        markdown_body=markdown_body,
        html=_html(title, facts, render_diff(diff, "html")),
        command=command,
    )


def _html(title: str, facts: Sequence[tuple[str, str]], diff_page: str = "") -> str:
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
    if key == "URL":
        return f'<a href="{html.escape(value)}">{html.escape(value)}</a>'
    if key == "Full diff":
        return f"<code>{html.escape(value)}</code>"
    return html.escape(value)


# --------------------------------------------------------------------------- page health alerts


def unreachable_alert(
    page: PageSpec,
    failures: int,
    last_reason: str,
    since: str,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
    severity: Severity = Severity.MAJOR,
) -> Alert:
    """A page we could not check several times in a row: changes there would go unseen.

    One per episode (keyed by when it started); `recovered_alert` closes it.
    """
    name = page_name(page)
    times = "failure" if failures == 1 else "failures"
    title = f"[unreachable] {name} could not be checked ({failures} {times} in a row)"
    command = cli_command("-v", "check", page.id, config_path=config_path, data_dir=data_dir)
    facts = [
        ("Page", name),
        ("URL", redact_page_url(page.url)),
        ("Failing since", when(since)),
        ("Last reason", last_reason),
        ("What to do", f"open the URL in a browser; then run {command}"),
    ]
    return _health_alert("unreachable", page, since, severity, title, facts, command)


def recovered_alert(
    page: PageSpec, down_since: str, *, severity: Severity = Severity.MAJOR
) -> Alert:
    """The page answers with the policy again; it goes to whoever got the unreachable alert."""
    name = page_name(page)
    title = f"[recovered] {name} can be checked again"
    facts = [
        ("Page", name),
        ("URL", redact_page_url(page.url)),
        ("Failing since", when(down_since)),
    ]
    return _health_alert("recovered", page, down_since, severity, title, facts, "")


def history_lost_alert(
    page: PageSpec, lost: Snapshot, problem: str, *, severity: Severity = Severity.MAJOR
) -> Alert:
    """The stored latest version is unreadable: the new one is a baseline, not a diff.

    Without it a real change would be compared with nothing and never announced.
    """
    name = page_name(page)
    title = f"[unreachable history] {name}: the last stored version is lost; watching anew"
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Lost version", f"{lost.id[:12]} (captured {when(lost.captured_at)})"),
        ("Problem", problem),
        ("What to do", "compare the page by hand; run `policywatch fsck` on the data directory"),
    ]
    return _health_alert("history_lost", page, lost.id, severity, title, facts, "")


def _health_alert(
    kind: AlertKind,
    page: PageSpec,
    since: str,
    severity: Severity,
    title: str,
    facts: Sequence[tuple[str, str]],
    command: str,
) -> Alert:
    text = "\n".join(f"{k}: {v}" for k, v in facts)
    markdown = "\n".join(
        f"{k}: {_md_link(v, v) if k == 'URL' else markdown_escape(v)}" for k, v in facts
    )
    return Alert(
        key=sha256_hex("\n".join((kind, page.id, since))),
        kind=kind,
        page_id=page.id,
        severity=severity,
        title=title,
        text_body=Body(text),
        markdown_body=Body(markdown),
        html=_html(title, facts),
        command=command,
    )


def flapping_alert(
    page: PageSpec,
    versions: Sequence[Snapshot],
    since: str,
    settle: str,
    severity: Severity,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
) -> Alert:
    """One notice for a page flipping back and forth, instead of an alert per flip.

    Keyed by when the flapping began: one per episode; it ends with one "settled" alert.
    """
    name = page_name(page, versions[-1] if versions else None)
    title = f"[flapping] {name} is flipping between two versions"
    shown = ", ".join(f"{short_id(v.id)} (first seen {when(v.captured_at)})" for v in versions)
    command = cli_command("history", page.id, config_path=config_path, data_dir=data_dir)
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Flipping since", when(since)),
        ("Versions", shown),
        (
            "What next",
            f"every flip is kept, with no alert per flip; one alert will say which version "
            f"the page settled on once it stays on one for {settle}",
        ),
        ("History", command),
    ]
    return _health_alert("flapping", page, since, severity, title, facts, command)


def settled_alert(
    page: PageSpec,
    snapshot: Snapshot,
    announced: Snapshot,
    since: str,
    severity: Severity,
) -> Alert:
    """The flapping ended on the very wording of the last change alert: that alert holds."""
    name = page_name(page, snapshot)
    title = f"[settled] {name} settled on the version of the last change alert"
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Flipping since", when(since)),
        (
            "Settled on",
            f"{short_id(snapshot.id)}: the same wording as {short_id(announced.id)} "
            f"(first seen {when(announced.captured_at)}), as announced then",
        ),
    ]
    return _health_alert("settled", page, snapshot.id, severity, title, facts, "")


def probe_alert() -> Alert:
    """What `policywatch notify-test` sends: proves the route works, changes nothing."""
    title = "[test] policywatch can reach this channel"
    line = "Policy change alerts for your watched pages will arrive here."
    return Alert(
        key=sha256_hex("test"),
        kind="test",
        page_id="",
        severity=Severity.MINOR,
        title=title,
        text_body=Body(line),
        markdown_body=Body(line),
        html=_html(title, [("Message", line)]),
    )


# --------------------------------------------------------------------------- the outbox


def outbox_items(
    alert: Alert, routes: Sequence[Route], created_at: str | datetime
) -> list[dict[str, Any]]:
    """One pending outbox entry per route that wants this severity.

    The entry key is the alert's identity plus the route name, so each route gets
    each event once, and a route whose URL changed (a rotated token) still does.
    "Unreachable" and "recovered" go to every route whatever its floor: a route
    kept for critical changes must still learn that nobody is watching the page.
    """
    created = created_at if isinstance(created_at, str) else iso(created_at)
    payload = alert.to_payload()
    return [
        {
            "key": sha256_hex(f"{alert.key}\n{route.name}"),
            "page_id": alert.page_id,
            "route": route.name,
            "kind": alert.kind,
            "severity": str(alert.severity),
            "payload": payload,
            "created_at": created,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": created,
            "last_error": None,
            "sent_at": None,
        }
        for route in routes
        if route.min_severity <= alert.severity
        or alert.kind in ("unreachable", "recovered", "history_lost")
    ]
