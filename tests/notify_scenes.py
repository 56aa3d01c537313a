"""Real policy changes for the alert tests, made the way policywatch makes them.

Each scene edits the Seller Central-like fixture page, extracts both versions,
diffs them and rates the diff with the shipped rules, so the alerts under test
are built from exactly what the pipeline would hand them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from policywatch.content import Document, Snapshot
from policywatch.diff.compare import diff_documents
from policywatch.document.extract import extract_document
from policywatch.history.records import new_snapshot_id
from policywatch.models import DiffResult, PageSpec, Severity
from policywatch.watchlist.rules import DEFAULT_RULES, severity
from tests.pageserver import fixture, fresh_noise

CONDUCT = PageSpec(
    id="seller-code-of-conduct",
    url="https://sellercentral.amazon.com/help/hub/reference/external/G1801?locale=en-US",
    title="Seller Code of Conduct",
    select="#full-help-page",
    remove=("[hidden]", ".hh-scroll-to-top-box"),
)

UNSOLICITED = "You may not send unsolicited or inappropriate messages."


@dataclass(frozen=True)
class Scene:
    page: PageSpec
    diff: DiffResult
    severity: Severity
    old: Snapshot
    new: Snapshot


def snapshot(page: PageSpec, doc: Document, captured_at: str) -> Snapshot:
    return Snapshot(
        id=new_snapshot_id(page.id, doc.digest, captured_at),
        page_id=page.id,
        digest=doc.digest,
        captured_at=captured_at,
        last_seen_at=captured_at,
        url=page.url,
        raw_key="",
        doc_key="",
        title=doc.title,
        marketplace=page.marketplace,
    )


def conduct_change(
    *edits: tuple[str, str], page: PageSpec = CONDUCT, setup: Sequence[tuple[str, str]] = ()
) -> Scene:
    """The fixture page before and after `edits` (old HTML, new HTML), diffed and rated;
    `setup` edits both versions first."""
    before = fresh_noise(fixture("conduct-v1.html"))
    for old, new in setup:
        before = before.replace(old, new)
    after = before
    for old, new in edits:
        assert old in after, f"fixture lacks {old!r}"
        after = after.replace(old, new)
    old_doc = extract_document(before, page, page.url)
    new_doc = extract_document(after, page, page.url)
    old = snapshot(page, old_doc, "2026-11-01T08:00:00.000000Z")
    new = snapshot(page, new_doc, "2026-11-29T22:40:00.000000Z")
    diff = diff_documents(
        old_doc, new_doc, page_id=page.id, old_id=old.id, new_id=new.id, rules=DEFAULT_RULES
    )
    level = severity(diff)
    assert level is not None, "the edit is not a substantive change"
    return Scene(page, diff, level, old, new)


def many_changes(count: int, page: PageSpec = CONDUCT) -> Scene:
    """`count` new bullet points about buyer messages: more than any chat message holds."""
    bullets = "".join(
        f"<li>Rule {n}: you may not send unsolicited messages offering incentive number {n} "
        f"to buyers who have not asked for it, whatever the channel.</li>"
        for n in range(1, count + 1)
    )
    anchor = "<li>Not contact customers except through Buyer-Seller Messaging</li>"
    return conduct_change((anchor, anchor + bullets), page=page)


def in_marketplace(market: str) -> PageSpec:
    return replace(CONDUCT, id=f"{CONDUCT.id}@{market}", marketplace=market)
