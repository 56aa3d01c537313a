"""Stories for showing a diff: terminal, Slack/Discord markdown, email html, json for scripts."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import lxml.html
import pytest

from policywatch.content import Document
from policywatch.diff.compare import diff_documents
from policywatch.diff.markdown import markdown_escape
from policywatch.diff.render import render_diff
from policywatch.models import DiffResult
from policywatch.watchlist.rules import DEFAULT_RULES
from tests.diff_support import document

GOLDEN = Path(__file__).parent / "fixtures" / "diff-golden.json"
TITLE = "Communication guidelines"
PERMITTED = f"{TITLE} > Permitted messages"
PROHIBITED = f"{TITLE} > Prohibited messages"
TEMPLATES = f"{TITLE} > Templates"
META = {
    "url": "https://sellercentral.example/help/G1701",
    "new_captured_at": "2026-11-29T22:40:00Z",
}


def versions() -> tuple[Document, Document]:
    old = document(
        {
            TITLE: ["Use Buyer-Seller Messaging. Reply within 48 hours. Keep it short."],
            PERMITTED: [
                "You may request a product review. Say thank you. Mention the order.",
                "- Ask a question about the order",
            ],
            PROHIBITED: ["- Links to your website", "- Logos and *emoji*"],
            f"{TITLE} > Opt-out": ["Buyers can opt out of messages."],
            TEMPLATES: ["Use the [templates](https://sc.example/templates) for replies."],
        }
    )
    new = document(
        {
            TITLE: ["Use Buyer-Seller Messaging. Reply within 24 hours. Keep it short."],
            PERMITTED: [
                "You may not request a product review. Say thank you. Mention the order.",
                "- Ask a question about the order",
            ],
            PROHIBITED: [
                "- Links to your website",
                "- Logos and *emoji*",
                "- Unsolicited messages <script>alert('pwned')</script> @everyone",
            ],
            f"{TITLE} > Opt-out": ["Buyers can opt out of messages ."],
        }
    )
    return old, new


def the_diff() -> DiffResult:
    old, new = versions()
    return diff_documents(
        old, new, page_id="comms", old_id="a" * 40, new_id="b" * 40, rules=DEFAULT_RULES
    )


# --------------------------------------------------------------------------- text


def test_plain_text_marks_deleted_and_inserted_words_in_brackets():
    text = render_diff(the_diff(), "text")
    assert "You may {+not +}request a product review." in text
    assert "Reply within [-48-]{+24+} hours." in text
    assert "\x1b[" not in text
    assert f"== {PERMITTED} [modified] ==" in text


def test_colour_text_uses_red_and_green_instead_of_brackets():
    text = render_diff(the_diff(), "text", color=True)
    assert "\x1b[32mnot \x1b[0m" in text
    assert "\x1b[31;9m48\x1b[0m" in text
    assert "{+" not in text and "[-" not in text


def test_tags_and_watched_terms_are_spelled_out_next_to_the_change():
    text = render_diff(the_diff(), "text")
    line = next(x for x in text.splitlines() if "Unsolicited" in x)
    assert 'critical term "unsolicited" (new)' in line


def test_cosmetic_edits_and_unchanged_sections_are_hidden_unless_asked():
    text = render_diff(the_diff(), "text")
    assert "Opt-out" not in text
    assert "1 cosmetic change(s) not shown" in text
    everything = render_diff(the_diff(), "text", show_all=True)
    assert f"== {TITLE} > Opt-out [modified] ==" in everything
    assert "  = Buyers can opt out of messages{+ +}." in everything


def test_context_shows_the_unchanged_sentences_around_each_change():
    old, new = versions()
    text = render_diff(the_diff(), "text", context=1, old=old, new=new)
    section = text.split(f"== {PERMITTED} [modified] ==")[1].split("==")[0]
    lines = [line.strip() for line in section.strip().splitlines()]
    assert lines == [
        '~ You may {+not +}request a product review.   [obligation; major term "review" (both)]',
        "Say thank you.",
        "…",
    ]
    without = render_diff(the_diff(), "text", old=old, new=new)
    assert "Say thank you." not in without


def test_an_empty_diff_says_so():
    old, _ = versions()
    result = diff_documents(old, old, page_id="comms", old_id="a", new_id="a")
    assert "No changes." in render_diff(result, "text")
    assert render_diff(result, "json") and json.loads(render_diff(result, "json"))["changes"] == []


def test_an_unknown_format_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="text, markdown, html, json"):
        render_diff(the_diff(), "pdf")


# --------------------------------------------------------------------------- markdown


def test_markdown_strikes_deletions_and_bolds_insertions_outside_the_spaces():
    md = render_diff(the_diff(), "markdown")
    assert "You may **not** request a product review." in md
    assert "Reply within ~~48~~**24** hours." in md
    assert f"### {TITLE} \\> Permitted messages" in md


def test_markdown_escapes_the_pages_own_markup_and_mentions():
    md = render_diff(the_diff(), "markdown", show_all=True)
    assert "\\<script\\>" in md and "<script>" not in md
    assert "@\u200beveryone" in md and "@everyone" not in md
    old, new = versions()
    with_context = render_diff(the_diff(), "markdown", context=3, old=old, new=new)
    assert "Logos and \\*emoji\\*" in with_context


# --------------------------------------------------------------------------- html


def test_html_is_one_self_contained_page_with_red_deletions_and_green_insertions():
    page = render_diff(the_diff(), "html", meta=META)
    root = lxml.html.fromstring(page)
    assert root.xpath("//style") and not root.xpath("//link|//*[@src]")
    assert [d.text for d in root.xpath("//del")] == ["48", "Use the templates for replies."]
    assert "not " in [i.text for i in root.xpath("//ins")]
    assert "del{" in page and "ins{" in page
    assert META["url"] in root.text_content()


def test_a_script_in_the_page_text_comes_out_inert_in_html():
    page = render_diff(the_diff(), "html")
    root = lxml.html.fromstring(page)
    assert root.xpath("//script") == []
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "<script>alert('pwned')</script>" in root.text_content()


# --------------------------------------------------------------------------- json


def test_json_matches_the_documented_golden_file():
    produced = render_diff(the_diff(), "json", meta=META)
    if os.environ.get("POLICYWATCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(produced, encoding="utf-8")
    assert json.loads(produced) == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_json_carries_every_change_with_its_section_and_classification():
    data = json.loads(render_diff(the_diff(), "json"))
    assert data["schema_version"] == 1
    assert data["summary"]["severity"] == "critical"
    assert data["summary"]["cosmetic"] == 1
    flip = next(c for c in data["changes"] if "obligation" in c["tags"])
    assert flip["section"] == PERMITTED.split(" > ")
    assert flip["section_label"] == PERMITTED
    assert flip["section_kind"] == "modified"
    assert {"op": "insert", "text": "not "} in flip["fragments"]
    added = next(c for c in data["changes"] if c["kind"] == "added")
    assert added["matches"][0] == {
        "rule": "buyer-messaging",
        "term": "unsolicited",
        "severity": "critical",
        "side": "new",
    }
    assert [(s["label"], s["kind"]) for s in data["sections"]] == [
        (TITLE, "modified"),
        (PERMITTED, "modified"),
        (PROHIBITED, "modified"),
        (f"{TITLE} > Opt-out", "modified"),
        (TEMPLATES, "removed"),
    ]
    gone = data["changes"][-1]
    assert (gone["kind"], gone["section_kind"]) == ("removed", "removed")
    assert gone["links_removed"] == ["https://sc.example/templates"]


def test_every_chat_mention_and_slack_link_in_page_text_is_defused_but_still_readable():
    text = (
        "<!channel> <!here> <!everyone> @all @room @channel @here @everyone @jane "
        "<@U123> <@&123> <#C123> <https://evil.example|Verify your account> seller@example.com"
    )
    escaped = markdown_escape(text)
    assert re.findall(r"(?<!\w)[!@#][\w&]|https?://evil\.example\\?\|", escaped) == []
    assert escaped.replace("\u200b", "").replace("\\", "") == text  # the same words, inert
    assert "seller@example.com" in escaped  # an address is no mention
    assert markdown_escape("[critical] @here", syntax=False) == "[critical] @\u200bhere"
