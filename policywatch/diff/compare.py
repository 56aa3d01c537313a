"""Semantic diff of two policy versions: which sentences changed, where, and how much it matters.

A line diff of a policy page is noise: a re-wrapped paragraph or a moved section
looks like a rewrite, and "may" -> "may not" hides in a wall of red and green.
This module compares the way a reader does, top-down, and only looks deeper
where something differs:

1. sections are aligned by heading path (then by identical or similar body, so a
   renamed or moved section is recognised as such, not as removed + added);
2. inside a section, blocks (paragraphs, list items, rows) are aligned, and only
   differing runs of blocks are split into sentences and aligned again;
3. a reworded sentence becomes one `modified` Change with a word-level inline
   diff (diff-match-patch over word tokens), an inserted one `added`, a deleted
   one `removed`;
4. each change is classified: cosmetic (equal after folding case, whitespace,
   punctuation and quote style) or substantive, with tags `obligation`
   (a modal's polarity changed: "may" -> "may not"), `number` (amounts, time
   limits), `link` (link targets), `term` (a watched rule term, old or new side);
   a change of link targets under unchanged words is `link-only`: shown, not
   substantive.

Everything here is pure and deterministic: the same inputs give the same
DiffResult, and a document diffed with itself is empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

from policywatch.content import Document
from policywatch.diff.align import Alignment, SectionPlan, kept_in_place, plan_section
from policywatch.diff.classify import Classifier
from policywatch.diff.sentences import block_runs
from policywatch.document.languages import (
    matches_language,
    page_language,
)
from policywatch.models import DiffResult, Rule
from policywatch.watchlist.rules import compile_rules


def diff_documents(
    old: Document,
    new: Document,
    *,
    page_id: str,
    old_id: str,
    new_id: str,
    rules: Sequence[Rule] = (),
    ignore: Sequence[str | re.Pattern[str]] = (),
    language: str | None = None,
) -> DiffResult:
    """Everything that differs between two versions of a page, in the new page's order.

    Removed sections appear where they used to be; unchanged sections are kept
    (kind "unchanged") so renderers can show them on request. A renamed section
    starts with a change tagged "heading"; renamed and moved sections also carry
    any edits of their text. `rules` are the watched terms to report (the caller
    picks the page's; those written for another language are left out); `ignore`
    takes the page's ignore patterns: text they match never counts as a change.
    `language` is the locale the watch is pinned to, for a page that does not
    declare its own (see languages.page_language).
    """
    tag = page_language(new, old, language)
    cls = Classifier(
        # A rule written for one language watches the pages in that language only.
        compile_rules(r for r in rules if r.language is None or matches_language(r.language, tag)),
        [re.compile(p) if isinstance(p, str) else p for p in ignore],
        tag,
    )
    alignment = Alignment(old.sections, new.sections)
    pairs = alignment.pairs
    kept = kept_in_place(pairs)
    from_new = {j: i for i, j in pairs.items()}
    plans: list[tuple[tuple[int, int, int], SectionPlan]] = []
    for j, section in enumerate(new.sections):
        i = from_new.get(j)
        if i is None:
            runs = block_runs((), section.blocks, cls)
            plans.append(((j, 0, 0), SectionPlan("added", None, section.path, runs)))
            continue
        before = old.sections[i]
        in_place = i in kept and alignment.translate(before.path) == section.path
        plans.append(((j, 0, 0), plan_section(before, section, in_place, cls)))
    anchor = -1
    for i, section in enumerate(old.sections):
        if i in pairs:
            anchor = pairs[i]
            continue
        runs = block_runs(section.blocks, (), cls)
        plans.append(((anchor, 1, i), SectionPlan("removed", section.path, None, runs)))
    # Every change of the page is classified in one go (see Classifier.changes), then each
    # plan takes back the Changes of its own drafts.
    batches = [plan.drafts() for _, plan in plans]
    classified = cls.changes([draft for batch in batches for draft in batch])
    entries = [
        (key, plan.finish(classified[end - len(batch) : end], cls))
        for (key, plan), batch, end in zip(
            plans, batches, accumulate(map(len, batches)), strict=True
        )
    ]
    entries.sort(key=lambda entry: entry[0])
    return DiffResult(page_id, old_id, new_id, tuple(change for _, change in entries))
