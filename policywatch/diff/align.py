"""Aligning sections: which old section became which new one (kept, moved, renamed, split),
and each section's plan: what differs in it, waiting for the page's changes to be classified."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from policywatch.content import Block, Section
from policywatch.diff.classify import Classifier, Draft, UnitPair
from policywatch.diff.sentences import MAX_PAIRING_CELLS, Run, block_runs, run_changes
from policywatch.diff.signals import fold
from policywatch.document.normalize import split_enumerator
from policywatch.models import Change, SectionChange, SectionChangeKind, section_path

# A section whose blocks are at least this similar to an unmatched one elsewhere
# is the same section under a new heading (renamed and edited), not removed + added.
SECTION_SIMILARITY = 0.6


# --------------------------------------------------------------------------- sections


class Alignment:
    """Which old section became which new one, found in passes from surest to loosest.

    Passes repeat until nothing new pairs up, because pairing a renamed parent
    lets its children be found under the parent's new path on the next pass.
    """

    def __init__(self, old: Sequence[Section], new: Sequence[Section]) -> None:
        self.old, self.new = old, new
        self.pairs: dict[int, int] = {}  # old index -> new index
        self.taken: set[int] = set()
        self.renames: dict[tuple[str, ...], tuple[str, ...]] = {}  # old path -> new path
        self._folded: dict[str, str] = {}  # heading -> its fold: most headings are on both sides
        roots_old, roots_new = {s.path[:1] for s in old}, {s.path[:1] for s in new}
        if len(roots_old) == len(roots_new) == 1 and roots_old != roots_new:
            # A retitled page: every path starts with the title, so map the title first.
            self.renames[roots_old.pop()] = roots_new.pop()
        steps = (self._by_path, self._by_body, self._by_children, self._by_similarity)
        found = -1
        while found != len(self.pairs):
            found = len(self.pairs)
            for step in steps:
                old_free = [i for i in range(len(old)) if i not in self.pairs]
                new_free = [j for j in range(len(new)) if j not in self.taken]
                if not old_free or not new_free:
                    return
                step(old_free, new_free)

    def translate(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """Where `path` would be in the new document if only its ancestors were renamed."""
        for cut in range(len(path) - 1, 0, -1):
            renamed = self.renames.get(path[:cut])
            if renamed is not None:
                return renamed + path[cut:]
        return path

    def _pair(self, i: int, j: int) -> None:
        self.pairs[i] = j
        self.taken.add(j)
        self.renames.setdefault(self.old[i].path, self.new[j].path)

    def _pick(self, i: int, candidates: list[int]) -> int:
        """Among equally good candidates, prefer the same heading, then document order."""
        heading = self.old[i].heading
        return min(candidates, key=lambda j: (self.new[j].heading != heading, j))

    def _by_path(self, old_free: list[int], new_free: list[int]) -> None:
        """Same headings, even if they gained a "1." or "(a)", capitals or a full stop."""
        by_path: dict[tuple[str, ...], list[int]] = {}
        for j in new_free:
            by_path.setdefault(self._plain_path(self.new[j].path), []).append(j)
        for i in old_free:
            path = self.old[i].path
            # renames already names the new path of a retitled page's root section (even ())
            renamed = self.renames.get(path)
            if renamed is None:
                renamed = self.translate(path)
            candidates = by_path.get(self._plain_path(renamed))
            if candidates:
                self._pair(i, candidates.pop(0))

    def _plain_path(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """A section's identity: its headings' words, whatever their numbering, case or stops."""
        folded = self._folded
        for heading in path:
            if heading not in folded:
                folded[heading] = fold(split_enumerator(heading)[1])
        return tuple(map(folded.__getitem__, path))

    def _by_body(self, old_free: list[int], new_free: list[int]) -> None:
        by_body: dict[tuple[tuple[str, tuple[str, ...]], ...], list[int]] = {}
        for j in new_free:
            if self.new[j].blocks:
                by_body.setdefault(tuple(map(_plain_body, self.new[j].blocks)), []).append(j)
        for i in old_free:
            body = tuple(map(_plain_body, self.old[i].blocks))
            candidates = by_body.get(body) if body else None
            if candidates:
                j = self._pick(i, candidates)
                candidates.remove(j)
                self._pair(i, j)

    def _by_children(self, old_free: list[int], new_free: list[int]) -> None:
        """Pair heading-only sections (parents of others) that head the same subsections."""
        old_children, new_children = _children(self.old), _children(self.new)
        for i in old_free:
            kids = old_children.get(self.old[i].path)
            if self.old[i].blocks or not kids:
                continue
            candidates = [
                j
                for j in new_free
                if j not in self.taken
                and not self.new[j].blocks
                and new_children.get(self.new[j].path) == kids
            ]
            if candidates:
                self._pair(i, self._pick(i, candidates))

    def _by_similarity(self, old_free: list[int], new_free: list[int]) -> None:
        if len(old_free) * len(new_free) > MAX_PAIRING_CELLS:
            return  # a page rebuilt from scratch: reporting removed + added is the honest view
        new_bodies = {j: Counter(_plain_body(b)[0] for b in self.new[j].blocks) for j in new_free}
        for i in old_free:
            if not self.old[i].blocks:
                continue
            body = Counter(_plain_body(b)[0] for b in self.old[i].blocks)
            size = len(self.old[i].blocks)
            scored = [
                (2 * (body & new_bodies[j]).total() / (size + len(self.new[j].blocks)), j)
                for j in new_free
                if j not in self.taken and self.new[j].blocks
            ]
            best = max((score for score, _ in scored), default=0.0)
            if best >= SECTION_SIMILARITY:
                self._pair(i, self._pick(i, [j for score, j in scored if score == best]))


def _plain_body(block: Block) -> tuple[str, tuple[str, ...]]:
    """A block as alignment compares it: a list enumerator moving into or out of it is no edit."""
    return split_enumerator(block.text)[1], block.links


def _children(sections: Sequence[Section]) -> dict[tuple[str, ...], tuple[str, ...]]:
    children: dict[tuple[str, ...], list[str]] = {}
    for section in sections:
        if len(section.path) > 1:
            children.setdefault(section.path[:-1], []).append(section.heading)
    return {path: tuple(headings) for path, headings in children.items()}


def kept_in_place(pairs: dict[int, int]) -> set[int]:
    """Old indices of the largest set of paired sections whose relative order did not change."""
    olds = [i for i, _ in sorted(pairs.items(), key=lambda pair: pair[1])]
    tail_values: list[int] = []
    tails: list[int] = []
    previous = [-1] * len(olds)
    for k, value in enumerate(olds):
        pos = bisect_left(tail_values, value)
        if pos == len(tail_values):
            tail_values.append(value)
            tails.append(k)
        else:
            tail_values[pos] = value
            tails[pos] = k
        previous[k] = tails[pos - 1] if pos else -1
    kept: set[int] = set()
    k = tails[-1] if tails else -1
    while k != -1:
        kept.add(olds[k])
        k = previous[k]
    return kept


@dataclass(slots=True)
class SectionPlan:
    """A section's entry in the diff, before its changes are classified with the whole page's.

    `kind` None is "modified" or "unchanged", whichever its changes say.
    """

    kind: SectionChangeKind | None
    old_path: tuple[str, ...] | None
    new_path: tuple[str, ...] | None
    runs: list[Run]
    heading: UnitPair | None = None  # a renamed section's old and new heading

    @property
    def path(self) -> tuple[str, ...]:
        """Where its changes are (see models.section_path)."""
        return section_path(self.old_path, self.new_path)

    def drafts(self) -> list[Draft]:
        """Its changes to classify: a new heading first, then its runs' pairs, as `finish` reads."""
        path = self.path
        heading = [Draft(path, *self.heading, ("heading",))] if self.heading else []
        return heading + [Draft(path, a, b) for run in self.runs for a, b in run.pairs]

    def finish(self, changes: list[Change], cls: Classifier) -> SectionChange:
        """The SectionChange, from the Changes of its `drafts`, in the same order."""
        heading, rest = (changes[:1], changes[1:]) if self.heading else ([], changes)
        body = run_changes(self.path, self.runs, rest, cls)
        kind = self.kind or ("modified" if body else "unchanged")
        return SectionChange(kind, self.old_path, self.new_path, (*heading, *body))


def plan_section(old: Section, new: Section, in_place: bool, cls: Classifier) -> SectionPlan:
    """The plan of one paired section: renamed, moved, modified or unchanged."""
    # Same path: the digests tell. Otherwise the digest covers the path too; compare blocks.
    same_body = old.digest == new.digest if old.path == new.path else old.blocks == new.blocks
    runs = [] if same_body else block_runs(old.blocks, new.blocks, cls)
    if old.heading != new.heading:
        heading = (
            cls.unit(old.heading, Block("h", old.heading)),
            cls.unit(new.heading, Block("h", new.heading)),
        )
        return SectionPlan("renamed", old.path, new.path, runs, heading)
    return SectionPlan(None if in_place else "moved", old.path, new.path, runs)
