"""Parsing fetched HTML with lxml: safely (no network, no huge trees) and once per body."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

_PARSER_OPTIONS = {
    "no_network": True,
    "remove_comments": True,
    "remove_pis": True,
    "huge_tree": False,
}
_local = threading.local()


def _parser(encoding: str | None) -> lxml.html.HTMLParser:
    """One parser per thread and encoding: lxml serialises concurrent use of one parser."""
    parsers = _local.__dict__.setdefault("parsers", {})
    if encoding not in parsers:
        parsers[encoding] = lxml.html.HTMLParser(encoding=encoding, **_PARSER_OPTIONS)
    return parsers[encoding]


def remember_utf8_source(text: str, data: bytes) -> None:
    """Note that `text` is exactly the valid UTF-8 `data` decoded, for this thread's next parse.

    Every poll decodes a fetched body (the gate and the store want text) and then
    parses that text, which meant encoding ~150 KB back to the bytes it came from.
    `parse_html(text)` hands libxml2 these bytes instead: the same input, so the
    same tree. Only the very object `text` is matched, and only once.
    """
    _local.utf8_source = (text, data)


def parse_html(text: str | bytes) -> HtmlElement:
    """Parse untrusted HTML into an <html> element, never touching the network.

    The HTML parser does not expand entities declared in a DOCTYPE and never
    loads external ones; huge_tree stays off so libxml2's depth and size limits
    hold. Text is parsed as UTF-8 bytes, which also accepts an XML declaration
    that lxml refuses in a str. Undecodable bytes fall back to libxml2's <meta
    charset> sniffing. An empty body gives an empty <html> element.
    """
    if isinstance(text, str):
        source = _local.__dict__.pop("utf8_source", None)
        data = source[1] if source and source[0] is text else text.encode("utf-8", "surrogatepass")
        encoding = "utf-8"
    else:
        data = text
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = None
    try:
        return lxml.html.document_fromstring(data, parser=_parser(encoding))
    except etree.ParserError:
        return lxml.html.Element("html")


def drop_elements(elements: Sequence[HtmlElement]) -> None:
    """Remove elements but keep the text that follows them (lxml's drop_tree keeps tails)."""
    for element in elements:
        if element.getparent() is not None:
            element.drop_tree()
