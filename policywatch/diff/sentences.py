"""Inside one section: blocks aligned, differing runs split into sentences and paired.

Only a run of blocks that differs is split into sentences; a reworded sentence is
paired with its old self (one `modified` change), the rest are added or removed, and
links are attached to the sentences that carry them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from itertools import groupby
from operator import eq

from policywatch.content import Block
from policywatch.diff.classify import Classifier, Unit, UnitPair, change_kind, is_cosmetic
from policywatch.diff.inline import common_ends, inline_fragments
from policywatch.document.normalize import split_enumerator
from policywatch.models import Change, RuleMatch

# Two sentences at least this similar (word-level ratio) are one reworded sentence.
SENTENCE_SIMILARITY = 0.5
# Above this many candidate pairs (sentences in one rewritten run, or sections left
# unmatched), pairing costs more than it helps a reader: they are removed + added.
MAX_PAIRING_CELLS = 40_000


# --------------------------------------------------------------------------- inside a section


@dataclass(slots=True)
class Run:
    """A run of differing blocks, with its sentences paired: the drafts of its changes."""

    old: Sequence[Block]
    new: Sequence[Block]
    pairs: list[UnitPair]


def block_runs(old: Sequence[Block], new: Sequence[Block], cls: Classifier) -> list[Run]:
    """The runs of blocks that differ, looking at sentences only there."""
    head, tail = common_ends(old, new, lambda a, b: a.text == b.text and a.links == b.links)
    old, new = old[head : len(old) - tail], new[head : len(new) - tail]
    return [
        _run(old[i1:i2], new[j1:j2], cls)
        for op, i1, i2, j1, j2 in opcodes(
            [block_body(b) for b in old], [block_body(b) for b in new]
        )
        if op != "equal"
    ]


def _run(old: Sequence[Block], new: Sequence[Block], cls: Classifier) -> Run:
    """One run of differing blocks, its sentences paired: reworded, added or removed."""
    old_texts, old_blocks = _sentences_of(old, cls.split)
    new_texts, new_blocks = _sentences_of(new, cls.split)
    head, tail = common_ends(old_texts, new_texts, eq)
    old_end, new_end = len(old_texts) - tail, len(new_texts) - tail
    old_units = list(map(cls.unit, old_texts[head:old_end], old_blocks[head:old_end]))
    new_units = list(map(cls.unit, new_texts[head:new_end], new_blocks[head:new_end]))
    pairs: list[UnitPair] = []
    for op, i1, i2, j1, j2 in opcodes([u.key for u in old_units], [u.key for u in new_units]):
        if op == "equal":
            pairs.extend(
                (a, b)
                for a, b in zip(old_units[i1:i2], new_units[j1:j2], strict=True)
                if a.text != b.text
            )
        else:
            pairs.extend(_pair_sentences(old_units[i1:i2], new_units[j1:j2]))
    return Run(old, new, pairs)


def run_changes(
    path: tuple[str, ...], runs: Sequence[Run], changes: list[Change], cls: Classifier
) -> list[Change]:
    """A section's changes, links and moves added; `changes` are its runs' pairs, classified."""
    result: list[Change] = []
    start = 0
    for run in runs:
        end = start + len(run.pairs)
        result.extend(_attach_links(path, run.old, run.new, run.pairs, changes[start:end], cls))
        start = end
    return _tag_moves(result, cls)


def _sentences_of(
    blocks: Sequence[Block], split: Callable[[str], list[str]]
) -> tuple[list[str], list[Block]]:
    """The blocks' sentences in order, and the block of each.

    Two flat lists rather than a (sentence, block) pair each: the untouched
    sentences at both ends are compared as plain strings, and a diff makes no
    tuple for each of the hundreds of sentences it only looks at.
    """
    texts: list[str] = []
    owners: list[Block] = []
    for block in blocks:
        sentences = _sentences(block, split)
        texts += sentences
        owners += [block] * len(sentences)
    return texts, owners


def _sentences(block: Block, split: Callable[[str], list[str]]) -> list[str]:
    """The block's sentences; a leading "1." or "(a)" stays with the first, not one of its own."""
    enumerator, rest = split_enumerator(block.text)
    sentences = split(rest)
    if enumerator and sentences:
        sentences[0] = enumerator + sentences[0]
    return sentences


# Pairs of equal items (each item of one side against each equal one of the other) past
# which SequenceMatcher's exact matching takes cubic time: a page repeating one sentence
# 2,000 times took 98 s to diff. A real policy repeats a sentence a few times; past this
# (some 300 repeats a side) the most repeated items only extend matches (autojunk), and
# if the rest still pair past it, the run is one replacement, whose sentences are then
# paired within MAX_PAIRING_CELLS like any other's.
MAX_EQUAL_PAIRS = 100_000


Opcode = tuple[str, int, int, int, int]


def opcodes(old: Sequence[Hashable], new: Sequence[Hashable]) -> list[Opcode]:
    """SequenceMatcher opcodes, without building a matcher for the usual edits in place,
    in work bounded by MAX_EQUAL_PAIRS."""
    if len(old) == len(new) == 1:  # one block or sentence for one, the commonest edit
        return [("equal" if old[0] == new[0] else "replace", 0, 1, 0, 1)]
    if len(old) == len(new):
        where = {item: i for i, item in enumerate(old)}
        if len(where) == len(old) and all(where.get(item, j) == j for j, item in enumerate(new)):
            # Nothing inserted, deleted or moved: an item found on both sides is at the same
            # index, so SequenceMatcher would match exactly the runs of equal items.
            return _in_place_opcodes(old, new)
    if old and new:
        crowded = len(old) * len(new) > MAX_EQUAL_PAIRS and _equal_pairs(old, new) > MAX_EQUAL_PAIRS
        if crowded and _equal_pairs(old, new, popular_too=False) > MAX_EQUAL_PAIRS:
            return [("replace", 0, len(old), 0, len(new))]
        # Crowded, the items repeated most (a table's "Yes" cells) only extend the matches
        # the others anchor, as SequenceMatcher's autojunk has them do.
        return SequenceMatcher(None, old, new, autojunk=crowded).get_opcodes()
    return [("delete" if old else "insert", 0, len(old), 0, len(new))]


def _equal_pairs(
    old: Sequence[Hashable], new: Sequence[Hashable], *, popular_too: bool = True
) -> int:
    """Pairs of equal items; without `popular_too`, those autojunk leaves to match."""
    counts = Counter(new)
    most = len(new) if popular_too or len(new) < 200 else len(new) // 100 + 1
    return sum(counts[item] for item in old if counts[item] <= most)


def _in_place_opcodes(old: Sequence[Hashable], new: Sequence[Hashable]) -> list[Opcode]:
    """Opcodes of two lists of one length: runs of equal items and of replaced ones."""
    runs: list[Opcode] = []
    start = 0
    for same, run in groupby(map(eq, old, new)):
        end = start + sum(1 for _ in run)
        runs.append(("equal" if same else "replace", start, end, start, end))
        start = end
    return runs


def _pair_sentences(old: Sequence[Unit], new: Sequence[Unit]) -> list[UnitPair]:
    """Pair reworded sentences in order (best total similarity); the rest are added/removed."""
    n, m = len(old), len(new)
    if not n or not m or n * m > MAX_PAIRING_CELLS:
        return [(a, None) for a in old] + [(None, b) for b in new]
    if n == m == 1:  # one sentence reworded (or replaced): the usual edit, no table needed
        if _similarity(old[0].bag, new[0].bag):
            return [(old[0], new[0])]
        return [(old[0], None), (None, new[0])]
    score = [[_similarity(a.bag, b.bag) for b in new] for a in old]
    # best[i][j]: the highest total similarity pairing old[i:] with new[j:] in order.
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below, scores = best[i], best[i + 1], score[i]  # this loop runs n * m times
        for j in range(m - 1, -1, -1):
            paired = below[j + 1] + scores[j] if scores[j] else 0.0
            row[j] = max(below[j], row[j + 1], paired)
    pairs: list[UnitPair] = []
    i = j = 0
    while i < n and j < m:
        if score[i][j] and best[i][j] == best[i + 1][j + 1] + score[i][j]:
            pairs.append((old[i], new[j]))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            pairs.append((old[i], None))
            i += 1
        else:
            pairs.append((None, new[j]))
            j += 1
    pairs.extend((a, None) for a in old[i:])
    pairs.extend((None, b) for b in new[j:])
    return pairs


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of words two sentences have in common (Dice); 0 below the pairing threshold.

    Word order is left out on purpose: it is cheap, and a reworded sentence keeps
    most of its words whatever it does with their order.
    """
    if not a or not b:
        return 0.0
    ratio = 2 * len(a & b) / (len(a) + len(b))
    return ratio if ratio >= SENTENCE_SIMILARITY else 0.0


def _attach_links(
    path: tuple[str, ...],
    old: Sequence[Block],
    new: Sequence[Block],
    pairs: Sequence[UnitPair],
    changes: list[Change],
    cls: Classifier,
) -> list[Change]:
    """Tag the changes whose blocks lost or gained a link target; report leftovers on their own.

    Links belong to blocks, not sentences. A changed link goes with a changed
    sentence of its block, preferring a wholly added or removed sentence, and the
    last one ("... see here."); when no words around it changed, the link change
    is reported as a change of its block. Where the words read the same (a form
    moved, a locale segment), the change is `link-only`: recorded and shown, but
    not substantive; only rules that opted in (`links: alert`) match it.
    """
    if not any(block.links for block in (*old, *new)):  # the usual edit: no link near it
        return changes
    old_targets, new_targets = _links(old), _links(new)
    removed = [target for target in old_targets if target not in new_targets]
    added = [target for target in new_targets if target not in old_targets]
    if not removed and not added:
        return changes
    lost: dict[int, list[str]] = {}
    gained: dict[int, list[str]] = {}
    lost_elsewhere = _assign_links(removed, [a for a, _ in pairs], changes, lost)
    gained_elsewhere = _assign_links(added, [b for _, b in pairs], changes, gained)
    result = [
        _with_links(
            change, lost.get(k, ()), gained.get(k, ()), cls.matches(*pairs[k], links_only=True)
        )
        if k in lost or k in gained
        else change
        for k, change in enumerate(changes)
    ]
    if lost_elsewhere or gained_elsewhere:
        old_block = next((b for b in old if set(b.links) & set(lost_elsewhere)), None)
        new_block = next((b for b in new if set(b.links) & set(gained_elsewhere)), None)
        old_block = old_block or _same_text(new_block, old)
        new_block = new_block or _same_text(old_block, new)
        old_unit = cls.unit(old_block.text, old_block) if old_block else None
        new_unit = cls.unit(new_block.text, new_block) if new_block else None
        old_text = old_block.text if old_block else None
        new_text = new_block.text if new_block else None
        block_change = Change(
            change_kind(old_text, new_text),
            path,
            old_text,
            new_text,
            inline_fragments(old_text or "", new_text or ""),
            old_unit is None or new_unit is None or not is_cosmetic(old_unit, new_unit),
        )
        matches = cls.matches(old_unit, new_unit, links_only=True)
        result.append(_with_links(block_change, lost_elsewhere, gained_elsewhere, matches))
    return result


def _with_links(
    change: Change, removed: Sequence[str], added: Sequence[str], link_matches: Sequence[RuleMatch]
) -> Change:
    """`change` with the link targets it lost and gained; words unchanged make it `link-only`."""
    tags = (*(t for t in change.tags if t != "cosmetic-only"), "link")
    if change.substantive:
        return replace(change, tags=tags, links_removed=tuple(removed), links_added=tuple(added))
    return replace(
        change,
        tags=(*tags, "link-only"),
        matches=tuple(link_matches),
        links_removed=tuple(removed),
        links_added=tuple(added),
    )


def _assign_links(
    links: Sequence[str],
    units: Sequence[Unit | None],
    changes: Sequence[Change],
    owners: dict[int, list[str]],
) -> list[str]:
    """Give each link to a change whose sentence's block holds it; return the links none holds."""
    unowned = []
    for link in links:
        holders = [k for k, unit in enumerate(units) if unit and link in unit.block.links]
        if holders:
            owner = max(holders, key=lambda k: (changes[k].kind != "modified", k))
            owners.setdefault(owner, []).append(link)
        else:
            unowned.append(link)
    return unowned


def _links(blocks: Sequence[Block]) -> dict[str, None]:
    """Link targets of `blocks`, once each, in order (a dict keeps order and tests fast)."""
    return dict.fromkeys(link for block in blocks for link in block.links)


def _same_text(block: Block | None, blocks: Sequence[Block]) -> Block | None:
    """The block of `blocks` with the same words as `block`: where a link changed in place."""
    if block is None:
        return None
    return next((b for b in blocks if b.text == block.text), None)


def _tag_moves(changes: list[Change], cls: Classifier) -> list[Change]:
    """Mark a sentence removed in one place and added back elsewhere in the same section.

    It stays substantive: moving a bullet from under "You may" to under "You may
    not" changes its meaning, so a move is shown, never silently dropped.
    """
    kinds = {c.kind for c in changes}
    if "removed" not in kinds or "added" not in kinds:
        return changes
    removed = Counter(cls.plain_key(c.old) for c in changes if c.kind == "removed" and c.old)
    added = Counter(cls.plain_key(c.new) for c in changes if c.kind == "added" and c.new)
    moved = {key for key in removed & added if key}
    if not moved:
        return changes
    return [
        replace(change, tags=(*change.tags, "moved"))
        if change.kind != "modified" and cls.plain_key(change.old or change.new or "") in moved
        else change
        for change in changes
    ]


def block_body(block: Block) -> tuple[str, tuple[str, ...]]:
    """What a reader sees in a block, whatever kind of block it is."""
    return block.text, block.links
