"""Stories for sectioning: a reader's view of the policy, one hash per section."""

from __future__ import annotations

import re

from policywatch.content import Block, Section
from policywatch.document.parse import parse_html
from policywatch.document.sections import build_sections, document_digest, section_digest
from policywatch.models import sha256_hex

TITLE = "Seller Code of Conduct"
BASE = "https://sellercentral.amazon.com/help/hub/reference/external/G1801?locale=en-US"


def sections(body: str, **options) -> tuple[Section, ...]:
    content = parse_html(f"<html><body><div id='c'>{body}</div></body></html>").find(".//div")
    return build_sections(content, title=TITLE, base_url=BASE, **options)


def outline(body: str) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(s.label, [(b.kind, b.text) for b in s.blocks]) for s in sections(body)]


def test_content_before_the_first_heading_belongs_to_the_title():
    assert outline(
        f"<h1>{TITLE}</h1><p>Intro.</p><h2>Communications</h2><p>No spam.</p>"
        "<h3>Marketing</h3><p>Prohibited.</p><h2>Reviews</h2><p>Be neutral.</p>"
    ) == [
        (TITLE, [("p", "Intro.")]),
        (f"{TITLE} > Communications", [("p", "No spam.")]),
        (f"{TITLE} > Communications > Marketing", [("p", "Prohibited.")]),
        (f"{TITLE} > Reviews", [("p", "Be neutral.")]),
    ]


def test_a_heading_that_skips_levels_still_nests_under_the_nearest_higher_one():
    labels = [label for label, _ in outline("<h2>A</h2><h4>Deep</h4><h3>Mid</h3><h1>Other</h1>")]
    assert labels == [TITLE, f"{TITLE} > A", f"{TITLE} > A > Deep", f"{TITLE} > A > Mid",
                      f"{TITLE} > Other"]  # fmt: skip


def test_bold_one_line_paragraphs_are_headings_like_on_seller_central():
    assert outline(
        "<p>Intro.</p><p><strong>Featured Offer</strong></p><p>Offer text.</p>"
        "<p> <b>Featured results</b> </p><p>Results text.</p>"
        "<h2>Ads</h2><div><strong>Sponsored Brands</strong></div><p>Brand ads.</p>"
    ) == [
        (TITLE, [("p", "Intro.")]),
        (f"{TITLE} > Featured Offer", [("p", "Offer text.")]),
        (f"{TITLE} > Featured results", [("p", "Results text.")]),
        (f"{TITLE} > Ads", []),
        (f"{TITLE} > Ads > Sponsored Brands", [("p", "Brand ads.")]),
    ]


def test_bold_sentences_lead_ins_and_bold_words_in_text_stay_wording():
    body = (
        "<p><strong>You may not:</strong></p>"
        "<p><strong>Sellers must never contact buyers.</strong></p>"
        "<p><b>Fees</b> are charged monthly.</p>"
        "<p><strong>" + "long " * 20 + "heading</strong></p>"
        "<p><strong><a href='/G1'>Read the guide</a></strong></p>"
    )
    [(label, blocks)] = outline(body)
    assert label == TITLE
    assert [text for _, text in blocks] == [
        "You may not:",
        "Sellers must never contact buyers.",
        "Fees are charged monthly.",
        ("long " * 20 + "heading"),
        "Read the guide",
    ]


def test_nested_list_items_are_blocks_of_their_own():
    body = (
        "<ol><li><strong>Eligibility.</strong> To be eligible:"
        "<ol><li>Your dispute must be eligible.</li><li>You must be in the EU.</li></ol></li>"
        "<li>Effect of Mediation.</li></ol>"
    )
    [(_, blocks)] = outline(body)
    assert blocks == [
        ("li", "Eligibility. To be eligible:"),
        ("li", "Your dispute must be eligible."),
        ("li", "You must be in the EU."),
        ("li", "Effect of Mediation."),
    ]


def test_table_rows_definition_lists_quotes_and_preformatted_text_are_blocks():
    body = (
        "<table><thead><tr><th>Fee</th><th>Amount</th></tr></thead>"
        "<tbody><tr><td>Referral</td><td>15 %</td></tr><tr><td></td><td></td></tr></tbody></table>"
        "<dl><dt>Buyer</dt><dd>Someone who orders.</dd></dl>"
        "<blockquote><p>Quoted</p><p>rule.</p></blockquote><pre>  keep\n  this </pre>"
    )
    [(_, blocks)] = outline(body)
    assert blocks == [
        ("tr", "Fee | Amount"),
        ("tr", "Referral | 15 %"),
        ("dt", "Buyer"),
        ("dd", "Someone who orders."),
        ("blockquote", "Quoted rule."),
        ("pre", "keep this"),
    ]


def test_loose_text_in_divs_reads_as_paragraphs_and_breaks_read_as_spaces():
    body = (
        "<div>Loose <em>text</em> here.<br>Next line.<div>Inner block.</div>"
        "Tail text with Eli<b>gible</b> word.</div><div> \n </div><p>&nbsp;</p>"
    )
    [(_, blocks)] = outline(body)
    assert blocks == [
        ("p", "Loose text here. Next line."),
        ("p", "Inner block."),
        ("p", "Tail text with Eligible word."),
    ]


def test_a_paragraph_moved_from_a_div_into_a_p_is_not_a_change():
    assert sections("<div>Same words.</div>") == sections("<p>Same words.</p>")


def test_each_block_carries_its_normalised_link_targets():
    body = (
        "<p>See <a href='/gp/help/external/G10471?ref=efph_G10471&amp;locale=en-GB'>tips</a> "
        "and <a href='/gp/help/external/G10471?locale=fr-FR'>again</a> "
        "or <a href='javascript:;'>nothing</a>.</p>"
    )
    [section] = sections(body)
    assert section.blocks == (
        Block(
            "p",
            "See tips and again or nothing.",
            ("https://sellercentral.amazon.com/gp/help/external/G10471",),
        ),
    )


def test_repeated_headings_under_one_parent_get_distinct_paths():
    labels = [label for label, _ in outline("<h2>Examples</h2><p>a</p><h2>Examples</h2><p>b</p>")]
    assert labels == [TITLE, f"{TITLE} > Examples", f"{TITLE} > Examples (2)"]


def test_empty_blocks_and_empty_headings_are_skipped():
    assert outline("<p> </p><h2>\u200b</h2><ul><li></li><li>\u00a0</li></ul><p>Rule.</p>") == [
        (TITLE, [("p", "Rule.")])
    ]


def test_ignore_patterns_apply_to_blocks_and_headings():
    ignore = [re.compile(r"\s*\(rev \d+\)")]
    [first, second] = sections("<p>Rule (rev 7).</p><h2>Fees (rev 2)</h2>", ignore=ignore)
    assert first.blocks[0].text == "Rule."
    assert second.label == f"{TITLE} > Fees"


def test_a_section_digest_covers_its_path_wording_block_kinds_and_links():
    base = section_digest((TITLE,), [Block("p", "Rule.", ("https://a.example/",))])
    assert base != section_digest((TITLE, "Fees"), [Block("p", "Rule.", ("https://a.example/",))])
    assert base != section_digest((TITLE,), [Block("p", "Rule!", ("https://a.example/",))])
    assert base != section_digest((TITLE,), [Block("li", "Rule.", ("https://a.example/",))])
    assert base != section_digest((TITLE,), [Block("p", "Rule.", ("https://b.example/",))])
    assert base != section_digest((TITLE,), [Block("p", "Rule."), Block("p", "")])


def test_the_page_digest_is_derived_from_the_section_digests_in_order():
    built = sections("<p>Intro.</p><h2>A</h2><p>a</p><h2>B</h2><p>b</p>")
    assert all(s.digest == section_digest(s.path, s.blocks) for s in built)
    assert document_digest(built) == sha256_hex("\n".join(s.digest for s in built))
    assert document_digest(built) != document_digest(tuple(reversed(built)))


def test_a_150_kb_page_nested_200_deep_is_sectioned_whole():
    """Speed on big pages is the benchmarks' job (bench/); here: nothing is lost or overflows."""
    unit = (
        "<h2>Heading {n}</h2><p>Sellers must not <b>ever</b> contact buyers for marketing. "
        "See <a href='/gp/help/external/G{n}?ref=x'>here</a>.</p>"
        "<ul><li>One</li><li>Two<ul><li>Three</li></ul></li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
    )
    small = "".join(unit.format(n=n) for n in range(320))
    big = small * 2 + "<span>" * 200 + "<div>deep</div>" + "</span>" * 200
    assert len(big.encode()) > 150_000

    built = sections(big)
    assert len(built) == 1 + 640
    assert built[321].label == f"{TITLE} > Heading 0 (2)"
    assert [b.text for b in built[-1].blocks][-1] == "deep"
