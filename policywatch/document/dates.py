"""The page's own date line ("Last updated: March 3, 2026"): taken out of the policy text and kept.

A date line that moves is not a change of policy, so it never reaches the diff; it is kept
in the document's metadata and shown beside a change, in every marketplace language.
"""

from __future__ import annotations

import functools
import re

from lxml.html import HtmlElement

from policywatch.document.parse import drop_elements
from policywatch.document.sections import BLOCK_TAGS, element_text

# "Last updated: March 3, 2026", "Effective: 1 June 2025", "Updated on 2025-06-01",
# "Dernière mise à jour : 3 mars 2025", "Zuletzt aktualisiert am 3. März 2025", "最終更新日:
# 2025年3月3日": a whole block holding only a label and a date, in the languages of the
# marketplaces a seller answers to. A sentence that merely starts with "Effective"
# ("Effective immediately, ...") or says when a rule takes effect has no label and date
# alone, and stays policy text. Matched against normalised text (NFKC, one space).
_MONTH = (
    r"(?:jan(?:uary|v(?:ier)?)?|feb(?:ruary|braio)?|f[ée]vr?(?:ier)?|febrero|"
    r"mar(?:ch|s|zo)?|m[äa]r(?:z)?|apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|"
    r"may|mai|mayo|maggio|june?|juin|juni|junio|giugno|july?|juil(?:let)?|juli|julio|luglio|"
    r"aug(?:ust)?|ao[ûu]t|agosto|sep(?:t(?:ember|embre)?)?|se(?:p)?tiembre|settembre|"
    r"oct(?:ober|obre|ubre)?|okt(?:ober)?|ottobre|nov(?:ember|embre|iembre)?|"
    r"dec(?:ember)?|d[ée]c(?:embre)?|dez(?:ember)?|dic(?:iembre|embre)?|"
    r"enero|gennaio|januar|j[äa]nner|februar|diciembre|"
    # Portuguese, Dutch and Polish (genitive, as a date is written) for the effective dates.
    r"janeiro|fevereiro|mar[çc]o|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    r"januari|februari|maart|mei|augustus|"
    r"stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|wrze[śs]nia|"
    r"pa[źz]dziernika|listopada|grudnia)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|\.|º|°|o)?"
_OF = r"(?:\s+de)?"  # "3 de marzo de 2025"
_DATE = (
    rf"(?:{_MONTH}\s+{_DAY},?\s+\d{{4}}"
    rf"|{_DAY}{_OF}\s+{_MONTH}{_OF},?\s+\d{{4}}"
    rf"|{_MONTH}{_OF}\s+\d{{4}}"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|\d{4}/\d{1,2}/\d{1,2}"
    r"|\d{1,2}[/.]\s?\d{1,2}[/.]\s?\d{2,4})"
)
_DATE_LABEL = (
    r"(?:last\s+(?:updated?|modified|revised|changed)|(?:page\s+)?updated|revised|"
    r"effective(?:\s+date)?|date\s+of\s+last\s+update|"
    r"derni[èe]re\s+(?:mise\s+[àa]\s+jour|modification|r[ée]vision)|mis\s+[àa]\s+jour|"
    r"modifi[ée]|date\s+d'(?:entr[ée]e\s+en\s+vigueur|effet)|en\s+vigueur|"
    r"zuletzt\s+(?:aktualisiert|ge[äa]ndert|bearbeitet)|letzte\s+(?:aktualisierung|[äa]nderung)|"
    r"aktualisiert|stand|g[üu]ltig|inkrafttreten|"
    r"[úu]ltima\s+(?:actualizaci[óo]n|modificaci[óo]n|revisi[óo]n)|actualizado|vigente|"
    r"[úu]ltima\s+atualiza[çc][ãa]o|atualizado|"
    r"ultimo\s+aggiornamento|ultima\s+modifica|aggiornato|in\s+vigore|"
    r"laatst\s+bijgewerkt|ostatnia\s+aktualizacja|"
    r"最終更新日?|更新日|改訂日|施行日)"
)
# What may sit between a label and its date: "on", "am", "le", "el", "from", "as of" ...
_LINK = (
    r"(?:\s+(?:on|as\s+of|from|since|am|ab|seit|vom|le|du|depuis\s+le|[àa]\s+compter\s+du|"
    r"au|el|desde\s+el|desde|em|il|dal|dall'|op|dnia))?"
)
# A date as pages write it, in any of the languages above (also what `effective` looks for).
DATE_PATTERN = _DATE
# Its parts, for the dates `effective` reads without a year ("Starting March 1").
MONTH_PATTERN = _MONTH
DAY_PATTERN = _DAY
DATE_LABEL_RE = re.compile(rf"\s*{_DATE_LABEL}", re.IGNORECASE)
# The block that holds a date line: the element we drop from the text.
DATE_LINE_CONTAINERS = frozenset({"p", "div", "li", "dd", "td", "span", "small", "time", "em"})


@functools.cache
def _date_line_re() -> re.Pattern[str]:
    """A whole "Last updated: <date>" line. Compiled on first use: it takes ~5 ms, and a check
    that finds every page unchanged never reads a date line."""
    return re.compile(
        rf"^\s*{_DATE_LABEL}{_LINK}\s*[:\-]?\s*(?P<date>{_DATE})\s*\.?\s*$", re.IGNORECASE
    )


def take_date_lines(content: HtmlElement) -> list[str]:
    """Remove every "Last updated: <date>" block from the body and return their texts.

    Only the date changes when Amazon bumps it, so keeping it out of the hashed
    text makes a date-only bump no change, while the date stays visible as
    metadata. Linear: only blocks holding a text node with a date label are read.
    """
    found: list[HtmlElement] = []
    for element in content.iter():
        if not isinstance(element.tag, str):
            continue
        for text, holder in ((element.text, element), (element.tail, element.getparent())):
            if text and holder is not None and DATE_LABEL_RE.match(text):
                block = _date_block(holder, content)
                if block is not None and block not in found:
                    found.append(block)
    lines = [element_text(block) for block in found]
    drop_elements(found)
    return lines


def stated_date(line: str) -> str:
    """The date alone of a "Last updated: July 3, 2023" line (its first, if it had several)."""
    first = line.split("; ")[0]
    found = _date_line_re().match(first)
    return found["date"] if found else first


def page_date_line(old_line: str | None, new_line: str | None) -> str | None:
    """What the page says its date is, and what it said before, as a seller quotes it to
    support: "Last updated: July 3, 2023 (was March 16, 2023)"; None if it never said."""
    if not new_line:
        return f"no date shown (was {stated_date(old_line)})" if old_line else None
    if not old_line:
        return new_line
    before = stated_date(old_line)
    return f"{new_line} ({'unchanged' if before == stated_date(new_line) else f'was {before}'})"


def _date_block(element: HtmlElement, content: HtmlElement) -> HtmlElement | None:
    """The element around `element`, up to its nearest block, whose whole text is a date line."""
    node: HtmlElement | None = element
    while node is not None and node is not content:
        tag = node.tag
        if tag in DATE_LINE_CONTAINERS and _date_line_re().match(element_text(node)):
            return node
        if tag in BLOCK_TAGS:
            return None
        node = node.getparent()
    return None
