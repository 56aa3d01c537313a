"""Page text as literal chat Markdown, for the Markdown diff and every chat alert.

Apart from `render` so that composing an alert (a health alert may be queued by any poll,
an unchanged one included) does not import the diff renderers and what they read.
"""

from __future__ import annotations

import re

# Characters that can start markup inside a line (rows never start with page text).
# An underscore inside a word ("snake_case") cannot start emphasis, so it stays readable.
_MD_SPECIAL_RE = re.compile(r"[\\`*~\[\]<>|#]|(?<![\w\\])_|_(?!\w)")
# Chat pings and links hidden in page text: `@name`/`@everyone`/`@channel` (Mattermost,
# Discord, Teams), `<!here>`, `<@U1>`, `<@&1>`, `<#C1>` (Slack, Discord) and Slack's
# `<url|label>`, which older apprise builds even without the `<`. A zero-width space
# after the sigil, or after the link's scheme, keeps the words readable and inert.
# A sigil after a word character, '.', '+' or '-' is part of an address ("seller@example.com")
# and stays, except in `@everyone` and `@here`: Discord pings the whole server for those
# wherever they stand ("a@everyone", ".../@here") and apprise sends no `allowed_mentions`.
_MENTION_RE = re.compile(r"(?<![\w.+-])[@!#](?=[\w&^])|@(?=(?i:everyone|here))")
_SLACK_LINK_RE = re.compile(r"(?<![\w])([a-z][a-z0-9+.-]*):(?=[^\s|]*\\?\|)", re.IGNORECASE)
_ZWSP = "\u200b"


def markdown_escape(text: str, *, syntax: bool = True) -> str:
    """Page text as literal chat markdown: no emphasis, links, headings, mentions or pings.

    `syntax=False` only defuses mentions and chat links, for a title a channel shows as
    plain text (a Slack attachment title) where a backslash would be seen.
    """
    escaped = _MD_SPECIAL_RE.sub(lambda m: "\\" + m.group(), text) if syntax else text
    escaped = _SLACK_LINK_RE.sub(lambda m: m.group(1) + ":" + _ZWSP, escaped)
    return _MENTION_RE.sub(lambda m: m.group() + _ZWSP, escaped)
