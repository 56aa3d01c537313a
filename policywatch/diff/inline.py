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


def inline_fragments(old: str, new: str) -> tuple[Fragment, ...]:
    """Word-level diff of two sentences, cleaned up so it reads as whole-word edits.

    diff-match-patch works on characters; mapping each word (and each run of
    spaces or punctuation mark) to one private character, as its linesToChars
    does for lines, makes it diff words, and diff_cleanupSemantic then merges
    scattered small edits into phrases a reader can follow. Words shared at both
    ends are cut off first: they are equal whatever the middle does.
    """
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
    """diff-match-patch over words: each distinct token becomes one character."""
    old_tokens = _INLINE_TOKEN_RE.findall(old)
    new_tokens = _INLINE_TOKEN_RE.findall(new)
    edit = _one_sided_edit(old_tokens, new_tokens)
    if edit is not None:
        return edit
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


def _one_sided_edit(
    old_tokens: list[str], new_tokens: list[str]
) -> list[tuple[FragmentOp, str]] | None:
    """diff-match-patch's answer when, between shared words, words were only added or removed.

    It trims the shared ends and reports the rest as one insertion (or deletion);
    its clean-ups would slide that edit along only if its last word repeats the
    one before it or its first word the one after it. None in those cases and
    when both sides changed: then diff-match-patch must do the work.
    """
    head, tail = common_ends(old_tokens, new_tokens, eq)
    old_middle = old_tokens[head : len(old_tokens) - tail]
    new_middle = new_tokens[head : len(new_tokens) - tail]
    if old_middle and new_middle:
        return None
    middle = old_middle or new_middle
    before, after = old_tokens[:head], old_tokens[len(old_tokens) - tail :]
    if (before and before[-1] == middle[-1]) or (after and after[0] == middle[0]):
        return None
    op: FragmentOp = "delete" if old_middle else "insert"
    parts: list[tuple[FragmentOp, list[str]]] = [("equal", before), (op, middle), ("equal", after)]
    return [(kind, "".join(tokens)) for kind, tokens in parts if tokens]


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
