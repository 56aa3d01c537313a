"""The word-level inline diff of one reworded sentence, cleaned up to read as whole-word edits."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import eq
from typing import TypeVar

from diff_match_patch import diff_match_patch

from policywatch.models import (
    Fragment,
    FragmentOp,
)

# --------------------------------------------------------------------------- inline diff

# Japanese and Chinese run words together: each of their characters is a token of its own.
_INLINE_TOKEN_RE = re.compile(r"[^\W\u3040-\u30ff\u3400-\u9fff]+|\w|\s+|[^\w\s]")
_FRAGMENT_OPS: dict[int, FragmentOp] = {0: "equal", 1: "insert", -1: "delete"}
# Its methods keep no state between calls, so one engine serves every diff.
_ENGINE = diff_match_patch()
_ENGINE.Diff_Timeout = 0  # no time limit: the same input must always give the same diff
# The most tokens (words, runs of spaces, marks: both sides together) one inline diff
# compares word by word; past it, the stretch from the first to the last changed word is
# shown replaced whole. With no time limit, only size bounds diff-match-patch's work, which
# grows with the tokens times the tokens changed: a page's one 40,000-word paragraph took
# half a minute. 2,000 is about 500 words a side, twice the longest sentence of the real
# corpus (496 tokens a side), and about a quarter of a second at worst (every word
# changed). It also keeps a diff's distinct tokens far inside what `engine_diff` has
# characters for.
MAX_INLINE_TOKENS = 2000


def inline_fragments(old: str, new: str) -> tuple[Fragment, ...]:
    """Word-level diff of two sentences, cleaned up so it reads as whole-word edits.

    diff-match-patch works on characters; mapping each word (and each run of
    spaces or punctuation mark) to one private character, as its linesToChars
    does for lines, makes it diff words, and diff_cleanupSemantic then merges
    scattered small edits into phrases a reader can follow. Words shared at both
    ends are cut off first: they are equal whatever the middle does. A text added
    or removed whole (the other side empty) is one fragment.
    """
    if not old or not new:
        return tuple(Fragment(op, text) for op, text in (("delete", old), ("insert", new)) if text)
    head = _ENGINE.diff_commonPrefix(old, new)
    if head < max(len(old), len(new)):
        head = old.rfind(" ", 0, head) + 1
    rest_old, rest_new = old[head:], new[head:]
    tail = _ENGINE.diff_commonSuffix(rest_old, rest_new)
    start = rest_old.find(" ", len(rest_old) - tail) if tail else -1
    tail = len(rest_old) - start if start >= 0 else 0
    old_middle, new_middle = rest_old[: len(rest_old) - tail], rest_new[: len(rest_new) - tail]
    middle: list[tuple[FragmentOp, str]]
    if old_middle and new_middle:
        middle = _word_diff(old_middle, new_middle)
    else:  # words only inserted or only deleted: what diff-match-patch would say, without it
        middle = [("delete", old_middle), ("insert", new_middle)]
    fragments: list[Fragment] = []
    for op, text in [("equal", old[:head]), *middle, ("equal", rest_old[len(rest_old) - tail :])]:
        if not text:
            continue
        if fragments and fragments[-1].op == op:
            text = fragments.pop().text + text
        fragments.append(Fragment(op, text))
    return tuple(fragments)


def _word_diff(old: str, new: str) -> list[tuple[FragmentOp, str]]:
    """Two texts diffed word by word: directly where that is exact, else by diff-match-patch.

    Past MAX_INLINE_TOKENS they are one replacement, as for texts with no word in common.
    """
    old_tokens = _INLINE_TOKEN_RE.findall(old)
    new_tokens = _INLINE_TOKEN_RE.findall(new)
    if len(old_tokens) + len(new_tokens) > MAX_INLINE_TOKENS:
        return [("delete", old), ("insert", new)]
    return plain_edit(old_tokens, new_tokens) or engine_diff(old_tokens, new_tokens)


def engine_diff(old_tokens: list[str], new_tokens: list[str]) -> list[tuple[FragmentOp, str]]:
    """diff-match-patch over words: each distinct token becomes one character.

    There are characters for 131,072 distinct tokens; `_word_diff` never gives it more
    than MAX_INLINE_TOKENS tokens.
    """
    words = list(dict.fromkeys(old_tokens + new_tokens))
    # One private-use character per distinct word; past U+F8FF, skip to a plane with no surrogates.
    chars = {w: chr(0xE000 + i if i < 0x1900 else 0xF0000 + i) for i, w in enumerate(words)}
    back = {c: w for w, c in chars.items()}
    diffs = _ENGINE.diff_main(
        "".join(map(chars.__getitem__, old_tokens)),
        "".join(map(chars.__getitem__, new_tokens)),
        False,
    )
    _ENGINE.diff_cleanupSemantic(diffs)
    return [(_FRAGMENT_OPS[op], "".join(map(back.__getitem__, text))) for op, text in diffs]


_Part = tuple[FragmentOp, list[str]]


def plain_edit(old_tokens: list[str], new_tokens: list[str]) -> list[tuple[FragmentOp, str]] | None:
    """`engine_diff` for the commonest edits, worked out without diff-match-patch; else None.

    Its own work on a short sentence costs several times the rest of an inline diff.
    Between the words shared at both ends, it reports these edits as they are:
    - words only added, or only removed ("may" -> "may not");
    - words replaced by words none of which were there ("30" -> "14");
    - the old words kept whole with words added on both sides ("your ... today"), or
      the new ones with words removed on both sides.
    Its clean-ups change that answer only where an edit between kept words ends
    with the kept words before it or starts with those after it (the edit slides
    along; refused here, more often than needed, whenever a word repeats across an
    edit's edge), or where the words kept between two edits are no longer than the
    edits on both sides (they are folded into them). None then, and for any other
    edit. The two lists must differ: an empty edit has no edge to compare.
    """
    head, tail = common_ends(old_tokens, new_tokens, eq)
    before, after = old_tokens[:head], old_tokens[len(old_tokens) - tail :]
    old_middle = old_tokens[head : len(old_tokens) - tail]
    new_middle = new_tokens[head : len(new_tokens) - tail]
    edits: list[_Part] | None
    if not old_middle or not new_middle:
        edits = [("delete" if old_middle else "insert", old_middle or new_middle)]
    elif set(old_middle).isdisjoint(new_middle):
        edits = [("delete", old_middle), ("insert", new_middle)]
    else:
        edits = _kept_inside(old_middle, new_middle)
    if edits is None:
        return None
    parts: list[_Part] = [("equal", before), *edits, ("equal", after)]
    if _slides(parts):
        return None
    return [(kind, "".join(tokens)) for kind, tokens in parts if tokens]


def _kept_inside(old: list[str], new: list[str]) -> list[_Part] | None:
    """The shorter side found whole in the longer, where diff-match-patch finds it (first).

    None when it is not there, or when it is no longer than the words around it on
    both sides: diff-match-patch would fold it into them.
    """
    if len(old) == len(new):
        return None
    op: FragmentOp = "insert" if len(old) < len(new) else "delete"
    short, long = (old, new) if op == "insert" else (new, old)
    size = len(short)
    for i in range(len(long) - size + 1):
        if long[i] == short[0] and long[i : i + size] == short:
            left, right = long[:i], long[i + size :]
            if size <= len(left) and size <= len(right):
                return None
            return [(op, left), ("equal", short), (op, right)]
    return None


def _slides(parts: list[_Part]) -> bool:
    """Whether an edit between kept words starts with the word after it or ends with the one
    before it: diff-match-patch's clean-ups would slide it along."""
    triples = zip(parts, parts[1:], parts[2:], strict=False)
    return any(
        kind != "equal"
        and left_kind == right_kind == "equal"
        and ((left and left[-1] == edit[-1]) or (right and right[0] == edit[0]))
        for (left_kind, left), (kind, edit), (right_kind, right) in triples
    )


_T = TypeVar("_T")


def common_ends(
    old: Sequence[_T], new: Sequence[_T], same: Callable[[_T, _T], bool]
) -> tuple[int, int]:
    """How many items at the start and at the end of both lists are the same.

    Most edits touch a sentence or two, so cutting off the untouched ends first
    keeps the costlier alignment (and sentence folding) to the part that changed.
    """
    limit = min(len(old), len(new))
    head = 0
    while head < limit and same(old[head], new[head]):
        head += 1
    tail = 0
    while tail < limit - head and same(old[-1 - tail], new[-1 - tail]):
        tail += 1
    return head, tail
