"""What one change amounts to, in a few fields: the rows of the overview, timeline and feeds.

Diffing two versions costs milliseconds; a timeline over 100,000 versions cannot diff on every
request, nor on the first. So a change is listed from its two versions alone (when, which
page, which marketplace) and what it says (severity, sections, first sentence, terms, flips,
numbers) is worked out the first time a page shows it. That depends only on the two
documents and the watched terms, so it is cached in memory by their digests (a rederive gives
new digests, so it cannot go stale) and `serve` never writes one to the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from policywatch.content import Snapshot
from policywatch.diff.rows import is_shown, section_views
from policywatch.history.store import Store
from policywatch.models import Change, DiffResult, Rule, SectionChange, Severity
from policywatch.watchlist.rules import severity

# Tags read first on a change page: a flipped obligation or a changed number or time limit.
FIRST_TAGS = ("obligation", "number")

SEVERITIES = tuple(sorted(Severity, reverse=True))  # the most severe first


@dataclass(frozen=True, slots=True)
class Gist:
    """What a change says, from its diff."""

    severity: str | None  # "critical" | "major" | "minor" | None (cosmetic only)
    sections: tuple[str, ...]  # labels of changed sections, page order
    first: str  # the first changed sentence as it reads now (or as it read, if removed)
    terms: tuple[str, ...]  # watched terms hit
    flips: int  # changes that flip an obligation ("may" -> "must not")
    numbers: int  # changes to a number, amount or time limit
    by_severity: tuple[tuple[str, int], ...]  # ("critical", 2), ... loudest first


class ChangeSummary:
    """One recorded change: the versions either side, and its gist once someone asks."""

    __slots__ = ("_gist", "_source", "new", "old", "page_id")

    def __init__(self, old: Snapshot, new: Snapshot, source: Callable[[], Gist]) -> None:
        self.page_id, self.old, self.new = new.page_id, old, new
        self._source = source
        self._gist: Gist | None = None

    @property
    def gist(self) -> Gist:
        if self._gist is None:
            self._gist = self._source()
        return self._gist

    severity = property(lambda self: self.gist.severity)
    sections = property(lambda self: self.gist.sections)
    first = property(lambda self: self.gist.first)
    terms = property(lambda self: self.gist.terms)
    flips = property(lambda self: self.gist.flips)
    numbers = property(lambda self: self.gist.numbers)
    by_severity = property(lambda self: self.gist.by_severity)

    @property
    def at(self) -> str:
        return self.new.captured_at

    @property
    def marketplace(self) -> str | None:
        return self.new.marketplace

    @property
    def stated(self) -> str | None:
        """The date the page itself states ("Last updated ..."), if it says one."""
        return self.new.metadata.get("last_updated")


def change_level(change: Change, section: SectionChange) -> Severity | None:
    """One change's severity, by the same rule the alert uses for the whole diff."""
    one = SectionChange(section.kind, section.old_path, section.new_path, (change,))
    return severity(DiffResult("", "", "", (one,)))


def gist(diff: DiffResult) -> Gist:
    shown = [(c, s) for s in diff.sections for c in s.changes if is_shown(c)]
    levels = Counter(change_level(c, s) for c, s in shown)
    level = severity(diff)
    views = section_views(diff, 0, False, None, None)
    return Gist(
        severity=str(level) if level is not None else None,
        sections=tuple(dict.fromkeys(v.section.label for v in views)),
        first=next((c.new or c.old or "" for c, _ in shown), ""),
        terms=tuple(dict.fromkeys(m.term for c, _ in shown for m in c.matches)),
        flips=sum(1 for c, _ in shown if "obligation" in c.tags),
        numbers=sum(1 for c, _ in shown if "number" in c.tags),
        by_severity=tuple((str(lv), levels[lv]) for lv in SEVERITIES if levels.get(lv)),
    )


class Summaries:
    """Gists computed once per pair of contents and kept for the life of the process."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, tuple[Rule, ...]], Gist] = {}

    def pairs(
        self, store: Store, versions: Iterable[Snapshot], rules: tuple[Rule, ...]
    ) -> list[ChangeSummary]:
        """A change for each version after the first, compared with the one before it."""
        out: list[ChangeSummary] = []
        before: Snapshot | None = None
        for snap in versions:
            if before is not None and before.digest != snap.digest:
                out.append(self.one(store, before, snap, rules))
            before = snap
        return out

    def one(
        self, store: Store, old: Snapshot, new: Snapshot, rules: tuple[Rule, ...]
    ) -> ChangeSummary:
        def source() -> Gist:
            key = (old.digest, new.digest, rules)
            known = self._known.get(key)
            if known is None:
                known = self._known[key] = gist(store.diff(old, new, rules))
            return known

        return ChangeSummary(old, new, source)
