"""Is this answer really the policy? Decide before anything is extracted or stored.

Seller Central answers a poll with HTTP 200 for far more than the policy: a
sign-in page, a "Robot Check" captcha, a "We're Sorry" error kept inside the
article container, an empty JavaScript app shell, or the same article for
another marketplace. Storing any of those as a version would cry wolf twice
(once when it appears, once when the real page comes back), so each is named
here with a reason a user can act on.

The checks look at structure (title, forms, inputs, the selected element, the
country banner) rather than at words anywhere in the page: a real article has a
"Sign in" button in its header and a hidden "Sign in to use the tool"
placeholder, and may well discuss captchas. Telltale phrases count only when
the page holds little text. Pure functions, no I/O: the gate runs on every poll.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from lxml import etree, html

from policywatch.document.extract import (
    CLIENT_RENDERED_RE,
    COUNTRY_BOX,
    banner_country,
    css,
    find_all,
    looks_client_rendered,
)
from policywatch.document.normalize import normalize_text
from policywatch.document.parse import parse_html
from policywatch.fetch.marketplace import clean_name, same_country
from policywatch.models import PageSpec

NEEDS_JAVASCRIPT = "needs JavaScript"  # reason prefix: `fetch: auto` then tries the browser
NO_SELECTOR_MATCH = "policy not found"  # reason prefix: `fetch: auto` also tries the browser
BROWSER_FIX = "set `fetch: browser` for this page (needs pip install 'policywatch[browser]')"

# Sizes count visible characters other than whitespace, so indentation does not count.
# Error, captcha and sign-in pages hold a few hundred; telltale phrases count only
# below this size, so an article quoting them is not blocked.
SHORT_PAGE_CHARS = 1200
# Below this, the selected element is an empty placeholder waiting for scripts.
EMPTY_CONTENT_CHARS = 16

_SITE = r"(?:amazon(?:\.[a-z.]+)?\s+)?(?:seller\s*central\s+)?"
_CAPTCHA_TITLE = re.compile(
    _SITE + r"(?:robot check|captcha|bot check|security check|are you a robot\??"
    r"|verify you are (?:a )?human)"
)
_SIGN_IN_TITLE = re.compile(_SITE + r"(?:sign[- ]?in|log[- ]?in)")
_ERROR_TITLE = re.compile(
    _SITE + r"(?:we'?re sorry[.!]?|sorry! something went wrong!?|page not found|"
    r"looking for something\?|(?:503 )?service unavailable(?: error)?|(?:404 )?not found|"
    r"(?:500 )?internal server error|(?:502 )?bad gateway|(?:504 )?gateway time-?out|"
    r"access denied|error|[45]\d\d)"
)
_TITLE_PARTS = re.compile(r"\s+[-|–—:]\s+|:\s+")

_CAPTCHA_TEXT = (
    "enter the characters you see below",
    "type the characters you see in this image",
    "make sure you're not a robot",
    "click the button below to continue shopping",
)
_SIGN_IN_TEXT = ("enter your email or mobile phone number",)
_ERROR_TEXT = (
    "we can't find the page",
    "we couldn't find that page",
    "not a functioning page on our site",
    "looking for something?",
    "page not found",
    "service unavailable",
    "something went wrong",
)

# Final URLs of Amazon's auth platform and sign-in redirectors.
_SIGN_IN_PATH = re.compile(r"^/(?:ap/|gp/sign-?in|sign-?in\b|signin\b)", re.IGNORECASE)

_BANNER_TEXT = re.compile(r"applies to selling in\s*:\s*(?:<[^>]*>\s*)*([^<]+)", re.IGNORECASE)

_SCRIPT_TAGS = frozenset({"script", "style"})  # their text is code, never shown
_HIDDEN_TAGS = frozenset({"noscript", "template"})  # shown only when scripts do not run
_TITLE = etree.XPath("string((//title)[1])")
_H1 = etree.XPath("string((//h1)[1])")
_NOSCRIPT = etree.XPath("//noscript")


def _captcha_field(element: html.HtmlElement) -> bool:
    if element.tag == "form":
        return "validateCaptcha" in (element.get("action") or "")
    return element.get("id") == "captchacharacters"


def _sign_in_field(element: html.HtmlElement) -> bool:
    if element.tag == "form":
        return element.get("name") == "signIn" or "/ap/signin" in (element.get("action") or "")
    return element.get("type") == "password"


def _shown_texts(scope: html.HtmlElement) -> Iterator[str]:
    """The text nodes of `scope` a reader sees, in document order.

    Left out: script and style code, and boxes below the scope that only show
    without scripts or not at all (noscript, template, `hidden`). A generator, so
    asking whether a page holds a few characters stops at the first paragraph.
    """
    if isinstance(scope.tag, str) and scope.tag not in _SCRIPT_TAGS and scope.text:
        yield scope.text
    stack = [(scope, iter(scope))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack and parent.tail:
                yield parent.tail
        elif isinstance(child.tag, str) and (
            child.tag in _HIDDEN_TAGS or child.get("hidden") is not None
        ):
            if child.tail:
                yield child.tail
        else:
            if isinstance(child.tag, str) and child.tag not in _SCRIPT_TAGS and child.text:
                yield child.text  # comments (tag is not a str) show only their tail
            stack.append((child, iter(child)))


def _nonblank(text: str) -> int:
    return len("".join(text.split()))


@dataclass
class _View:
    """What every check looks at, computed once and only when a check asks."""

    source: str
    root: html.HtmlElement
    final_url: str
    page: PageSpec
    via: str

    @functools.cached_property
    def title(self) -> str:
        return clean_name(_TITLE(self.root))

    @functools.cached_property
    def title_parts(self) -> tuple[str, ...]:
        """The title and its pieces: "Amazon.com: We're Sorry" -> also "we're sorry"."""
        return (self.title, *(p for p in _TITLE_PARTS.split(self.title) if p))

    @functools.cached_property
    def content(self) -> list[html.HtmlElement] | None:
        """Elements the page's `select` finds; None when the page has no selector."""
        return find_all(self.root, self.page.select) if self.page.select else None

    @functools.cached_property
    def scope(self) -> list[html.HtmlElement]:
        """The selected content, or the page body when there is none."""
        if self.content:
            return self.content
        body = self.root.find("body")
        return [body if body is not None else self.root]

    def at_least(self, chars: int) -> bool:
        """Whether the scope shows `chars` characters other than whitespace; every poll asks."""
        seen = 0
        for el in self.scope:
            for text in _shown_texts(el):
                seen += _nonblank(text)
                if seen >= chars:
                    return True
        return False

    @functools.cached_property
    def text(self) -> str:
        """Visible text of the scope as one clean line; only short pages need it."""
        return clean_name(" ".join(t for el in self.scope for t in _shown_texts(el)))

    @functools.cached_property
    def short(self) -> bool:
        """Too little visible text for an article; an article stops the count early."""
        return not self.at_least(SHORT_PAGE_CHARS)

    @functools.cached_property
    def fields(self) -> list[html.HtmlElement]:
        """Every form and input of the page, found in one pass."""
        return list(self.root.iter("form", "input"))

    def short_and_says(self, phrases: Sequence[str]) -> str | None:
        """The first telltale phrase on a page too short to be an article."""
        return next((p for p in phrases if p in self.text), None) if self.short else None

    def titled(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.fullmatch(part) for part in self.title_parts)


# File signatures of what people save by mistake instead of the page's HTML.
_SIGNATURES = (
    (b"%PDF-", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"PK\x03\x04", "ZIP/Office"),
    (b"\x1f\x8b", "gzip"),
)


def not_html(raw: bytes) -> str | None:
    """Why these bytes are no web page at all (a PDF, an image, binary), or None.

    Decoded and parsed as HTML they would look like an empty app shell, and the
    user would be told the page needs JavaScript.
    """
    head = raw.lstrip()[:1024]
    kind = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
    if kind is None and b"\x00" in head and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "binary"
    if kind is None:
        return None
    return (
        f"not HTML (looks like {kind}); policywatch reads web pages: save the page "
        "from a browser as HTML (Save Page As, 'Web Page, HTML only')"
    )


def classify_response(
    text: str,
    final_url: str,
    http_status: int,
    page: PageSpec,
    *,
    via: Literal["http", "browser"] = "http",
    tree: html.HtmlElement | None = None,
) -> str | None:
    """Why this answer is not the policy, or None when it may be.

    `tree` (from `extract.parse_html(text)`) lets the caller parse once for the
    gate and the extractor; the gate only reads it. `via` tells the gate whether
    scripts already ran, which changes the fix it suggests.
    """
    if http_status >= 400:
        return f"HTTP {http_status} error page instead of the policy"
    if not text.strip():
        return f"empty answer (HTTP {http_status} with no body); the next poll will try again"
    view = _View(text, tree if tree is not None else parse_html(text), final_url, page, via)
    for check in _CHECKS:
        reason = check(view)
        if reason:
            return reason
    return None


def _captcha(view: _View) -> str | None:
    phrase = view.short_and_says(_CAPTCHA_TEXT)
    if view.titled(_CAPTCHA_TITLE) or any(map(_captcha_field, view.fields)) or phrase:
        return (
            "robot check (captcha) instead of the policy: the site is challenging automated "
            "requests; poll less often (raise the page's interval or lower defaults.per_host)"
        )
    return None


def _sign_in(view: _View) -> str | None:
    redirected = _SIGN_IN_PATH.match(urlsplit(view.final_url).path or "/") and not (
        _SIGN_IN_PATH.match(urlsplit(view.page.url).path or "/")
    )
    phrase = view.short_and_says(_SIGN_IN_TEXT)
    signs_in = any(map(_sign_in_field, view.fields))
    if redirected or view.titled(_SIGN_IN_TITLE) or signs_in or phrase:
        return (
            f"sign-in page instead of the policy (at {view.final_url}): the page now asks for "
            "a login, or the site is turning this client away; open the URL in a private "
            "browser window to check"
        )
    return None


def _error_page(view: _View) -> str | None:
    heading = clean_name(_H1(view.root))
    # A short article with a heading of its own may quote an error message ("if you see
    # 'Something went wrong', ..."); only a page without one is judged by its phrases.
    phrase = None if heading else view.short_and_says(_ERROR_TEXT)
    if view.titled(_ERROR_TITLE) or (heading and _ERROR_TITLE.fullmatch(heading)) or phrase:
        shown = phrase or heading or view.title
        return (
            f'error page instead of the policy ("{shown}"): the page may have moved or been '
            "removed; check the URL in a browser"
        )
    return None


def _javascript(view: _View) -> str | None:
    """An app shell, an empty placeholder, or a selector that finds nothing."""
    select = view.page.select
    if view.content:
        if view.at_least(EMPTY_CONTENT_CHARS):
            return None
        what, fix = f"`{select}` is empty", "check the URL in a browser"
    elif view.content is None:
        if view.at_least(1) and not looks_client_rendered(view.root):
            return None
        what, fix = "there is no text", "check the URL in a browser"
    else:
        what, fix = f"nothing matches `{select}`", "fix `select` if the layout changed"
        if view.via == "http" and not looks_client_rendered(view.root):
            return (
                f"{NO_SELECTOR_MATCH}: no element matches select `{select}` on a complete "
                "page (not a JavaScript shell); the layout may have changed: open the page "
                "in a browser, find the policy element and fix `select`"
            )
    if view.via == "browser":
        return f"{NO_SELECTOR_MATCH}: {what} even after the page's scripts ran; {fix}"
    shell = "an app shell that asks for JavaScript" if _asks_for_javascript(view) else "the page"
    return f"{NEEDS_JAVASCRIPT}: {what} in {shell} as served; {BROWSER_FIX}, or {fix}"


def _asks_for_javascript(view: _View) -> bool:
    """A <noscript> (or visible text) saying the page only works with JavaScript."""
    noscript = " ".join(el.text_content() for el in _NOSCRIPT(view.root))
    return bool(CLIENT_RENDERED_RE.search(noscript) or CLIENT_RENDERED_RE.search(view.text))


def _marketplace(view: _View) -> str | None:
    expected = view.page.validity.country
    if not expected:
        return None
    found = _banner_countries(view)
    if not found or any(same_country(country, expected) for country in found):
        return None
    where = (
        f"redirected to {view.final_url}?"
        if urlsplit(view.final_url).hostname != urlsplit(view.page.url).hostname
        else "check the host and locale in the URL"
    )
    return f"wrong marketplace: page is for {found[0]}, expected {expected} ({where})"


def _banner_countries(view: _View) -> list[str]:
    """Countries named by "This article applies to selling in: <b>X</b>" banners."""
    countries = []
    for scope in view.content or [view.root]:
        countries += [banner_country(banner) for banner in css(COUNTRY_BOX)(scope)]
    if not countries:
        countries = [normalize_text(m.group(1)) for m in _BANNER_TEXT.finditer(view.source)]
    return [c for c in countries if c]


_CHECKS: tuple[Callable[[_View], str | None], ...] = (
    _captcha,
    _sign_in,
    _error_page,
    _javascript,
    _marketplace,
)
