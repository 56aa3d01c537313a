"""Turn a fetched HTML page into a Document: the policy body, sectioned, plus metadata.

Seller Central wraps a few paragraphs of policy in a header, navigation, a
country banner, a breadcrumb, a hidden sign-in placeholder, a "Top" button and
a related-articles sidebar, all of which change on their own. Only the selected
body is hashed; the banner, breadcrumb, "Last updated" line and language are
read first and kept as metadata, so they are recorded but never look like a
policy change.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import lxml.html
from cssselect import parser as css_parser
from lxml import etree
from lxml.cssselect import CSSSelector, LxmlTranslator
from lxml.html import HtmlElement

from policywatch.content import Document
from policywatch.document.dates import take_date_lines
from policywatch.document.normalize import normalize_text
from policywatch.document.parse import drop_elements, parse_html
from policywatch.document.sections import build_sections, document_digest, element_text
from policywatch.models import PageSpec, sha256_hex

# Never policy text, on any site. Dropped from the selected body before reading it.
NOISE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "form",
    "header",
    "footer",
    "iframe",
    "svg",
    "button",
)
# Hidden elements carry what a server renders per request (session ids, timestamps) and
# what no reader sees; inline styles are matched in the two spellings CMSs write.
HIDDEN_SELECTORS = (
    "[hidden]",
    "[aria-hidden='true']",
    "[style*='display:none']",
    "[style*='display: none']",
    "[style*='visibility:hidden']",
    "[style*='visibility: hidden']",
)
NOISE_SELECTORS = (*NOISE_TAGS, *HIDDEN_SELECTORS)

# Without a selector, the first of these that exists is the main content.
MAIN_CONTENT_SELECTORS = ("main", "[role=main]", "article", "#help-content")

# Seller Central page chrome read as metadata, and never as text. Tag-qualified
# selectors because they run over the whole page, where a bare class scan is slow.
COUNTRY_BOX = "kat-box.hh-article-country-box"
BREADCRUMB_ITEMS = "kat-breadcrumb-item"
METADATA_CHROME = ("kat-breadcrumb", ".hh-article-country-box")

# "#full-help-page" is looked up in libxml2's id table instead of scanning every element.
ID_SELECTOR_RE = re.compile(r"#([A-Za-z][\w-]*)")
ID_XPATH = etree.XPath("id($id)")


# A shell that renders in the browser asks for JavaScript and has almost no text of its own.
CLIENT_RENDERED_RE = re.compile(r"enable\s+javascript|javascript\s+(?:is\s+)?required", re.I)
SHELL_TEXT_CHARS = 300
SHELL_TEXT_XPATH = etree.XPath(
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript"
    " or ancestor::template)]"
)


class NotPolicy(Exception):
    """The page answered, but the configured policy body is not in it; never a new version."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TRANSLATOR = LxmlTranslator()  # the one CSSSelector uses, so a gathered test matches alike
_XPATH_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.-]*")


@functools.lru_cache(maxsize=256)
def css(selector: str) -> CSSSelector:
    """Compiled selectors, cached: every poll of every page reuses the same few."""
    return CSSSelector(selector)


@functools.lru_cache(maxsize=256)
def _compile_ignore(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# Bump when a change to extraction would make the same markup yield another Document,
# so fingerprints taken by an older version never vouch for a page.
EXTRACTOR_VERSION = "2"


@dataclass(frozen=True)
class Prepared:
    """The policy body cut out of a page and cleaned, before it is read into sections.

    `fingerprint` covers the cleaned markup and every setting that shapes what it
    yields, so equal fingerprints mean an equal Document: an unchanged poll can stop
    here instead of sectioning and normalising the whole body again.
    """

    root: HtmlElement
    content: HtmlElement
    metadata: dict[str, str]
    first_h1: HtmlElement | None
    fingerprint: str


def rules_key(page: PageSpec) -> str:
    """Names the rules a page is read with: this extractor and the page's select/remove/ignore.

    Two Documents of one page compare like with like only when read under the same key.
    """
    parts = (EXTRACTOR_VERSION, page.select or "", *page.remove, "\x01", *page.ignore)
    return sha256_hex("\x00".join(parts))[:16]


def prepare(html: str | bytes | HtmlElement, page: PageSpec, base_url: str) -> Prepared:
    """Select and clean the policy body; raises NotPolicy when the selector matches nothing.

    A tree from `parse_html` is accepted so a caller that already parsed the page
    (the gate looks at it first) pays for one parse; the tree is consumed.
    """
    root = html if isinstance(html, HtmlElement) else parse_html(html)
    metadata = _page_metadata(root)
    content = _select_content(root, page)
    first_h1 = next(content.iter("h1"), None)
    for cut in _cuts(tuple(page.remove)):
        drop_elements(cut(content))
    # The title may come from outside the cleaned body (an h1 in a dropped header, the
    # <title>, the watchlist), so what it could be is part of the fingerprint too.
    h1 = first_h1.text_content() if first_h1 is not None else ""
    titles = f"{h1}\x00{root.findtext('head/title') or ''}\x00{page.title}"
    settings = f"{rules_key(page)}\x00{base_url}\x00{titles}\x00"
    markup = etree.tostring(content, encoding="utf-8", with_tail=False)
    fingerprint = sha256_hex(settings.encode("utf-8") + markup)
    return Prepared(root, content, metadata, first_h1, fingerprint)


_Cut = Callable[[HtmlElement], Iterable[HtmlElement]]


@functools.lru_cache(maxsize=256)
def _cuts(remove: tuple[str, ...]) -> tuple[_Cut, ...]:
    """What `prepare` drops, in order: the noise, the chrome, then each `remove` selector.

    Each selector used to be a scan of the body, fifteen per poll. A selector that
    looks only at the element itself (tag, id, class, attribute, :not of those)
    matches the same elements whether it runs before or after the others, so a run
    of them is gathered into a few scans (see `_Gathered`). A combinator or
    structural pseudo-class (`div > p`, `:first-child`, `:empty`) still sees the
    body as the cuts before it left it, and runs in its place.
    """
    cuts: list[_Cut] = []
    gathered = _Gathered()
    for selector in (*NOISE_SELECTORS, *METADATA_CHROME, *remove):
        parts = css_parser.parse(selector)
        if all(p.pseudo_element is None and _self_only(p.parsed_tree) for p in parts):
            gathered.add(parts)
        else:
            cuts += [*gathered.cuts(), css(selector)]
            gathered = _Gathered()
    return (*cuts, *gathered.cuts())


class _Gathered:
    """Element-only selectors as few scans: tag names at C speed, the rest by attribute.

    A scan for `[@class]` that tests the few elements with a class against every
    class selector costs what one class selector alone used to.
    """

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.tests: dict[str | None, dict[str, None]] = {}  # needed attribute -> XPath tests

    def add(self, parts: Sequence[css_parser.Selector]) -> None:
        for part in parts:
            tree = part.parsed_tree
            if isinstance(tree, css_parser.Element) and tree.element and tree.namespace is None:
                self.tags.add(tree.element)
            else:
                test = _TRANSLATOR.selector_to_xpath(part, prefix="self::")
                self.tests.setdefault(_needed_attribute(tree), {})[f"({test})"] = None

    def cuts(self) -> list[_Cut]:
        cuts: list[_Cut] = []
        if self.tags:
            tags = tuple(sorted(self.tags))
            cuts.append(lambda content: [e for e in content.iter(*tags) if e is not content])
        for attribute, tests in self.tests.items():
            having = f"[@{attribute}]" if attribute else ""
            cuts.append(etree.XPath(f"descendant::*{having}[{' or '.join(tests)}]"))
        return cuts


def _self_only(node: object) -> bool:
    if isinstance(node, css_parser.Element):
        return True
    if isinstance(node, css_parser.Hash | css_parser.Class | css_parser.Attrib):
        return _self_only(node.selector)
    if isinstance(node, css_parser.Negation):
        return _self_only(node.selector) and _self_only(node.subselector)
    return False


def _needed_attribute(node: object) -> str | None:
    """An attribute every element matching this element-only selector has, if any."""
    while not isinstance(node, css_parser.Element):
        if isinstance(node, css_parser.Class):
            return "class"
        if isinstance(node, css_parser.Hash):
            return "id"
        if (
            isinstance(node, css_parser.Attrib)
            and node.operator != "!="  # [a!=b] also matches elements without `a`
            and node.namespace is None
            and _XPATH_NAME.fullmatch(node.attrib)
        ):
            return node.attrib
        node = node.selector  # type: ignore[attr-defined]
    return None


def extract_document(
    html: str | bytes | HtmlElement | Prepared, page: PageSpec, base_url: str
) -> Document:
    """Extract the policy Document of `page` from a fetched HTML body.

    Metadata keys (each only when found): language, country, breadcrumb,
    last_updated, h1, chrome (feedback widgets and teaser lists found in the
    body). The title is the body's first h1, else the page <title>.
    Raises NotPolicy when `page.select` matches nothing (or the page has no
    body at all), with a reason a user can act on.
    """
    # Imported here: its patterns take ~4 ms to compile, and a page whose cleaned body is
    # unchanged (most polls) is never extracted.
    from policywatch.document.boilerplate import take_boilerplate

    prepared = html if isinstance(html, Prepared) else prepare(html, page, base_url)
    root, content, metadata = prepared.root, prepared.content, dict(prepared.metadata)
    date_lines = take_date_lines(content)
    if date_lines:
        metadata["last_updated"] = "; ".join(date_lines)
    chrome = take_boilerplate(content)
    if chrome:
        metadata["chrome"] = " | ".join(chrome)
    ignore = _compile_ignore(tuple(page.ignore))
    # An h1 left after the cuts is the title; one inside a dropped <header> still names the page.
    h1 = next(content.iter("h1"), prepared.first_h1)
    title = element_text(h1, ignore) if h1 is not None else ""
    if title:
        metadata["h1"] = title
    else:
        title_el = root.find("head/title")
        title = element_text(title_el, ignore) if title_el is not None else ""
    title = title or page.title or page.id
    sections = build_sections(content, title=title, ignore=ignore, base_url=base_url)
    return Document(title, sections, document_digest(sections), metadata)


def _page_metadata(root: HtmlElement) -> dict[str, str]:
    """Language, country banner and breadcrumb, read from the whole page before anything is cut."""
    metadata: dict[str, str] = {}
    language = (root.get("lang") or "").strip()
    if language:
        metadata["language"] = language
    boxes = css(COUNTRY_BOX)(root)
    if boxes:
        country = banner_country(boxes[0])
        if country:
            metadata["country"] = country
    labels = [
        normalize_text(item.get("label") or "")
        for item in css(BREADCRUMB_ITEMS)(root)
        if not _is_collapsed_crumb(item)
    ]
    if any(labels):
        metadata["breadcrumb"] = " > ".join(label for label in labels if label)
    return metadata


def banner_country(box: HtmlElement) -> str:
    """The country named by "This article applies to selling in: <b>France</b>".

    The banner's words flip between English and French from one fetch to the
    next ("Cet article s'applique à la vente en : France"); the bold name and
    the text after the last colon do not, so the value is language-independent.
    """
    bold = next(box.iter("b", "strong"), None)
    if bold is not None:
        return element_text(bold)
    return normalize_text(element_text(box).rsplit(":", 1)[-1])


def _is_collapsed_crumb(item: HtmlElement) -> bool:
    """The "..." item Seller Central inserts when it collapses a long breadcrumb."""
    label = (item.get("label") or "").strip()
    return label in ("...", "…") or "collapsed-indicator" in (item.get("class") or "")


def _select_content(root: HtmlElement, page: PageSpec) -> HtmlElement:
    """The element(s) holding the policy; several matches are joined in document order."""
    if page.select:
        matches = find_all(root, page.select)
        if not matches:
            raise NotPolicy(_missing_reason(root, f"no element matches select `{page.select}`"))
        outermost = _outermost(matches)
        if len(outermost) == 1:
            return outermost[0]
        wrapper = lxml.html.Element("div")
        for match in outermost:
            match.tail = None  # text between matches is not part of any match
            wrapper.append(match)
        return wrapper
    for selector in MAIN_CONTENT_SELECTORS:
        matches = css(selector)(root)
        if matches:
            return matches[0]
    body = root.find("body")
    if body is None:
        raise NotPolicy(_missing_reason(root, "the page has no body"))
    return body


def find_all(root: HtmlElement, selector: str) -> list[HtmlElement]:
    """Elements matching a CSS selector; a bare `#id` uses libxml2's id table, not a scan."""
    by_id = ID_SELECTOR_RE.fullmatch(selector.strip())
    return ID_XPATH(root, id=by_id.group(1)) if by_id else css(selector)(root)


def _outermost(matches: Sequence[HtmlElement]) -> list[HtmlElement]:
    """Drop matches nested inside another match, so no text is read twice."""
    chosen = set(matches)
    return [m for m in matches if not any(a in chosen for a in m.iterancestors())]


def _missing_reason(root: HtmlElement, what: str) -> str:
    if looks_client_rendered(root):
        return (
            f"{what}; the page looks client-rendered (it needs JavaScript), "
            "so set `fetch: browser` for this page"
        )
    return f"{what}; check the page's `select` against the page in a browser"


def looks_client_rendered(root: HtmlElement) -> bool:
    """A JavaScript app shell: only a browser would show the policy.

    The one judgement the gate and the extractor share: under SHELL_TEXT_CHARS
    of visible text of its own, and either a <noscript> (or text) asking for
    JavaScript or no text at all but scripts. Rendered Seller Central pages keep
    their <noscript> too, and sign-in or robot-check pages are short too, so
    neither sign alone means the browser would help.
    """
    body = root.find("body")
    scope = body if body is not None else root
    texts = SHELL_TEXT_XPATH(scope)
    shown = sum(len("".join(t.split())) for t in texts)
    if shown >= SHELL_TEXT_CHARS:
        return False
    if any(CLIENT_RENDERED_RE.search(n.text_content()) for n in root.iter("noscript")):
        return True
    if CLIENT_RENDERED_RE.search(" ".join(texts)):
        return True
    return shown == 0 and next(root.iter("script"), None) is not None
