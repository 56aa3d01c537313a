"""Help-centre widgets that sites put inside the article: feedback prompts and teaser lists.

Some help centres place "Was this article helpful? Yes / No" and "Related
articles" (a title, a one-line blurb, "15 min article", a link) inside the very
element that holds the policy. They come and go between versions on their own,
so reading them as policy text alerts a seller about nothing. They are found by
structure and wording, in the languages of the major marketplaces, not by a
site's class names, and kept as chrome metadata instead of text.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from policywatch.document.normalize import normalize_text
from policywatch.document.sections import HEADING_RANKS, element_text

# A feedback prompt is a short question about this article's helpfulness.
_HELPFUL = (
    r"helpful|useful|utile|aid[ée]|hilfreich|n[üu]tzlich|geholfen|[úu]til|ayudado|"
    r"ajud(?:ou|ado)|nuttig|geholpen|pomocn[ya]|przydatn[ya]|hj[äa]lpsam|anv[äa]ndbar|"
    r"yard[ıi]mc[ıi]|faydal[ıi]|役に立ち|役立ち|参考にな"
)
_ARTICLE = (
    r"article|page|answer|information|content|post|artikel|seite|antwort|beitrag|"
    r"informationen|r[ée]ponse|contenu|art[íi]culo|p[áa]gina|respuesta|informaci[óo]n|"
    r"articolo|pagina|risposta|artigo|resposta|artyku[łl]|strona|odpowied[źz]|"
    r"makale|sayfa|記事|ページ|情報|回答"
)
FEEDBACK_RE = re.compile(
    rf"(?:(?:{_ARTICLE}).*(?:{_HELPFUL})|(?:{_HELPFUL}).*(?:{_ARTICLE})|did (?:this|we) help)"
    r".*(?:\?|か)\s*$",
    re.IGNORECASE,
)
FEEDBACK_MAX_WORDS = 10
FEEDBACK_MAX_CHARS = 200  # of source text, spaces included, before it is normalised
# Besides the question a feedback widget holds only its answers and thanks: a few words.
FEEDBACK_EXTRA_WORDS = 12

# The heading of a teaser list, as the whole text of a short element.
RELATED_RE = re.compile(
    r"^(?:related (?:articles|topics|pages|help (?:articles|topics)|content)|"
    r"you (?:might|may|could) also (?:be interested in|like)|more (?:articles|help articles)|"
    r"recommended (?:articles|for you|reading)|popular articles|read next|"
    r"articles? (?:connexes|similaires|li[ée]s|associ[ée]s|recommand[ée]s)|"
    r"vous (?:pourriez|pouvez) (?:aussi|[ée]galement) [êe]tre int[ée]ress[ée]e?s? par|"
    r"vous aimerez (?:peut-[êe]tre )?aussi|[àa] lire aussi|sur le m[êe]me sujet|"
    r"(?:[äa]hnliche|verwandte|weitere|empfohlene) (?:artikel|themen|beitr[äa]ge|hilfeartikel)|"
    r"(?:das|dies) k[öo]nnte sie (?:auch )?interessieren|auch interessant|"
    r"art[íi]culos (?:relacionados|recomendados)|(?:tambi[ée]n )?te (?:puede|podr[íi]a) "
    r"interesar(?: tambi[ée]n)?|quiz[áa]s? (?:tambi[ée]n )?te interese|"
    r"articoli (?:correlati|consigliati)|potrebbe interessarti(?: anche)?|"
    r"ti potrebbe(?:ro)? interessare|artigos relacionados|gerelateerde artikelen|"
    r"powi[ąa]zane artyku[łl]y|relaterade artiklar|ilgili makaleler|"
    r"関連記事|関連するページ|関連ページ|こちらもおすすめ)\s*:?$",
    re.IGNORECASE,
)
RELATED_MAX_WORDS = 10
RELATED_MAX_CHARS = 80
# "15 min article", "5 min read", "Article de 5 min", "5 Min. Lesezeit", "5分で読めます".
READING_TIME_RE = re.compile(
    r"\d+\s*(?:min(?:ute)?s?\.?|分)\s*(?:article|read|lesezeit|lectura|lettura|de lecture|"
    r"で読め)|(?:article|lecture|lectura|lettura|leitura) de \d+\s*min",
    re.IGNORECASE,
)
# One teaser: a title link, a blurb and a badge; a paragraph of policy is longer.
TEASER_MAX_WORDS = 40
_TEASER_HEADING_TAGS = frozenset({*HEADING_RANKS, "p", "div", "span", "strong", "b", "header"})


_Widget = tuple[list[HtmlElement], str]  # the elements it spans, and what it was


def take_boilerplate(content: HtmlElement) -> list[str]:
    """Remove feedback widgets and teaser lists from `content`; return what each was.

    When they are all the text of `content`, but for a heading, they stay: the user's
    `select` chose them, and what a user selects is what they watch.
    """
    found: list[_Widget] = []
    taken: set[HtmlElement] = set()
    for element in content.iter():
        if not isinstance(element.tag, str) or element is content or element in taken:
            continue
        if taken and any(a in taken for a in element.iterancestors()):
            continue
        widget = _feedback(element, content) or _teasers(element, content)
        if widget is not None:
            found.append(widget)
            taken.update(widget[0])
    if not found:
        return []
    widget_words = sum(_words(element_text(e)) for e in taken)
    if _words(element_text(content)) - widget_words <= RELATED_MAX_WORDS:
        return []
    for elements, _ in found:
        for element in elements:
            if element.getparent() is not None:
                element.drop_tree()
    return [label for _, label in found]


def _words(text: str) -> int:
    return len(text.split())


def _feedback(element: HtmlElement, content: HtmlElement) -> _Widget | None:
    """The widget around a "Was this article helpful?" question held by `element`."""
    raw = element.text or ""
    if len(raw) > FEEDBACK_MAX_CHARS or ("?" not in raw and "？" not in raw and "か" not in raw):
        return None
    own = normalize_text(raw)
    if not own or _words(own) > FEEDBACK_MAX_WORDS or not FEEDBACK_RE.search(own):
        return None
    if normalize_text(element_text(element)) != own:
        return None
    widget = element
    limit = _words(own) + FEEDBACK_EXTRA_WORDS
    for ancestor in element.iterancestors():
        if ancestor is content or _words(element_text(ancestor)) > limit:
            break
        widget = ancestor
    return [widget], own


def _teasers(element: HtmlElement, content: HtmlElement) -> _Widget | None:
    """A "Related articles" heading with the link lists after it, or a list of timed teasers."""
    if element.tag in ("ul", "ol") and _is_teaser_list(element, timed=True):
        return [element], "teasers: " + ", ".join(_link_titles(element))
    if element.tag not in _TEASER_HEADING_TAGS:
        return None
    if _longer_than(element, RELATED_MAX_CHARS):
        return None
    heading = element_text(element)
    if not heading or _words(heading) > RELATED_MAX_WORDS or not RELATED_RE.match(heading):
        return None
    lists = []
    for sibling in element.itersiblings():
        if not isinstance(sibling.tag, str) or not _is_teaser_list(sibling, timed=False):
            break
        lists.append(sibling)
    if not lists:
        return None
    label = f"{heading}: " + ", ".join(t for li in lists for t in _link_titles(li))
    parent = element.getparent()
    if parent is not None and parent is not content and len(parent) == len(lists) + 1:
        return [parent], label
    return [element, *lists], label


def _longer_than(element: HtmlElement, limit: int) -> bool:
    """Whether the element holds more than `limit` characters, reading no further than that:
    every <div> of a page is a candidate heading, and most hold whole articles."""
    seen = 0
    for text in element.itertext():
        seen += len(text.strip())
        if seen > limit:
            return True
    return False


def _is_teaser_list(element: HtmlElement, *, timed: bool) -> bool:
    """Every item is a link with at most a short blurb (and, if `timed`, a reading time)."""
    items = [c for c in element if isinstance(c.tag, str)]
    if element.tag == "a":
        items = [element]
    if not items:
        return False
    for item in items:
        text = element_text(item)
        has_link = item.tag == "a" or next(item.iter("a"), None) is not None
        if not has_link or _words(text) > TEASER_MAX_WORDS:
            return False
        if timed and not READING_TIME_RE.search(text):
            return False
    return True


def _link_titles(element: HtmlElement) -> list[str]:
    return [t for a in element.iter("a") if (t := element_text(a))]
