"""Stories for watched wording: which terms match, and how loud a change is."""

from __future__ import annotations

import re

import pytest

from policywatch.models import (
    Change,
    DiffResult,
    Fragment,
    Rule,
    RuleMatch,
    SectionChange,
    Severity,
)
from policywatch.watchlist.rules import (
    DEFAULT_RULES,
    RuleSet,
    _pattern_needle,
    severity,
    words,
)

PATH = ("Seller Code of Conduct", "Communications")


def terms(ruleset: RuleSet, text: str) -> list[str]:
    return [term for _, term in ruleset.match(text)]


def one_section(*changes: Change, kind: str = "modified") -> DiffResult:
    return DiffResult("p", "a", "b", (SectionChange(kind, PATH, PATH, changes),))


def change(
    *, substantive: bool = True, tags: tuple[str, ...] = (), matches: tuple[RuleMatch, ...] = ()
) -> Change:
    return Change(
        "modified",
        PATH,
        "old words",
        "new words",
        (Fragment("equal", "x"),),
        substantive,
        tags,
        matches,
    )


# --------------------------------------------------------------------------- matching


def test_a_star_term_matches_every_ending_of_the_word():
    rules = RuleSet([Rule("r", Severity.CRITICAL, terms=("incentiv*",))])
    assert terms(rules, "Incentivized reviews are not allowed") == ["incentiv*"]
    assert terms(rules, "Do not offer an incentive.") == ["incentiv*"]
    assert terms(rules, "disincentive") == []


def test_terms_match_whole_words_only():
    rules = RuleSet([Rule("r", Severity.MAJOR, terms=("review",))])
    assert terms(rules, "See the preview pane") == []
    assert terms(rules, "reviewer notes") == []
    assert terms(rules, "Request a review.") == ["review"]


def test_terms_ignore_case_and_match_across_any_whitespace():
    rules = RuleSet([Rule("r", Severity.CRITICAL, terms=("Buyer-Seller Messaging", "off Amazon"))])
    assert terms(rules, "use buyer-seller messaging\n only") == ["Buyer-Seller Messaging"]
    assert terms(rules, "never take buyers OFF\u00a0 amazon") == ["off Amazon"]


def test_patterns_are_case_insensitive_regexes_reported_by_the_words_they_matched():
    pattern = r"\bleave (?:a|an) (?:\w+ )?review\b"
    rules = RuleSet([Rule("r", Severity.CRITICAL, patterns=(pattern,))])
    assert terms(rules, "Ask them to Leave a positive review") == ["Leave a positive review"]
    assert terms(rules, "leave the page") == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\b\d+\s*(?:and|to)\s*\d+\s+DAYS\b", "between 4 and 30 Days after delivery"),
        (r"(?:gift|free) cards?", "Never offer FREE cards."),  # every letter inside a group
        (r"coupons?|vouchers", "Do not send vouchers."),  # a branch at the top
        (r"(?x) rebate \s+ codes  # comment", "No rebate codes."),  # spaces that are no letters
        (r"\x52ebates?", "Rebates are banned."),  # a letter written as an escape
        (r"coupons?", "Ne proposez pas de Coupons à vos clients."),  # text that is not ASCII
    ],
)
def test_a_pattern_is_found_however_it_is_written(pattern: str, text: str):
    rules = RuleSet([Rule("r", Severity.CRITICAL, patterns=(pattern,))])
    assert terms(rules, text) == [re.search(pattern, text, re.IGNORECASE).group(0)]
    assert terms(rules, "Nothing here.") == []


def test_the_review_window_pattern_is_searched_only_in_text_that_says_days():
    window = next(r for r in DEFAULT_RULES if r.name == "review-requests").patterns[0]
    assert _pattern_needle(re.compile(window, re.IGNORECASE)) == "days"
    assert _pattern_needle(re.compile(r"coupons?|vouchers")) == ""  # no letter every match holds


def test_matches_name_their_rule_in_rule_order_once_per_term():
    rules = RuleSet(DEFAULT_RULES)
    found = rules.match("Unsolicited messages asking for a review, or any review at all.")
    assert [(rule.name, term) for rule, term in found] == [
        ("buyer-messaging", "unsolicited"),
        ("reviews", "review"),
    ]


@pytest.mark.parametrize(
    ("text", "rule", "level"),
    [
        ("Sellers must not send unsolicited messages.", "buyer-messaging", Severity.CRITICAL),
        ("Marketing communications are prohibited.", "buyer-messaging", Severity.CRITICAL),
        ("Use Buyer-Seller Messaging for all contact.", "buyer-messaging", Severity.CRITICAL),
        ("Do not direct buyers to your own website.", "buyer-messaging", Severity.CRITICAL),
        ("Never take a sale off Amazon.", "buyer-messaging", Severity.CRITICAL),
        ("Use Request a Review once per order.", "review-requests", Severity.CRITICAL),
        ("between 4 and 30 days after delivery", "review-requests", Severity.CRITICAL),
        ("between 5 and 45 days after delivery", "review-requests", Severity.CRITICAL),
        ("Incentivized reviews are prohibited.", "review-requests", Severity.CRITICAL),
        ("Ask for feedback politely.", "reviews", Severity.MAJOR),
        ("Star ratings may change.", "reviews", Severity.MAJOR),
        ("Keep personal information private.", "buyer-data", Severity.MAJOR),
        ("You may contact customers for order issues.", "buyer-data", Severity.MAJOR),
        ("We may suspend your selling privileges.", "enforcement", Severity.MAJOR),
    ],
)
def test_the_default_rules_watch_seller_central_communication_wording(text, rule, level):
    found = {(r.name, r.severity) for r, _ in RuleSet(DEFAULT_RULES).match(text)}
    assert (rule, level) in found


def test_ordinary_policy_text_matches_no_default_rule():
    text = "Amazon identifies a Featured Offer by considering price and delivery speed."
    assert RuleSet(DEFAULT_RULES).match(text) == []


# --------------------------------------------------------------------------- severity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Do not contact customers about reviews or REDIRECTING buyers off Amazon.",
            ["redirect*", "off Amazon", "reviews", "contact customers"],
        ),
        (
            "Use Buyer-Seller Messaging only; no star ratings, no phone numbers.",
            ["Buyer-Seller Messaging", "ratings", "star rating*", "phone number*", "ſtar ratings"],
        ),
        (
            "Don’t stop sending unsolicited offers between 5 and 30 days.",
            ["unsolicited", "5 and 30 days", "5 and 30 days", "don't stop"],
        ),
        ("A request for a review, then a reviewer's feedback_form.", ["review"]),
        (
            "Sellers may REQUEST A Review once, BETWEEN 4 AND 30 DAYS, not 14 and 30 days; "
            "no PreRedirect or redirects.",
            ["redirect*", "request a review", "4 and 30 days", "4 AND 30 DAYS", "review"],
        ),
        (
            "Request a review: 44 and 30 days, x5 and 30 days, or 5 and 30 daysx.",
            ["request a review", "44 and 30 days", "review"],
        ),
        ("Refunds are issued within 30 days.", ["refund *"]),  # a space before the * too
        (
            "Customer reviews in the U.S. and in the \u212aingdom: contact buyers.",
            ["reviews", "contact buyers", "U.S.", "kingdom"],
        ),
    ],
)
def test_terms_match_alike_whether_or_not_the_caller_split_the_words_first(
    text: str, expected: list[str]
):
    """The word-list shortcut must agree with the plain search, odd spellings included."""
    extra = Rule(
        "extra", Severity.MINOR, terms=("don't stop", "U.S.", "kingdom", "ſtar ratings", "refund *")
    )
    ruleset = RuleSet((*DEFAULT_RULES, extra))
    assert terms(ruleset, text) == expected
    text_words = words(text)
    word_set = None if text_words is None else set(text_words)
    assert [term for _, term in ruleset.match(text, word_set)] == expected


def test_no_substantive_change_means_no_alert():
    assert severity(DiffResult("p", "a", "b", ())) is None
    cosmetic = one_section(change(substantive=False, tags=("cosmetic-only",)))
    assert severity(cosmetic) is None


def test_cosmetic_changes_alert_as_minor_only_when_asked():
    cosmetic = one_section(change(substantive=False, tags=("cosmetic-only",)))
    assert severity(cosmetic, alert_on_cosmetic=True) == Severity.MINOR


def test_a_plain_rewording_is_minor():
    assert severity(one_section(change())) == Severity.MINOR


@pytest.mark.parametrize("tag", ["obligation", "number"])
def test_obligation_flips_and_number_changes_are_at_least_major(tag: str):
    assert severity(one_section(change(tags=(tag,)))) == Severity.MAJOR


def test_the_loudest_watched_term_wins_even_over_an_obligation_flip():
    critical = RuleMatch("buyer-messaging", "unsolicited", Severity.CRITICAL, "old")
    result = one_section(change(tags=("obligation", "term"), matches=(critical,)), change())
    assert severity(result) == Severity.CRITICAL


def test_a_watched_term_in_a_cosmetic_change_does_not_alert():
    critical = RuleMatch("buyer-messaging", "unsolicited", Severity.CRITICAL, "both")
    result = one_section(change(substantive=False, tags=("cosmetic-only",), matches=(critical,)))
    assert severity(result) is None


def test_a_moved_section_is_a_minor_change_even_with_the_same_text():
    assert severity(one_section(kind="moved")) == Severity.MINOR
    assert severity(one_section(kind="unchanged")) is None


def test_the_words_of_an_ascii_sentence_are_its_lower_cased_word_runs():
    """The byte-table word split agrees with a plain regex on every ASCII character."""
    for code in range(128):
        text = f"Sellers{chr(code)}MAY_not {chr(code)}send 4-30{chr(code)}"
        assert words(text) == re.findall(r"\w+", text.lower(), re.ASCII), repr(chr(code))
    assert words("Don't send   unsolicited\tmessages.") == [
        "don",
        "t",
        "send",
        "unsolicited",
        "messages",
    ]
    assert words("Vendeurs : ne pas envoyer de messages non sollicités.") is None
