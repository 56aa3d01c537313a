"""The alert about changed wording: what changed and which watched terms it touches.

It names the change the way a seller would ("an obligation now reads ..."), says when a
page returns to an earlier version or settles after flapping, and keeps each change as
its own item so a channel with a length limit drops whole changes, never half a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from policywatch.alerts.compose import (
    CHAT_CONTEXT,
    Alert,
    Body,
    cli_command,
    html_page,
    md_link,
    md_url,
    page_name,
    when,
)
from policywatch.alerts.items import Item, alert_items, section_line
from policywatch.alerts.links import change_url
from policywatch.content import Snapshot
from policywatch.diff.markdown import markdown_escape
from policywatch.diff.render import mark, render_diff
from policywatch.diff.rows import Dating
from policywatch.document.dates import page_date_line
from policywatch.models import (
    Change,
    DiffResult,
    Fragment,
    PageSpec,
    RuleMatch,
    Severity,
    sha256_hex,
    short_id,
)
from policywatch.redact import redact_page_url

_TAG_WORDS = {
    "obligation": "obligation wording",
    "number": "a number",
    "link": "a link",
    "term": "a watched term",
}


_REGEX_SYNTAX = re.compile(r"[\\()\[\]{}|^$+?]")


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


def _headline(hits: Sequence[RuleMatch], items: Sequence[Item]) -> str:
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


def _text_item(item: Item, dating: Dating) -> str:
    lines = [section_line(item.section)] if item.opens else []
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
        lines += [f"  {words}" for words in dating.lines(change)]
    return "\n".join(lines)


def _md_item(item: Item, dating: Dating) -> str:
    lines = [f"**{markdown_escape(section_line(item.section))}**"] if item.opens else []
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
        lines += [f"{what.capitalize()}: <{md_url(url)}>" for what, url in _links(change)]
        lines += [f"**{markdown_escape(words)}**" for words in dating.lines(change)]
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
    base_url: str | None = None,
) -> Alert:
    """The alert for one new version: what changed, where, which rules fired, how to see more.

    `settled_from` (when a flapping page began to flip) makes it the one alert that
    ends the flapping. Keyed by the announcement (the new version's snapshot id and
    the version it is compared with): a retry after a crash sends the same key, a
    change withdrawn and later reinstated is a new snapshot, so a new alert.
    """
    items = alert_items(diff)
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
    # An alert is written when the version is captured: "in N days" counts from then.
    dating = Dating.of_version(new_snap.metadata, new_snap.captured_at)

    view = change_url(base_url, page.id, old_snap.id, new_snap.id)  # the web view's permalink
    text_head = [f"Page: {name}", f"URL: {url}", *([f"View: {view}"] if view else [])]
    md_head = [f"Page: {md_link(name, url)}", *([f"View: {view}"] if view else [])]
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
        items=tuple(_text_item(i, dating) for i in items),
        foot=f"Snapshots: {versions}\nFull diff: {command}",
    )
    markdown_body = Body(
        head="\n".join(md_head + [markdown_escape(n) for n in notes]),
        items=tuple(_md_item(i, dating) for i in items),
        foot=f"Snapshots: `{old_id}` → `{new_id}` · full diff: `{command}`",
    )
    facts = [("Page", name), ("URL", url), *([("View", view)] if view else [])]
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
        html=html_page(title, facts, render_diff(diff, "html", dating=dating)),
        command=command,
    )
