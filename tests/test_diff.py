"""Stories for the semantic diff: what a seller sees when a policy page changes."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from policywatch.content import Document
from policywatch.diff.compare import diff_documents
from policywatch.diff.inline import engine_diff, inline_fragments, plain_edit
from policywatch.document.extract import extract_document
from policywatch.document.segment import split_sentences
from policywatch.models import Change, DiffResult, Fragment, PageSpec, Severity
from policywatch.watchlist.rules import DEFAULT_RULES, severity
from tests.diff_support import block, document, markdown_document, section
from tests.pageserver import fixture

TITLE = "Seller Code of Conduct"
COMMS = f"{TITLE} > Communications"
REVIEWS = f"{TITLE} > Ratings, Feedback, and Reviews"
CONTACT = f"{TITLE} > Guidelines for contacting buyers"
REQUEST = f"{CONTACT} > Request a Review"


def conduct(**edits: list[str]) -> Document:
    """The Seller Code of Conduct as an outline; keyword edits replace one section's blocks."""
    outline = {
        TITLE: ["Amazon strives to ensure a fair and trustworthy buying and selling experience."],
        REVIEWS: [
            "You may request feedback and reviews from your own customers in a neutral manner.",
            "- Pay for or offer an incentive in exchange for providing feedback or reviews",
            "- Ask customers to write only positive reviews",
            "- Solicit reviews only from customers who had a positive experience",
        ],
        COMMS: [
            "You may not send inappropriate messages. All communications to customers must be "
            "sent through Buyer-Seller Messaging.",
        ],
        CONTACT: ["In general, you can contact a buyer only to complete an order."],
        REQUEST: [
            "You can use this feature to request reviews once per order between 4 and 30 days "
            "after the order delivery date.",
        ],
    }
    names = {"reviews": REVIEWS, "comms": COMMS, "contact": CONTACT, "request": REQUEST}
    for name, blocks in edits.items():
        outline[names[name]] = blocks
    return document(outline)


def diff(old: Document, new: Document) -> DiffResult:
    return diff_documents(
        old, new, page_id="conduct", old_id="a1", new_id="b2", rules=DEFAULT_RULES
    )


def changed(result: DiffResult) -> dict[str, str]:
    """Section label -> kind, for every section that is not unchanged."""
    return {s.label: s.kind for s in result.sections if s.kind != "unchanged"}


def only_change(result: DiffResult) -> Change:
    assert len(result.changes) == 1, result.changes
    return result.changes[0]


# --------------------------------------------------------------------------- structure


def test_a_reworded_bullet_is_one_change_in_its_section():
    old = conduct()
    bullets = list(old.section(REVIEWS).blocks)
    new = conduct(
        reviews=[
            bullets[0].text,
            "- Pay for or offer an incentive in exchange for providing or removing feedback "
            "or reviews",
            "- " + bullets[2].text,
            "- " + bullets[3].text,
        ]
    )
    result = diff(old, new)
    assert changed(result) == {REVIEWS: "modified"}
    change = only_change(result)
    assert change.kind == "modified" and change.section_label == REVIEWS
    assert (
        change.old == "Pay for or offer an incentive in exchange for providing feedback or reviews"
    )
    assert ("insert", "or removing ") in [(f.op, f.text) for f in change.fragments]
    assert change.substantive


def test_an_added_sentence_inside_a_paragraph_is_one_added_change_not_a_new_paragraph():
    new = conduct(
        comms=[
            "You may not send inappropriate messages. Marketing communications are prohibited. "
            "All communications to customers must be sent through Buyer-Seller Messaging."
        ]
    )
    change = only_change(diff(conduct(), new))
    assert (change.kind, change.old, change.new) == (
        "added",
        None,
        "Marketing communications are prohibited.",
    )


def test_two_reworded_bullets_around_an_untouched_one_are_two_changes_in_page_order():
    old = conduct()
    bullets = [b.text for b in old.section(REVIEWS).blocks]
    new = conduct(
        reviews=[
            bullets[0],
            "- Pay for or offer a discount in exchange for providing feedback or reviews",
            "- " + bullets[2],
            "- Solicit reviews only from buyers who had a positive experience",
        ]
    )
    result = diff(old, new)
    assert [(c.kind, c.old) for c in result.changes] == [
        ("modified", bullets[1]),
        ("modified", bullets[3]),
    ]
    assert [(f.op, f.text) for f in result.changes[1].fragments if f.op != "equal"] == [
        ("delete", "customers"),
        ("insert", "buyers"),
    ]


def test_bullets_that_swap_places_are_a_move_not_two_rewordings():
    old = conduct()
    bullets = [b.text for b in old.section(REVIEWS).blocks]
    new = conduct(reviews=[bullets[0], "- " + bullets[1], "- " + bullets[3], "- " + bullets[2]])
    result = diff(old, new)
    assert {c.kind for c in result.changes} == {"added", "removed"}
    assert all("moved" in c.tags for c in result.changes)


def test_moving_a_section_is_reported_as_a_move_not_as_removed_and_added():
    old = conduct()
    outline = {s.label: [b.text for b in s.blocks] for s in old.sections}
    order = [TITLE, COMMS, REVIEWS, CONTACT, REQUEST]  # Communications now comes first
    new = document({label: outline[label] for label in order})
    result = diff(old, new)
    assert changed(result) == {COMMS: "moved"}
    assert result.changes == ()
    assert severity(result) == Severity.MINOR


def test_a_section_moved_under_another_parent_is_a_move_with_its_old_path():
    old = conduct()
    outline = {s.label: [b.text for b in s.blocks] for s in old.sections}
    new_request = f"{TITLE} > Request a Review"
    new = document(
        {**{k: v for k, v in outline.items() if k != REQUEST}, new_request: outline[REQUEST]}
    )
    result = diff(old, new)
    assert changed(result) == {new_request: "moved"}
    moved = next(s for s in result.sections if s.kind == "moved")
    assert moved.old_path == tuple(REQUEST.split(" > "))


def test_a_renamed_heading_keeps_its_body_and_only_the_heading_changes():
    old = conduct()
    renamed = f"{TITLE} > Buyer communications"
    new = document(
        {
            (renamed if s.label == COMMS else s.label): [b.text for b in s.blocks]
            for s in old.sections
        }
    )
    result = diff(old, new)
    assert changed(result) == {renamed: "renamed"}
    section = next(s for s in result.sections if s.kind == "renamed")
    assert section.old_path[-1] == "Communications"
    assert [c.tags[0] for c in section.changes] == ["heading"]
    assert section.changes[0].old == "Communications"
    assert section.changes[0].new == "Buyer communications"


def test_a_renamed_and_reworded_section_is_one_section_with_its_edits():
    old = conduct()
    renamed = f"{TITLE} > Reviews and ratings"
    blocks = [b.text if b.kind == "p" else "- " + b.text for b in old.section(REVIEWS).blocks]
    blocks[3] = "- Solicit reviews only from customers who were happy"
    outline = {s.label: [b.text for b in s.blocks] for s in old.sections}
    outline = {
        (renamed if k == REVIEWS else k): (blocks if k == REVIEWS else v)
        for k, v in outline.items()
    }
    result = diff(old, document(outline))
    assert changed(result) == {renamed: "renamed"}
    body = [c for c in result.changes if "heading" not in c.tags]
    assert [(c.kind, c.new) for c in body] == [
        ("modified", "Solicit reviews only from customers who were happy")
    ]


def test_a_section_that_lost_its_heading_reports_its_edits_where_it_now_is():
    """Stored versions may hold a section with an empty path: its changes are found there."""
    kept = [block("Use Buyer-Seller Messaging."), block("Do not share buyer data.")]
    old = Document("", (section(["Terms"], [block("Sellers may contact buyers."), *kept]),), "o")
    new = Document("", (section([], [block("Sellers may not contact buyers."), *kept]),), "n")
    result = diff(old, new)
    assert [(s.kind, s.old_path, s.new_path) for s in result.sections] == [
        ("renamed", ("Terms",), ())
    ]
    heading, edit = result.changes
    assert "heading" in heading.tags and edit.new == "Sellers may not contact buyers."
    assert heading.section == edit.section == ()


def test_a_page_whose_only_section_lost_its_title_and_was_rewritten_is_one_renamed_section():
    """An empty path is a path like any other: the retitled root pairs by path, not by body."""
    old = Document("", (section(["Terms"], [block("Sellers may contact buyers.")]),), "o")
    new = Document("", (section([], [block("Marketing messages are prohibited.")]),), "n")
    result = diff(old, new)
    assert [(s.kind, s.old_path, s.new_path) for s in result.sections] == [
        ("renamed", ("Terms",), ())
    ]
    assert [c.kind for c in result.changes if "heading" not in c.tags] == ["removed", "added"]


def test_subsections_follow_their_renamed_parent_without_being_reported():
    old = conduct()
    parent = f"{TITLE} > Contacting buyers"
    new = document(
        {s.label.replace(CONTACT, parent): [b.text for b in s.blocks] for s in old.sections}
    )
    assert changed(diff(old, new)) == {parent: "renamed"}


def test_a_retitled_page_with_every_section_edited_still_pairs_each_section():
    old = conduct()
    retitled = {
        s.label.replace(TITLE, "Code of Conduct"): [b.text + " Updated." for b in s.blocks]
        for s in old.sections
    }
    result = diff(old, document(retitled))
    kinds = [s.kind for s in result.sections]
    assert kinds == ["renamed", "modified", "modified", "modified", "modified"]
    body = [c for c in result.changes if "heading" not in c.tags]
    assert body and all(c.new.endswith("Updated.") and c.kind != "removed" for c in body)


def test_two_sections_with_the_same_heading_are_paired_in_page_order():
    def page(first: str) -> Document:
        sections = (
            section(["T"], []),
            section(["T", "Examples"], [block(first)]),
            section(["T", "Examples"], [block("Second example.")]),
        )
        return Document("T", sections, first)

    result = diff(page("First example."), page("First example, reworded."))
    assert [s.kind for s in result.sections] == ["unchanged", "modified", "unchanged"]
    assert only_change(result).old == "First example."


def test_added_and_removed_sections_appear_where_they_are_in_the_page():
    old = conduct()
    outline = {s.label: [b.text for b in s.blocks] for s in old.sections}
    del outline[COMMS]
    added = f"{TITLE} > Permitted messages"
    new = document(
        {
            **{k: v for k, v in outline.items() if k != CONTACT and k != REQUEST},
            added: ["You may send messages needed to complete an order."],
            CONTACT: outline[CONTACT],
            REQUEST: outline[REQUEST],
        }
    )
    result = diff(old, new)
    assert [(s.label, s.kind) for s in result.sections if s.kind != "unchanged"] == [
        (COMMS, "removed"),
        (added, "added"),
    ]
    removed = next(s for s in result.sections if s.kind == "removed")
    assert {c.kind for c in removed.changes} == {"removed"}
    assert removed.changes[0].section == tuple(COMMS.split(" > "))


# --------------------------------------------------------------------------- classification


def test_may_request_becoming_may_not_request_is_an_obligation_flip_of_at_least_major():
    new = conduct(
        reviews=["You may not request feedback and reviews from your own customers."]
        + ["- " + b.text for b in conduct().section(REVIEWS).blocks[1:]]
    )
    change = only_change(diff(conduct(), new))
    assert "obligation" in change.tags
    assert ("insert", "not ") in [(f.op, f.text) for f in change.fragments]
    assert severity(diff(conduct(), new)) >= Severity.MAJOR


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("You can contact a buyer only to complete an order.", "You cannot contact a buyer."),
        (
            "You can contact a buyer to complete an order.",
            "You can't contact a buyer to complete an order.",
        ),
        ("Sellers must reply to buyers.", "Sellers should reply to buyers."),
        (
            "Sellers are allowed to send order updates.",
            "Sellers are no longer allowed to send order updates.",
        ),
        (
            "You can contact a buyer only to complete an order.",
            "You can contact a buyer to complete an order.",
        ),
    ],
)
def test_modal_and_obligation_changes_are_tagged(before: str, after: str):
    change = only_change(diff(conduct(contact=[before]), conduct(contact=[after])))
    assert "obligation" in change.tags


def test_a_reworded_sentence_with_the_same_duties_is_not_an_obligation_change():
    before = "In general, you can contact a buyer only to complete an order."
    after = "In general, you can contact a buyer only in order to complete an order."
    change = only_change(diff(conduct(contact=[before]), conduct(contact=[after])))
    assert "obligation" not in change.tags
    assert severity(diff(conduct(contact=[before]), conduct(contact=[after]))) == Severity.MINOR


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Reply within 30 days of the order.", "Reply within 14 days of the order."),
        (
            "Request reviews between 4 and 30 days after delivery.",
            "Request reviews between 5 and 30 days after delivery.",
        ),
        ("Reply within thirty days of the order.", "Reply within fourteen days of the order."),
        ("Reply within 2 business days.", "Reply within 2 days."),
    ],
)
def test_numbers_and_time_limits_are_tagged_and_at_least_major(before: str, after: str):
    result = diff(conduct(contact=[before]), conduct(contact=[after]))
    assert "number" in only_change(result).tags
    assert severity(result) >= Severity.MAJOR


def test_thirty_days_spelled_out_is_the_same_limit_as_30_days():
    result = diff(
        conduct(contact=["Reply within thirty days."]), conduct(contact=["Reply within 30 days."])
    )
    assert "number" not in only_change(result).tags


def test_smart_quotes_and_rewrapped_lines_alone_are_not_a_substantive_change():
    old = conduct(comms=['Don\'t send "marketing" messages. Use Buyer-Seller Messaging only.'])
    new = conduct(
        comms=["Don’t  send “marketing”\n   messages.   Use Buyer–Seller Messaging only ."]
    )
    result = diff(old, new)
    assert result.changes and not any(c.substantive for c in result.changes)
    assert all("cosmetic-only" in c.tags for c in result.changes)
    assert severity(result) is None
    assert severity(result, alert_on_cosmetic=True) == Severity.MINOR


def test_unsolicited_added_to_a_sentence_is_critical_with_a_match_on_the_new_side():
    old = conduct()
    text = (
        old.section(COMMS)
        .blocks[0]
        .text.replace("send inappropriate", "send unsolicited or inappropriate")
    )
    result = diff(old, conduct(comms=[text]))
    change = only_change(result)
    assert "term" in change.tags
    match = next(m for m in change.matches if m.term == "unsolicited")
    assert (match.rule, match.side, match.severity) == ("buyer-messaging", "new", Severity.CRITICAL)
    assert severity(result) == Severity.CRITICAL


def test_a_removed_watched_term_is_matched_on_the_old_side():
    old = conduct(comms=["Marketing communications are prohibited. Be polite."])
    result = diff(old, conduct(comms=["Be polite."]))
    change = only_change(result)
    assert change.kind == "removed"
    assert [(m.term, m.side) for m in change.matches] == [("marketing communications", "old")]


def test_an_obligation_flip_that_touches_a_watched_term_stays_critical():
    old = conduct(comms=["You may send unsolicited order updates."])
    result = diff(old, conduct(comms=["You may not send unsolicited order updates."]))
    assert "obligation" in only_change(result).tags
    assert severity(result) == Severity.CRITICAL


def test_a_link_that_now_points_elsewhere_is_a_link_only_change_with_both_targets():
    old = conduct(contact=["See the [communication guidelines](https://sc.example/G1701) first."])
    new = conduct(contact=["See the [communication guidelines](https://sc.example/G1702) first."])
    change = only_change(diff(old, new))
    assert not change.substantive and change.tags == ("link", "link-only")
    assert (change.links_removed, change.links_added) == (
        ("https://sc.example/G1701",),
        ("https://sc.example/G1702",),
    )


def test_a_removed_sentence_takes_its_link_with_it():
    old = conduct(
        contact=["Contact buyers only for orders. For more, see [here](https://sc.example/G1)."]
    )
    change = only_change(diff(old, conduct(contact=["Contact buyers only for orders."])))
    assert (change.kind, change.old, change.links_removed) == (
        "removed",
        "For more, see here.",
        ("https://sc.example/G1",),
    )
    assert "link" in change.tags


def test_the_pages_ignore_patterns_make_matching_text_cosmetic():
    old = conduct(contact=["Reply to buyers quickly. Ref: 1234-AB."])
    new = conduct(contact=["Reply to buyers quickly. Ref: 9876-CD."])
    result = diff_documents(old, new, page_id="p", old_id="a", new_id="b", ignore=[r"Ref: [\w-]+"])
    assert result.changes and not result.substantive


# --------------------------------------------------------------------------- guarantees


def test_a_document_diffed_with_itself_is_empty():
    result = diff(conduct(), conduct())
    assert result.is_empty and result.changes == ()
    assert {s.kind for s in result.sections} == {"unchanged"}
    assert severity(result) is None


def test_the_same_inputs_always_give_the_same_diff():
    old = conduct()
    new = conduct(
        comms=["You may not send unsolicited messages."], request=["Use Request a Review."]
    )
    assert diff(old, new) == diff(old, new)
    assert diff(old, new).changes  # the comparison above compared something


def test_sentences_split_at_full_stops_but_not_at_abbreviations_or_decimals():
    text = (
        "Sellers in the U.S. must comply, e.g. with rule No. 5 of Amazon.com Inc. and pay 2.5 "
        "percent. Items (i.e. books) are covered! Are they? Yes."
    )
    assert split_sentences(text) == [
        "Sellers in the U.S. must comply, e.g. with rule No. 5 of Amazon.com Inc. and pay 2.5 "
        "percent.",
        "Items (i.e. books) are covered!",
        "Are they?",
        "Yes.",
    ]


def test_a_closing_quote_stays_with_its_sentence_and_a_dotted_abbreviation_ends_none():
    text = (
        'Amazon says "Do not contact buyers." (See the Seller Code of Conduct.) Use a channel, '
        "e.g. Buyer-Seller Messaging. Ask once."
    )
    assert split_sentences(text) == [
        'Amazon says "Do not contact buyers."',
        "(See the Seller Code of Conduct.)",
        "Use a channel, e.g. Buyer-Seller Messaging.",
        "Ask once.",
    ]


@pytest.mark.parametrize("ending", ["", " Is that clear?", " It is!", " And so on…"])
def test_full_stops_split_the_same_way_whatever_else_ends_the_paragraph(ending: str):
    text = "Write to J. Smith at Acme Ltd. Orders No. 7 and Nos. 8 count. Say no. Then wait."
    sentences = split_sentences(text + ending)
    assert sentences[:3] == [
        "Write to J. Smith at Acme Ltd. Orders No. 7 and Nos. 8 count.",
        "Say no.",
        "Then wait.",
    ]
    assert sentences[3:] == ([ending.strip()] if ending else [])


def test_the_inline_diff_works_on_whole_words():
    fragments = inline_fragments(
        "Contact buyers within 30 days.", "Contact customers within 14 days."
    )
    assert fragments == (
        Fragment("equal", "Contact "),
        Fragment("delete", "buyers"),
        Fragment("insert", "customers"),
        Fragment("equal", " within "),
        Fragment("delete", "30"),
        Fragment("insert", "14"),
        Fragment("equal", " days."),
    )


def test_a_number_swapped_and_words_added_around_a_clause_read_as_just_that():
    assert inline_fragments("Reply within 30 days.", "Reply within 14 days.") == (
        Fragment("equal", "Reply within "),
        Fragment("delete", "30"),
        Fragment("insert", "14"),
        Fragment("equal", " days."),
    )
    assert inline_fragments(
        "Sellers may contact customers after delivery.",
        "Sellers may contact your customers after delivery today.",
    ) == (
        Fragment("equal", "Sellers may contact "),
        Fragment("insert", "your "),
        Fragment("equal", "customers after delivery"),
        Fragment("insert", " today"),
        Fragment("equal", "."),
    )


def test_an_edit_worked_out_without_diff_match_patch_reads_exactly_as_it_would_read_it():
    """The inline diff answers plain edits itself; it must never answer them differently.

    Few words, so that words repeat at an edit's edges and kept runs are short: the
    cases where diff-match-patch's clean-ups move an edit, which must go to it.
    """
    rng = random.Random(1801)
    words = ["may", "not", "sell", "30", "14", "days", "your", "today", " ", " ", ", "]

    def some(low: int, high: int) -> list[str]:
        return [rng.choice(words) for _ in range(rng.randint(low, high))]

    shapes = {
        "added": lambda old: old[:2] + some(1, 3) + old[2:],
        "removed": lambda old: old[:1] + old[1 + rng.randint(1, 3) :],
        "swapped": lambda old: old[:2] + [w.upper() for w in some(1, 3)] + old[4:],
        "kept inside": lambda old: old[:1] + some(1, 3) + old[1:-1] + some(1, 3) + old[-1:],
    }
    answered: Counter[str] = Counter()
    for _ in range(4000):
        shape = rng.choice(list(shapes))
        old = some(3, 12)
        new = shapes[shape](old)
        old, new = (new, old) if rng.random() < 0.5 else (old, new)
        if old == new:
            continue
        edit = plain_edit(old, new)
        if edit is not None:
            answered[shape] += 1
            assert edit == engine_diff(old, new), (old, new)
    assert all(answered[shape] >= 100 for shape in shapes), answered
    # Kept words found twice in the longer side are kept where diff-match-patch keeps them.
    twice = ["not", " ", "may", " ", "sell", " ", "may", " ", "sell", "!"]
    assert plain_edit(["may", " ", "sell"], twice) == engine_diff(["may", " ", "sell"], twice)


# --------------------------------------------------------------------------- real pages


def test_real_ranking_page_reports_the_added_customer_reviews_sentence(real_pages: Path):
    folder = real_pages / "amazon-eu-ranking-parameters"
    old = markdown_document((folder / "2022-09-07.md").read_text(encoding="utf-8"))
    new = markdown_document((folder / "2023-09-26.md").read_text(encoding="utf-8"))
    result = diff(old, new)
    review = next(
        c
        for c in result.changes
        if c.new and c.new.startswith("We may also use customer product reviews")
    )
    assert review.kind == "added"
    assert review.section[-1] == "Other product highlights"
    assert ("reviews", "reviews", "new") in [(m.rule, m.term, m.side) for m in review.matches]
    alexa = next(
        c for c in result.changes if c.new == "Customers can also shop by voice with Alexa."
    )
    assert alexa.kind == "added"
    reworded = next(c for c in result.changes if c.old and c.old.startswith("We try to show"))
    assert reworded.kind == "modified" and "be interested in" in reworded.new
    assert severity(result) == Severity.MAJOR


def test_real_ranking_page_reports_the_removed_eligibility_link(real_pages: Path):
    folder = real_pages / "amazon-eu-ranking-parameters"
    old = markdown_document((folder / "2023-09-26.md").read_text(encoding="utf-8"))
    new = markdown_document((folder / "2023-10-24.md").read_text(encoding="utf-8"))
    result = diff(old, new)
    substantive = result.substantive
    assert len(substantive) == 1
    assert substantive[0].kind == "removed"
    assert substantive[0].old == "For more on eligibility, see here."
    assert "GS529693F2TCM93T" in substantive[0].links_removed[0]


def real_document(real_pages: Path, slug: str, version: str) -> Document:
    """A real rendered Seller Central page, extracted as the seller-central profile does."""
    page = PageSpec(
        id=slug,
        url="https://sellercentral.amazon.fr/help/hub/reference/external/G5TUVJKZHUVMN77V",
        select="#full-help-page",
        remove=("[hidden]", ".hh-scroll-to-top-box"),
    )
    html = (real_pages / slug / f"{version}.html").read_text(encoding="utf-8")
    return extract_document(html, page, page.url)


@pytest.mark.parametrize(
    ("old", "new", "op", "words"),
    [
        ("2022-09-15", "2023-03-16", "insert", ", suspend a shipping option,"),
        ("2023-03-16", "2023-09-06", "insert", "or the shipping regulation for New Books "),
        ("2023-09-06", "2024-03-12", "delete", ", suspend a shipping option,"),
    ],
)
def test_real_fair_pricing_history_shows_each_archived_edit_as_its_words(
    real_pages: Path, old: str, new: str, op: str, words: str
):
    slug = "amazon-eu-fair-pricing-policy"
    result = diff(real_document(real_pages, slug, old), real_document(real_pages, slug, new))
    body = [c for c in result.substantive if "heading" not in c.tags]
    assert len(body) == 1 and body[0].kind == "modified"
    assert [(f.op, f.text) for f in body[0].fragments if f.op != "equal"] == [(op, words)]


def test_real_fair_pricing_title_change_is_a_rename_of_the_page_section(real_pages: Path):
    slug = "amazon-eu-fair-pricing-policy"
    old = real_document(real_pages, slug, "2022-09-15")
    result = diff(old, real_document(real_pages, slug, "2023-03-16"))
    assert changed(result) == {"Amazon Marketplace Fair Pricing Policy": "renamed"}
    heading = result.changes[0]
    assert (heading.old, heading.new) == (
        "Amazon store fair pricing policy",
        "Amazon Marketplace Fair Pricing Policy",
    )


def test_real_mediation_page_in_french_chrome_is_no_change(real_pages: Path):
    slug = "amazon-eu-mediation-policy"
    english = real_document(real_pages, slug, "2024-07-20T1832Z")
    french = real_document(real_pages, slug, "2024-07-20T1232Z")
    result = diff(french, english)
    assert result.is_empty and severity(result) is None


def test_real_mediation_contracting_entity_change_is_one_reworded_sentence(real_pages: Path):
    slug = "amazon-eu-mediation-policy"
    old = real_document(real_pages, slug, "2024-07-20T1832Z")
    change = only_change(diff(old, real_document(real_pages, slug, "2024-08-01")))
    assert [(f.op, f.text) for f in change.fragments if f.op != "equal"] == [
        ("delete", "Services Europe"),
        ("insert", "EU"),
    ]


# --------------------------------------------------------------------------- html pairs


def test_a_rendered_page_with_a_changed_review_window_is_a_critical_number_change():
    page = PageSpec(
        id="conduct",
        url="https://sellercentral.amazon.com/help/hub/reference/external/G1801",
        select="#full-help-page",
        remove=("[hidden]", ".hh-scroll-to-top-box"),
    )
    old = extract_document(fixture("conduct-v1.html"), page, page.url)
    new_html = (
        fixture("conduct-v1.html")
        .replace("Amazon’s features or services", "Amazon's features\n        or services")
        .replace("between 4 and 30 days after", "between 5 and 30 days\n      after")
        .replace("Last updated: March 3, 2026", "Last updated: April 14, 2026")
    )
    new = extract_document(new_html, page, page.url)
    result = diff(old, new)
    assert changed(result) == {REQUEST: "modified"}
    change = only_change(result)
    assert "number" in change.tags
    assert severity(result) == Severity.CRITICAL


def test_a_rendered_page_with_only_quotes_wrapping_and_date_changed_shows_no_change():
    page = PageSpec(
        id="conduct", url="https://sellercentral.amazon.com/x", select="#full-help-page"
    )
    html = fixture("conduct-v1.html")
    noisy = (
        html.replace("Amazon’s", "Amazon's")
        .replace("customers’ ratings", "customers'\n        ratings")
        .replace("March 3, 2026", "April 14, 2026")
    )
    assert noisy != html
    result = diff(extract_document(html, page, page.url), extract_document(noisy, page, page.url))
    assert result.is_empty and severity(result) is None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Store it at -18°C or colder.", "Store it at 18°C or colder."),
        ("Orders > $100 ship free.", "Orders < $100 ship free."),
        ("The fee is $1,000 per year.", "The fee is $1.000 per year."),
        ("Refunds of 50% apply.", "Refunds of 50 apply."),
    ],
)
def test_a_changed_sign_or_number_mark_is_not_cosmetic(old, new):
    change = only_change(diff(document({"Fees": [old]}), document({"Fees": [new]})))
    assert change.substantive
