"""Not every 200 is the policy: what Seller Central serves instead, and what must still pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.content import Block, Document, Section
from policywatch.fetch.gate import NEEDS_JAVASCRIPT, classify_response
from policywatch.fetch.http import Fetcher
from policywatch.fetch.marketplace import check_document
from policywatch.models import Defaults, PageSpec, Validity
from tests.pageserver import PageServer, fixture

ARTICLE = "/help/hub/reference/external/G1801"
SELLER_CENTRAL = Validity(min_length=200, h1=r"\w")


def watch(server: PageServer, path: str = ARTICLE, **options) -> PageSpec:
    options.setdefault("select", "#full-help-page")
    return PageSpec(
        id="seller-code-of-conduct", url=server.url(path), allow_private=True, **options
    )


def poll(page: PageSpec) -> str | None:
    """Fetch the page for real and ask the gate about the answer, as every poll does."""
    with Fetcher(Defaults(retries=1)) as fetcher:
        result = fetcher.fetch(page)
    assert result.status == "ok", result.reason
    return classify_response(result.text, result.final_url, result.http_status, page)


def wrap(excerpt: str, title: str) -> str:
    """A real corpus excerpt as a whole document, the way the browser served it."""
    return f'<html lang="en-US"><head><title>{title}</title></head><body>{excerpt}'


# ----------------------------------------------------------------- what is not the policy


def test_a_robot_check_page_is_not_a_policy_change(pageserver):
    pageserver.route(ARTICLE, fixture("gate-robot-check.html"))
    reason = poll(watch(pageserver))
    assert reason.startswith("robot check (captcha) instead of the policy")
    assert "interval" in reason  # says what to do


@pytest.mark.parametrize(
    ("signal", "body", "kind"),
    [
        (
            "captcha form",
            '<form action="/errors/validateCaptcha"><button>Go</button></form>',
            "robot",
        ),
        ("captcha input", '<input id="captchacharacters" name="field-keywords">', "robot"),
        ("captcha wording", "<h4>Type the characters you see in this image:</h4>", "robot"),
        (
            "captcha wording wrapped",
            "<p>Sorry, we just need to make sure\n      you\u2019re not a <b>robot</b>.</p>",
            "robot",
        ),
        (
            "sign-in form",
            '<form name="signIn" method="post"><input name="email"></form>',
            "sign-in",
        ),
        ("password box", '<form><input type="password" name="password"></form>', "sign-in"),
        ("sign-in wording", "<div>Enter your email or mobile phone number</div>", "sign-in"),
        (
            "error wording",
            "<p>We’re sorry. We can’t find the page you’re looking for.</p>",
            "error",
        ),
        ("error heading", "<h1>Looking for something?</h1>", "error"),
    ],
)
def test_each_telltale_sign_alone_is_enough(signal, body, kind):
    html = f"<html><head><title>Amazon.com</title></head><body>{body}</body></html>"
    spec = PageSpec(id="p", url="https://sellercentral.amazon.com" + ARTICLE)
    assert classify_response(html, spec.url, 200, spec).startswith(kind), signal


def test_a_redirect_to_the_sign_in_page_is_blocked_with_where_it_went(pageserver):
    pageserver.route(
        ARTICLE, "", status=302, headers={"Location": "/ap/signin?openid.return_to=ape%3AaHR0"}
    )
    pageserver.route("/ap/signin", fixture("gate-signin.html"))
    reason = poll(watch(pageserver))
    assert reason.startswith("sign-in page instead of the policy")
    assert pageserver.url("/ap/signin") in reason


def test_a_sign_in_page_served_at_the_policy_url_is_blocked_too(pageserver):
    pageserver.route(ARTICLE, fixture("gate-signin.html").replace("Amazon Sign-In", "Amazon"))
    assert poll(watch(pageserver)).startswith("sign-in page instead of the policy")


def test_a_we_are_sorry_page_inside_the_policy_container_is_blocked(pageserver):
    pageserver.route(ARTICLE, fixture("gate-sorry.html"))
    reason = poll(watch(pageserver))
    assert reason.startswith("error page instead of the policy")
    assert "can't find the page" in reason


@pytest.mark.parametrize(
    "title",
    ["Amazon.com Page Not Found", "Sorry! Something went wrong!", "503 Service Unavailable"],
)
def test_amazon_error_pages_are_known_by_their_titles(title):
    html = f"<html><head><title>{title}</title></head><body><p>Oops.</p></body></html>"
    spec = PageSpec(id="p", url="https://sellercentral.amazon.com" + ARTICLE)
    assert classify_response(html, spec.url, 200, spec).startswith("error page")


def test_a_javascript_shell_needs_the_browser(pageserver):
    pageserver.route(ARTICLE, fixture("gate-js-shell.html"))
    reason = poll(watch(pageserver))
    assert reason.startswith(f"{NEEDS_JAVASCRIPT}: nothing matches `#full-help-page`")
    assert "app shell" in reason
    assert "`fetch: browser`" in reason


def test_a_javascript_shell_is_caught_without_a_selector_too(pageserver):
    pageserver.route(ARTICLE, fixture("gate-js-shell.html"))
    reason = poll(watch(pageserver, select=None))
    assert reason.startswith(NEEDS_JAVASCRIPT)


def test_a_selector_that_finds_nothing_after_the_browser_ran_asks_to_fix_the_selector():
    spec = PageSpec(id="p", url="https://sellercentral.amazon.com" + ARTICLE, select="#gone")
    reason = classify_response(fixture("conduct-v1.html"), spec.url, 200, spec, via="browser")
    assert reason.startswith("policy not found: nothing matches `#gone`")
    assert "fix `select`" in reason


def test_an_empty_answer_is_not_a_policy():
    spec = PageSpec(id="p", url="https://sellercentral.amazon.com" + ARTICLE)
    assert classify_response("  \n", spec.url, 200, spec).startswith("empty answer")


def test_the_wrong_marketplace_is_blocked_and_the_redirect_named(pageserver):
    pageserver.route(ARTICLE, fixture("conduct-v1.html"))  # "applies to selling in: United States"
    uk = watch(pageserver, validity=Validity(country="United Kingdom"))
    # The watch is on another host name that redirects to the US copy.
    uk = PageSpec(
        id="seller-code-of-conduct@UK",
        url=f"http://localhost:{pageserver.port}/uk",
        select=uk.select,
        validity=uk.validity,
        allow_private=True,
    )
    pageserver.route("/uk", "", status=302, headers={"Location": pageserver.url(ARTICLE)})

    reason = poll(uk)

    assert reason.startswith(
        "wrong marketplace: page is for United States, expected United Kingdom"
    )
    assert f"redirected to {pageserver.url(ARTICLE)}" in reason


def test_the_right_marketplace_passes(pageserver):
    pageserver.route(ARTICLE, fixture("conduct-v1.html"))
    assert poll(watch(pageserver, validity=Validity(country="United States"))) is None


# ----------------------------------------------------------------- what must still pass


def test_a_policy_with_a_sign_in_button_and_a_hidden_sign_in_placeholder_passes(pageserver):
    pageserver.route(ARTICLE, fixture("conduct-v1.html"))
    assert poll(watch(pageserver)) is None
    assert poll(watch(pageserver, select=None)) is None


def test_a_policy_that_quotes_captcha_and_error_wording_is_still_the_policy():
    quoting = (
        "<h2>Account security</h2><p>If a page says “Enter the characters you see below” or "
        "“We can’t find the page”, or asks you to enter your email or mobile phone number, "
        "you may be looking at a phishing copy of Seller Central.</p>"
    )
    page = fixture("conduct-v1.html").replace("<h2>Communications</h2>", quoting + "<h2>Comm")
    spec = PageSpec(
        id="p", url="https://sellercentral.amazon.com" + ARTICLE, select="#help-content"
    )
    assert classify_response(page, spec.url, 200, spec) is None


@pytest.mark.realpages
def test_every_real_seller_central_page_passes_the_gate(real_pages: Path):
    excerpts = sorted(real_pages.glob("*/*.html"))
    assert excerpts
    for excerpt in excerpts:
        text = excerpt.read_text(encoding="utf-8")
        country = "United Kingdom" if "ranking" in excerpt.parent.name else "France"
        html = wrap(text, "Help page - Amazon Seller Central")
        url = "https://sellercentral.amazon.fr/help/hub/reference/external/G67ETGRC3ZJQBTVT"
        for select in ("#full-help-page", "#help-content", None):
            spec = PageSpec(id="p", url=url, select=select, validity=Validity(country=country))
            assert classify_response(html, url, 200, spec) is None, (excerpt, select)


def test_a_banner_in_the_marketplace_language_names_the_same_country():
    german = fixture("conduct-v1.html").replace(
        "This article applies to selling in: <b>United States</b>",
        "Dieser Artikel gilt für den Verkauf in: <b>Deutschland</b>",
    )
    url = "https://sellercentral.amazon.de" + ARTICLE
    germany = PageSpec(
        id="p", url=url, select="#full-help-page", validity=Validity(country="Germany")
    )
    france = PageSpec(
        id="p", url=url, select="#full-help-page", validity=Validity(country="France")
    )
    assert classify_response(german, url, 200, germany) is None
    assert classify_response(german, url, 200, france).startswith(
        "wrong marketplace: page is for Deutschland, expected France"
    )


@pytest.mark.realpages
def test_the_french_chrome_banner_names_the_same_country(real_pages: Path):
    french = real_pages / "amazon-eu-mediation-policy" / "2024-07-20T1232Z.html"
    html = wrap(french.read_text(encoding="utf-8"), "Mediation Policy")
    assert "Cet article s'applique" in html
    url = "https://sellercentral.amazon.fr/help/hub/reference/external/G67ETGRC3ZJQBTVT"
    france = PageSpec(
        id="p", url=url, select="#full-help-page", validity=Validity(country="France")
    )
    germany = PageSpec(
        id="p", url=url, select="#full-help-page", validity=Validity(country="Germany")
    )
    assert classify_response(html, url, 200, france) is None
    assert classify_response(html, url, 200, germany).startswith(
        "wrong marketplace: page is for France, expected Germany"
    )


# ----------------------------------------------------------------- the extracted document


def document(
    *sections: tuple[tuple[str, ...], str], title: str = "Seller Code of Conduct", **metadata: str
) -> Document:
    return Document(
        title=title,
        sections=tuple(
            Section(path=path, level=len(path), blocks=(Block("p", text),), digest=str(i))
            for i, (path, text) in enumerate(sections)
        ),
        digest="d",
        metadata=metadata,
    )


CONDUCT = document(
    (("Seller Code of Conduct",), "All sellers must adhere to the following guidelines. " * 4),
    (("Seller Code of Conduct", "Communications"), "You may not send unsolicited messages. " * 4),
    language="en-US",
    country="United States",
    h1="Seller Code of Conduct",
)


def spec(**validity) -> PageSpec:
    return PageSpec(
        id="p", url="https://sellercentral.amazon.com" + ARTICLE, validity=Validity(**validity)
    )


def test_a_real_document_passes_every_validity_check():
    page = spec(
        min_length=200,
        language="en",
        h1="code of conduct",
        required_headings=("Communications",),
        country="United States",
    )
    assert check_document(CONDUCT, page) is None


def test_an_error_message_that_still_matches_the_selector_is_too_short():
    sorry = document(((), "We're Sorry. We can't find the page you're looking for."), title="")
    reason = check_document(sorry, spec(min_length=200, h1=r"\w"))
    assert reason.startswith("too little policy text")
    assert "validity.min_length" in reason


def test_a_page_in_another_language_is_blocked():
    french = document(*((s.path, s.text) for s in CONDUCT.sections), language="fr-FR")
    assert check_document(french, spec(language="en")).startswith("page language is fr-FR")
    assert check_document(CONDUCT, spec(language="en-US")) is None


def test_a_page_whose_title_does_not_match_is_blocked():
    reason = check_document(CONDUCT, spec(h1="^Communication guidelines$"))
    assert reason.startswith("page heading 'Seller Code of Conduct' does not match")


def test_a_page_with_no_heading_of_its_own_fails_the_h1_check():
    untitled = document(
        (("Amazon Seller Central",), "We're Sorry. We can't find that page. " * 8),
        title="Amazon Seller Central",
    )
    reason = check_document(untitled, spec(h1=r"\w"))
    assert reason.startswith("page heading '' does not match")


def test_a_page_missing_a_required_heading_is_blocked():
    reason = check_document(
        CONDUCT, spec(required_headings=("Communications", "Customer information"))
    )
    assert reason.startswith("required heading missing: 'Customer information'")


def test_a_document_for_another_country_is_blocked():
    reason = check_document(CONDUCT, spec(country="United Kingdom"))
    assert reason == "wrong marketplace: page is for United States, expected United Kingdom"


def test_a_short_article_that_quotes_an_error_message_is_still_the_policy():
    html = (
        "<html><head><title>Troubleshooting - Amazon Seller Central</title></head><body>"
        '<div id="full-help-page"><h1>Troubleshooting Buyer-Seller Messaging</h1>'
        "<p>If a message shows 'Something went wrong', wait an hour and send it again. "
        "Messages must be necessary to complete the order.</p></div></body></html>"
    )
    spec = PageSpec(
        id="p", url="https://sellercentral.amazon.com" + ARTICLE, select="#full-help-page"
    )
    assert classify_response(html, spec.url, 200, spec) is None
