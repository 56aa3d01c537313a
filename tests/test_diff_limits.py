"""Stories for the word-level diff of pages built to break it: a site writes every byte.

A sentence may hold more distinct words than there are characters to diff them by,
or be so long that diffing it word by word would take minutes on every poll. The
change must still be recorded, shown and alerted, in work bounded by its size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.diff import inline
from policywatch.diff.compare import diff_documents
from policywatch.diff.inline import MAX_INLINE_TOKENS
from policywatch.document.extract import extract_document
from policywatch.models import PageSpec
from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer
from tests.seller import Seller, hooked_seller

SHORT_OLD = "You may contact buyers within 30 days."
SHORT_NEW = "You may contact buyers within 14 days."


def page(*paragraphs: str) -> str:
    """A help page whose article is these paragraphs."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<html><body><div id="full-help-page"><h1>Terms</h1>{body}</div></body></html>'


def long_sentence(words: int, changed_every: int = 0) -> str:
    """One sentence of `words` distinct words; every `changed_every`th one reworded."""
    return (
        "The "
        + " ".join(
            f"new{i}" if changed_every and i % changed_every == 0 else f"word{i}"
            for i in range(words)
        )
        + "."
    )


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tokens handed to diff-match-patch, per diff; more than the cap stops the check."""
    sizes: list[int] = []
    engine_diff = inline.engine_diff

    def counted(old: list[str], new: list[str]) -> list[tuple[str, str]]:
        sizes.append(len(old) + len(new))
        assert sizes[-1] <= MAX_INLINE_TOKENS, "a word diff was handed more than it may compare"
        return engine_diff(old, new)

    monkeypatch.setattr(inline, "engine_diff", counted)
    return sizes


def watching(tmp_path: Path, pageserver: PageServer, webhook: HttpReceiver, body: str) -> Seller:
    pageserver.route("/terms", body)
    return hooked_seller(tmp_path, "terms", pageserver.url("/terms"), webhook.url())


def test_a_sentence_with_more_distinct_words_than_fit_the_word_map_is_still_diffed_and_stored(
    tmp_path: Path,
    pageserver: PageServer,
    webhook: HttpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 100,000 words, a third reworded: over 133,000 distinct tokens, past the 131,072
    # characters the word diff maps them to.
    old, new = long_sentence(100_000), long_sentence(100_000, changed_every=3)
    seller = watching(tmp_path, pageserver, webhook, page(old))
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/terms", page(new))

    code, out, err = seller(capsys, "check")

    assert code == 0 and "internal error" not in out + err, err
    assert len(seller.snapshots("terms")) == 2
    (change,) = seller.json(capsys, "diff", "terms")["changes"]
    fragments = change["fragments"]
    assert [f["op"] for f in fragments] == ["equal", "delete", "insert"]
    assert "".join(f["text"] for f in fragments if f["op"] != "insert") == old
    assert "".join(f["text"] for f in fragments if f["op"] != "delete") == new
    assert len(webhook.posts) == 1


def test_a_huge_one_paragraph_change_is_diffed_in_bounded_work(
    tmp_path: Path,
    pageserver: PageServer,
    webhook: HttpReceiver,
    compared: list[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The reviewer's page: one 40,000-word paragraph with every fifth word changed, which
    # took half a minute to diff word by word; beside it, an ordinary one-word edit.
    old, new = long_sentence(40_000), long_sentence(40_000, changed_every=5)
    seller = watching(tmp_path, pageserver, webhook, page(SHORT_OLD, old))
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/terms", page(SHORT_NEW, new))

    assert seller(capsys, "check")[0] == 0

    assert all(size <= MAX_INLINE_TOKENS for size in compared)
    short, huge = seller.json(capsys, "diff", "terms")["changes"]
    assert [(f["op"], f["text"]) for f in short["fragments"]] == [
        ("equal", "You may contact buyers within "),
        ("delete", "30"),
        ("insert", "14"),
        ("equal", " days."),
    ]
    # The huge one: replaced whole between the words kept at both ends.
    assert [(f["op"], f["text"][:12]) for f in huge["fragments"]] == [
        ("equal", "The "),
        ("delete", "word0 word1 "),
        ("insert", "new0 word1 w"),
        ("equal", " word39996 w"),
    ]
    text = seller(capsys, "diff", "terms")[1]
    assert "word39999" in text and "new39995" in text
    markdown = seller(capsys, "diff", "terms", "--format", "markdown")[1]
    assert "~~word0 word1" in markdown and "new39995** word39996" in markdown
    html = seller(capsys, "diff", "terms", "--format", "html")[1]
    assert "<del>word0 word1" in html and "<ins>new0 word1" in html
    (post,) = webhook.posts
    # The alert tells both; the huge one is clipped to the channel's length, as any is.
    assert "{+14+}" in post["json"]["message"]
    assert post["json"]["message"].count("before: ") == 2


def repeated(tag: str, items: list[str]) -> str:
    """A page whose article says `items` again and again, in one paragraph or as list items."""
    if tag == "p":
        return page("You may contact buyers within 30 days. " + " ".join(items))
    return page("You may contact buyers within 30 days.").replace(
        "</div>", "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul></div>"
    )


@pytest.mark.parametrize("tag", ["p", "li"])
def test_a_page_saying_one_thing_hundreds_of_times_is_diffed_as_one_replaced_run(tag: str):
    """Exact matching of 600 equal sentences (or list items) a side takes cubic time: a
    2,000-fold page took 98 s a poll. Past MAX_EQUAL_PAIRS the run is one replacement."""
    spec = PageSpec(id="terms", url="https://example.com/terms", select="#full-help-page")
    old = ["Yes."] * 600
    new = ["No." if i % 5 == 0 else "Yes." for i in range(600)]
    before, after = (extract_document(repeated(tag, s), spec, spec.url) for s in (old, new))

    diff = diff_documents(before, after, page_id="terms", old_id="a", new_id="b")

    changes = [c for section in diff.sections for c in section.changes]
    assert {c.kind for c in changes} == {"removed", "added"}  # the run, replaced whole
    assert len(changes) > 1000  # an exact alignment pairs most of it: 240-360 changes
    assert not any("30 days" in (c.old or c.new or "") for c in changes)  # outside the run


def test_a_long_table_of_repeated_cells_still_shows_just_the_cells_that_changed():
    """400 rows answering "Yes." pair past MAX_EQUAL_PAIRS, but their distinct rows anchor
    the match: the two cells turned to "No." are the whole change, not the whole table."""
    spec = PageSpec(id="fees", url="https://example.com/fees", select="#full-help-page")
    old = [item for i in range(400) for item in (f"Category {i} fee applies.", "Yes.")]
    new = [*old[:3], "No.", *old[4:-1], "No."]
    before, after = (extract_document(repeated("li", rows), spec, spec.url) for rows in (old, new))

    diff = diff_documents(before, after, page_id="fees", old_id="a", new_id="b")

    changes = [c for section in diff.sections for c in section.changes]
    assert sorted((c.kind, c.old or c.new) for c in changes) == [
        ("added", "No."),
        ("added", "No."),
        ("removed", "Yes."),
        ("removed", "Yes."),
    ]
