"""Stories for extraction: only the policy wording moves a digest, page chrome never does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from policywatch.content import Document
from policywatch.document.extract import NotPolicy, extract_document, prepare
from policywatch.document.normalize import normalize_link, normalize_text
from policywatch.document.parse import parse_html
from policywatch.fetch.decode import decode_html
from policywatch.models import PageSpec
from tests.pageserver import fixture, fresh_noise

URL = "https://sellercentral.amazon.com/help/hub/reference/external/G1801?locale=en-US"
SELLER_CENTRAL = PageSpec(
    id="seller-code-of-conduct",
    url=URL,
    select="#full-help-page",
    remove=("[hidden]", ".hh-scroll-to-top-box"),
)
TITLE = "Seller Code of Conduct"
RATINGS = f"{TITLE} > Ratings, Feedback, and Reviews"


def extract(html: str, page: PageSpec = SELLER_CENTRAL) -> Document:
    return extract_document(html, page, page.url)


def conduct(html: str | None = None) -> Document:
    return extract(fresh_noise(html or fixture("conduct-v1.html")))


def all_text(doc: Document) -> str:
    return "\n".join([*(s.label for s in doc.sections), *(s.text for s in doc.sections)])


# --------------------------------------------------------------------------- normalisation


def test_typography_and_invisible_characters_normalise_to_one_spelling():
    fancy = (
        "Amazon\u2019s \u201cfair\u201d 4\u20135 \u2014 days\u00a0and\u202fmore "
        "\u2212 Buyer\u2011Seller"
    )
    plain = 'Amazon\'s "fair" 4-5 - days and more - Buyer-Seller'
    assert normalize_text(fancy) == plain
    assert normalize_text("Mes\u00adsag\u200bing\ufeff 5\u2032 6\u2033") == "Messaging 5' 6\""
    assert normalize_text("\ufb01ne \uff21\uff4d\uff41\uff5a\uff4f\uff4e") == "fine Amazon"


def test_rewrapped_source_lines_read_as_one_line():
    assert normalize_text("  suspend or\n            terminate\r\n\tselling  ") == (
        "suspend or terminate selling"
    )


def test_ignore_patterns_delete_their_matches_from_normalised_text():
    ignore = [re.compile(r"Ref: [A-Z0-9]+"), re.compile(r"\(updated \d+ times\)")]
    text = "Do not contact buyers.\u00a0Ref: VACF564J3CER92FCE6JM (updated 3 times) End."
    assert normalize_text(text, ignore) == "Do not contact buyers. End."


def test_links_lose_tracking_and_locale_parameters_but_keep_their_target():
    base = "https://sellercentral.amazon.co.uk/help/hub/reference/external/G521?locale=en-GB"
    noisy = "/gp/help/external/G10471?ref=efph_G10471_cont_G521&locale=en-GB&utm_source=x#top"
    assert (
        normalize_link(noisy, base) == "https://sellercentral.amazon.co.uk/gp/help/external/G10471"
    )
    search = (
        "https://www.amazon.co.uk/gp/help/customer/display.html/ref=help_search_1-1"
        "?ie=UTF8&nodeId=201889520&qid=1587397208&sr=1-1"
    )
    assert normalize_link(search, base) == (
        "https://www.amazon.co.uk/gp/help/customer/display.html?nodeId=201889520"
    )
    assert (
        normalize_link("HTTPS://Example.COM:443/a?b=2&a=1", base) == "https://example.com/a?a=1&b=2"
    )


@pytest.mark.parametrize(
    "href", ["javascript:;", "mailto:seller@example.com", "tel:123", "", "#top"]
)
def test_links_that_lead_nowhere_are_not_links(href):
    assert normalize_link(href, "https://example.com/") is None


# --------------------------------------------------------------------------- parsing safety


def test_hostile_entities_are_neither_expanded_nor_fetched(pageserver):
    pageserver.route("/evil.dtd", '<!ENTITY secret "LEAKED">')
    hostile = f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "{pageserver.url("/evil.dtd")}">
  <!ENTITY % dtd SYSTEM "{pageserver.url("/evil.dtd")}"> %dtd;
]>
<html><body><div id="full-help-page"><h1>Policy</h1>
<p>Bomb: &lol3; File: &xxe; Remote: &remote; Secret: &secret;</p></div></body></html>"""
    doc = extract(hostile)
    text = all_text(doc)
    assert "Bomb:" in text
    assert "lollol" not in text
    assert "root:" not in text
    assert "LEAKED" not in text
    assert pageserver.hits("/evil.dtd") == []


def test_absurdly_deep_nesting_is_parsed_without_crashing():
    html = "<html><body><main>" + "<div>" * 20000 + "deep text" + "</div>" * 20000 + "</main>"
    doc = extract_document(html, PageSpec(id="deep", url="https://example.com/"), "")
    assert doc.digest


def test_bytes_in_a_declared_charset_and_str_with_an_xml_declaration_both_parse():
    latin = '<html><head><meta charset="iso-8859-1"></head><body><p>caf\xe9</p></body></html>'
    assert parse_html(latin.encode("latin-1")).text_content() == "café"
    declared = '<?xml version="1.0" encoding="utf-8"?><html><body><p>café</p></body></html>'
    assert parse_html(declared).text_content() == "café"
    assert parse_html("").tag == "html"


def test_a_fetched_body_parses_to_the_page_it_was_decoded_from():
    """Parsing reuses the bytes a body was decoded from, and only that body's bytes."""
    bodies = [
        "<html><body><p>Vendeurs : caf\u00e9, \u201cavis\u201d \U0001f4e6</p></body></html>",
        "<html><body><p>Second page</p></body></html>",
    ]
    first, second = (decode_html(b.encode("utf-8"), "text/html; charset=utf-8") for b in bodies)
    invalid = decode_html(
        b"<html><body><p>bad \xff byte</p></body></html>", "text/html; charset=utf-8"
    )

    assert parse_html(first).text_content() == "Vendeurs : caf\u00e9, \u201cavis\u201d \U0001f4e6"
    assert parse_html(second).text_content() == "Second page"
    assert parse_html(second).text_content() == "Second page"
    assert parse_html(invalid).text_content() == "bad \ufffd byte"


# --------------------------------------------------------------------------- noise


def test_two_polls_with_fresh_tokens_and_timestamps_give_the_same_digest(pageserver):
    pageserver.route("/G1801", fixture("conduct-v1.html"))
    first, second = (requests.get(pageserver.url("/G1801"), timeout=5).text for _ in range(2))
    assert first != second  # the server really did change its per-request tokens
    assert extract(first).digest == extract(second).digest


def test_cosmetic_rework_of_the_whole_page_is_not_a_change():
    """Quotes, primes, nbsp, zero-width, re-wrapped lines, bold markup, a UUID wrapper,
    French chrome, a new sign-in link format, other related articles, a new copyright
    year, a new build and a bumped "Last updated" date: the same policy."""
    before = conduct()
    after = conduct(fixture("extract-conduct-noisy.html"))
    assert [s.label for s in after.sections] == [s.label for s in before.sections]
    assert [s.digest for s in after.sections] == [s.digest for s in before.sections]
    assert after.digest == before.digest
    assert after.metadata["last_updated"] == "Last updated: April 9, 2026"
    assert after.metadata["country"] == before.metadata["country"] == "United States"


def test_a_reworded_bullet_changes_exactly_one_section_digest():
    before = conduct()
    reworded = fixture("conduct-v1.html").replace(
        "Ask customers to write only positive reviews",
        "Ask customers to write only positive or five-star reviews",
    )
    after = conduct(reworded)
    changed = [
        new.label
        for old, new in zip(before.sections, after.sections, strict=True)
        if old.digest != new.digest
    ]
    assert changed == [RATINGS]
    assert after.digest != before.digest


def test_page_chrome_never_reaches_the_policy_text():
    text = all_text(conduct(fixture("extract-conduct-noisy.html")))
    for chrome in (
        "Sign in",
        "Connexion",
        "Seller Central Help",  # header link and first breadcrumb label
        "Sign in to use the tool",
        "Connectez-vous",
        "Related articles",
        "Articles connexes",
        "Communication guidelines",
        "Top",
        "Haut de la page",
        "1999-20",
        "United States",
        "applies to selling",
        "enable JavaScript",
        "ue_id",
        "Last updated",
    ):
        assert chrome not in text, chrome
    assert "Buyer-Seller Messaging" in text


def test_headings_become_section_paths_under_the_title():
    doc = conduct()
    assert doc.title == TITLE
    assert [s.label for s in doc.sections] == [
        TITLE,
        RATINGS,
        f"{TITLE} > Communications",
        f"{TITLE} > Customer information",
        f"{TITLE} > Guidelines for contacting buyers",
        f"{TITLE} > Guidelines for contacting buyers > Request a Review",
    ]
    assert doc.sections[0].blocks[1].text == (
        "Always provide accurate information to Amazon and our customers"
    )
    assert [s.level for s in doc.sections] == [1, 2, 2, 2, 2, 3]


def test_banner_breadcrumb_date_and_language_are_metadata():
    doc = conduct()
    assert doc.metadata == {
        "language": "en-US",
        "country": "United States",
        "breadcrumb": "Seller Central Help > Seller Code of Conduct",
        "last_updated": "Last updated: March 3, 2026",
        "h1": TITLE,
    }


def test_the_french_banner_names_the_same_country():
    french = fixture("conduct-v1.html").replace(
        "This article applies to selling in: <b>United States</b>",
        "Cet article s'applique à la vente en&nbsp;: <b>United States</b>",
    )
    assert conduct(french).metadata["country"] == "United States"


def test_a_last_updated_bump_alone_is_not_a_change():
    before = conduct()
    bumped = conduct(fixture("conduct-v1.html").replace("March 3, 2026", "June 30, 2026"))
    assert bumped.digest == before.digest
    assert bumped.metadata["last_updated"] == "Last updated: June 30, 2026"


@pytest.mark.parametrize(
    "line",
    ["Effective: 1 June 2026", "Updated on 2026-06-01", "Last update: Jun. 1st, 2026"],
)
def test_other_date_line_spellings_are_metadata_too(line):
    doc = conduct(fixture("conduct-v1.html").replace("Last updated: March 3, 2026", line))
    assert doc.metadata["last_updated"] == line
    assert doc.digest == conduct().digest


def test_a_sentence_that_starts_with_effective_stays_policy_text():
    sentence = "Effective immediately, sellers may not contact buyers after 30 days."
    doc = conduct(fixture("conduct-v1.html").replace("Last updated: March 3, 2026", sentence))
    assert "last_updated" not in doc.metadata
    assert sentence in all_text(doc)


# --------------------------------------------------------------------------- selection


def test_a_missing_selector_is_not_a_policy():
    with pytest.raises(NotPolicy) as caught:
        extract(fresh_noise(fixture("conduct-v1.html")), PageSpec(id="x", url=URL, select="#nope"))
    assert "#nope" in caught.value.reason
    assert "fetch: browser" not in caught.value.reason


def test_a_short_sign_in_page_with_scripts_does_not_suggest_the_browser():
    signin = (
        "<html><head><script>var auth=1;</script></head><body><h1>Sign in</h1>"
        "<form><input name='email'></form><script>init()</script></body></html>"
    )
    with pytest.raises(NotPolicy) as caught:
        extract(signin)
    assert "fetch: browser" not in caught.value.reason


def test_a_javascript_shell_suggests_the_browser():
    shell = (
        "<html><head><script>var app=1;</script></head><body><div id='root'></div>"
        "<noscript>You need to enable JavaScript to run this app.</noscript></body></html>"
    )
    with pytest.raises(NotPolicy) as caught:
        extract(shell)
    assert "#full-help-page" in caught.value.reason
    assert "fetch: browser" in caught.value.reason


def test_without_a_selector_the_main_content_is_taken():
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><div class='menu'>Menu text</div>"
        "<main><h1>Terms</h1><p>Be nice.</p></main><footer>Footer</footer></body></html>"
    )
    doc = extract(html, PageSpec(id="t", url="https://example.com/terms"))
    assert doc.title == "Terms"
    assert all_text(doc) == "Terms\nBe nice."


def test_several_matches_are_read_in_page_order_and_only_once():
    html = (
        "<html><body><h1>Policy</h1><div class='part'>First.</div>between"
        "<div class='part'>Second.<div class='part'>Nested.</div></div></body></html>"
    )
    doc = extract(html, PageSpec(id="t", url="https://example.com/", select=".part"))
    assert [b.text for b in doc.sections[0].blocks] == ["First.", "Second.", "Nested."]


def test_remove_selectors_cut_what_they_name_and_see_the_body_as_earlier_cuts_left_it():
    html = (
        "<html><body><div id='policy'><h1>Policy</h1>"
        "<div class='note promo'>Try our app!</div><p class='promo-free'>Kept.</p>"
        "<div class='x'><script>track()</script><p>First after the script.</p>"
        "<p>Second.</p></div><p data-ad>Sponsored</p><p>Tail.</p>"
        "<p id='k' class='b'>By id and class.</p></div></body></html>"
    )
    page = PageSpec(
        id="t",
        url="https://example.com/",
        select="#policy",
        # `.x > p:first-child` only matches once the noise (the script) is gone.
        remove=(".promo", "[data-ad]", ".x > p:first-child", "#k.b"),
    )
    doc = extract(html, page)
    assert [b.text for b in doc.sections[0].blocks] == ["Kept.", "Second.", "Tail."]


def test_page_ignore_patterns_apply_to_the_hashed_text():
    page = PageSpec(id="t", url=URL, select="#full-help-page", ignore=(r"Visitor \d+\.",))
    template = "<html><body><div id='full-help-page'><h1>P</h1><p>Rule. Visitor {}.</p></div>"
    first, second = (extract(template.format(n), page) for n in (17, 42))
    assert first.sections[0].blocks[0].text == "Rule."
    assert first.digest == second.digest


# --------------------------------------------------------------------------- real pages


def real_document(path: Path) -> Document:
    """A real excerpt wrapped into a whole document, extracted with the Seller Central rules."""
    html = f'<html lang="en-US"><body>{path.read_text(encoding="utf-8")}</body></html>'
    return extract(html)


def markdown_sentences(path: Path) -> list[str]:
    """The paragraphs of an OTA .md version, as plain normalised text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    sentences = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not line.strip() or set(line.strip()) <= {"=", "-"} or set(following.strip()) == {"="}:
            continue
        if line.startswith(("This article applies to selling in", "Cet article s'applique")):
            continue  # the country banner: metadata, not policy text
        line = re.sub(r"^\s*(?:\d+\\?\.|[-*])\s+", "", line)
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # [text](url) -> text
        line = re.sub(r"(?<!\w)_([^_]+)_(?!\w)", r"\1", line)  # _emphasis_
        line = line.replace("**", "").replace("\\", "")
        sentences.append(normalize_text(line))
    return sentences


# One or two sentences from each entry of the corpus README's "What changed".
KEY_SENTENCES = {
    "amazon-eu-fair-pricing-policy/2022-09-15.html": [
        "Amazon may remove an offer or, in repeated cases, suspend or terminate selling "
        "privileges if sellers:",
    ],
    "amazon-eu-fair-pricing-policy/2023-03-16.html": [
        "Amazon may remove an offer, suspend a shipping option, or, in repeated cases",
    ],
    "amazon-eu-fair-pricing-policy/2023-09-06.html": [
        "(such as the books fixed price laws or the shipping regulation for New Books in France)",
    ],
    "amazon-eu-fair-pricing-policy/2024-03-12.html": [
        "Amazon may remove an offer or, in repeated cases, suspend or terminate selling "
        "privileges if sellers:",
    ],
    "amazon-eu-mediation-policy/2024-07-20T1232Z.html": [
        'a dispute between you and Amazon Services Europe SARL ("Amazon")',
    ],
    "amazon-eu-mediation-policy/2024-08-01.html": [
        'a dispute between you and Amazon EU SARL ("Amazon")',
    ],
    "amazon-eu-ranking-parameters/2023-10-24.html": [
        "Customers can also shop by voice with Alexa.",
        "We may also use customer product reviews as a factor, for instance by highlighting "
        'them as "Customers\' Most Loved".',
        'label this merchandising as "our brands", "Featured items you may like" or similar',
        "factors including price, delivery speed, and seller performance.",
    ],
}


@pytest.mark.realpages
def test_real_pages_keep_every_sentence_of_the_archived_text(real_pages):
    htmls = sorted(real_pages.glob("*/*.html"))
    assert len(htmls) >= 8
    for html in htmls:
        text = all_text(real_document(html))
        for sentence in markdown_sentences(html.with_suffix(".md")):
            assert sentence in text, f"{html.name}: {sentence[:80]}"
        for sentence in KEY_SENTENCES.get(f"{html.parent.name}/{html.name}", ()):
            assert sentence in text, f"{html.name}: {sentence[:80]}"


@pytest.mark.realpages
def test_real_ranking_page_loses_the_eligibility_link_and_keeps_its_bold_headings(real_pages):
    doc = real_document(real_pages / "amazon-eu-ranking-parameters" / "2023-10-24.html")
    assert "For more on eligibility" not in all_text(doc)
    assert "Prime eligibility" not in all_text(doc)
    title = "How products are given visibility in the Amazon store"
    assert [s.label for s in doc.sections] == [
        title,
        f"{title} > Featured Offer",
        f"{title} > Featured results",
        f"{title} > Highlighted products",
        f"{title} > Sponsored Brands and Sponsored Products",
    ]
    assert doc.metadata["country"] == "United Kingdom"


@pytest.mark.realpages
def test_real_mediation_page_in_french_and_english_chrome_is_one_version(real_pages):
    folder = real_pages / "amazon-eu-mediation-policy"
    french = real_document(folder / "2024-07-20T1232Z.html")
    english = real_document(folder / "2024-07-20T1832Z.html")
    assert french.digest == english.digest
    assert french.metadata["country"] == english.metadata["country"] == "France"
    assert "Haut de la page" not in all_text(french)


@pytest.mark.realpages
def test_real_hard_line_break_inside_a_paragraph_does_not_matter(real_pages):
    folder = real_pages / "amazon-eu-fair-pricing-policy"
    assert "suspend or\n            terminate" in (folder / "2024-03-12.html").read_text()
    wrapped = real_document(folder / "2024-03-12.html").sections[0].blocks[1].text
    unwrapped = real_document(folder / "2022-09-15.html").sections[0].blocks[1].text
    assert wrapped == unwrapped
    assert wrapped.endswith("suspend or terminate selling privileges if sellers:")


def changed_blocks(old: Document, new: Document) -> tuple[list[str], list[str], list[str]]:
    """Labels of sections whose digest moved, and block texts only in old / only in new."""
    old_digests = {s.label: s.digest for s in old.sections}
    moved = [s.label for s in new.sections if old_digests.get(s.label) != s.digest]
    old_texts = [b.text for s in old.sections for b in s.blocks]
    new_texts = [b.text for s in new.sections for b in s.blocks]
    return (
        moved,
        [t for t in old_texts if t not in new_texts],
        [t for t in new_texts if t not in old_texts],
    )


@pytest.mark.realpages
def test_each_real_fair_pricing_change_moves_the_digest_in_the_right_place(real_pages):
    folder = real_pages / "amazon-eu-fair-pricing-policy"
    docs = [
        real_document(folder / f"{d}.html")
        for d in ("2022-09-15", "2023-03-16", "2023-09-06", "2024-03-12")
    ]
    assert len({d.digest for d in docs}) == 4

    # 2023-03-16: renamed policy (h1, so the section path) and "suspend a shipping option" added.
    moved, gone, added = changed_blocks(docs[0], docs[1])
    assert docs[1].title == "Amazon Marketplace Fair Pricing Policy"
    assert moved == ["Amazon Marketplace Fair Pricing Policy"]
    assert len(gone) == len(added) == 1 and "suspend a shipping option" in added[0]

    # 2023-09-06: the shipping regulation for New Books is added to rule A.
    moved, gone, added = changed_blocks(docs[1], docs[2])
    assert moved == ["Amazon Marketplace Fair Pricing Policy"]
    assert len(added) == 1 and added[0].startswith("A- Set prices")
    assert "shipping regulation for New Books" in added[0]

    # 2024-03-12: "suspend a shipping option" removed again, behind a hard line break.
    moved, gone, added = changed_blocks(docs[2], docs[3])
    assert moved == ["Amazon Marketplace Fair Pricing Policy"]
    assert len(gone) == len(added) == 1
    assert "suspend a shipping option" in gone[0] and "suspend a shipping option" not in added[0]


@pytest.mark.realpages
def test_the_real_mediation_entity_change_moves_one_item(real_pages):
    folder = real_pages / "amazon-eu-mediation-policy"
    before = real_document(folder / "2024-07-20T1832Z.html")
    after = real_document(folder / "2024-08-01.html")
    assert after.digest != before.digest
    moved, gone, added = changed_blocks(before, after)
    assert moved == ["Mediation Policy"]
    assert len(gone) == len(added) == 1
    assert "Amazon Services Europe SARL" in gone[0] and "Amazon EU SARL" in added[0]


def fingerprint(html: str, page: PageSpec = SELLER_CENTRAL) -> str:
    return prepare(fresh_noise(html), page, page.url).fingerprint


def test_the_unchanged_poll_fingerprint_ignores_page_noise_but_not_the_wording():
    """Polls skip sectioning when the fingerprint repeats, so it must move with every edit."""
    page = fixture("conduct-v1.html")
    assert fingerprint(page) == fingerprint(page)  # fresh request ids, hidden sign-in link
    reworded = page.replace("Not send unsolicited or", "Not send unsolicited, promotional or")
    assert fingerprint(reworded) != fingerprint(page)
    retitled = page.replace("<title>Seller Code of Conduct", "<title>Seller Rules")
    assert fingerprint(retitled) != fingerprint(page)
    stricter = PageSpec(**{**vars(SELLER_CENTRAL), "remove": ("[hidden]",)})
    assert fingerprint(page, stricter) != fingerprint(page)
