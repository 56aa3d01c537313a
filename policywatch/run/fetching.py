"""Fetching a page within a check: which path (http or browser), conditional requests, and
whether what came back is the policy page at all (the gate, then extraction)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from policywatch.clock import parse_iso
from policywatch.content import Document, FetchResult, Recognise
from policywatch.document.extract import NotPolicy, extract_document, prepare
from policywatch.document.parse import parse_html
from policywatch.fetch import gate
from policywatch.fetch.marketplace import check_document
from policywatch.history.store import Store
from policywatch.models import Config, PageSpec

log = logging.getLogger("policywatch.pipeline")  # the name operators filter on

# A page read quickly is still read in full at least this often (see `may_read_quickly`).
FULL_READ_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Candidate:
    """A fetched page that passed the gate and extracted to a policy document."""

    result: FetchResult
    document: Document
    fingerprint: str


def fetch_path_of(store: Store, page: PageSpec) -> str:
    if page.fetch != "auto":
        return page.fetch
    return store.page_state(page.id).get("fetch_path", "http")


def conditional_job(store: Store, page: PageSpec) -> tuple[PageSpec, str | None, str | None]:
    """The http job for a page, with validators only when we hold a version to fall back on."""
    if store.latest(page.id) is None:
        return (page, None, None)
    state = store.page_state(page.id)
    return (page, state.get("etag"), state.get("last_modified"))


@dataclass(frozen=True)
class Known:
    """The version we held when the check started, its cleaned-body fingerprint, and when
    the browser last read the page in full (not quickly; see `may_read_quickly`)."""

    fingerprint: str | None = None
    snapshot_id: str | None = None
    read_in_full_at: str | None = None


def known_version(store: Store, page: PageSpec) -> Known:
    latest = store.latest(page.id)
    if latest is None:
        return Known()
    state = store.page_state(page.id)
    fingerprint = state.get("fingerprint") if state.get("fingerprint_of") == latest.id else None
    full = state.get("read_in_full_at")
    return Known(fingerprint, latest.id, full if isinstance(full, str) else None)


class BrowserPool:
    """Starts the headless browser only when a page needs it, and once per run."""

    def __init__(self, config: Config, browser: object | None) -> None:
        self._config = config
        self._browser = browser
        self._owned = False

    def fetch(self, page: PageSpec) -> FetchResult:
        return self._started().fetch(page)

    def fetch_each(
        self, pages: Sequence[PageSpec], recognise: Mapping[str, Recognise]
    ) -> Iterator[tuple[PageSpec, FetchResult]]:
        """Each page with its result as soon as it is read: the browser renders several at once.

        The pages `recognise` has a test for are first read quickly (BrowserFetcher.fetch_each).
        """
        if not pages:
            return iter(())
        return self._started().fetch_each(pages, recognise=recognise)

    def _started(self) -> Any:
        if self._browser is None:
            from policywatch.fetch.browser import BrowserFetcher

            self._browser = BrowserFetcher(self._config.defaults)
            self._owned = True
        return self._browser

    def close(self) -> None:
        if self._owned and self._browser is not None:
            self._browser.close()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Fetched:
    """A fetch and what reading it found: the policy, a reason it holds none, or None (same).

    None means "the same as the version `known` names". `by_browser` marks an
    `auto` page that only the browser could read; `confirmed` a loss of most
    sections that a second fetch saw too.
    """

    result: FetchResult
    verdict: Candidate | str | None
    known: Known = Known()
    by_browser: bool = False
    confirmed: bool = False


def read_fetch(page: PageSpec, result: FetchResult, known: Known) -> Fetched:
    """Parse and judge one fetched body; runs in the fetch worker, so it never raises."""
    try:
        return Fetched(result, accept(page, result, unchanged_if=known.fingerprint), known)
    except Exception as exc:  # the run must survive any single page
        log.exception("page=%s unexpected failure while reading the page", page.id)
        return Fetched(result, f"internal error while reading the page: {exc!r}", known)


def may_read_quickly(page: PageSpec, known: Known, now: datetime) -> bool:
    """Whether the browser may first read the page quickly: a version is held, and the next
    poll (one `interval` on) would come before FULL_READ_EVERY after the last full read.

    A quick read waits only a short quiet, so it can take the held article for the one a
    page swaps in a moment later; a full read at least daily bounds how long. Read in full
    one poll early, the day holds even when polls come a little early or late.
    """
    if known.fingerprint is None or known.read_in_full_at is None:
        return False
    try:
        age = now - parse_iso(known.read_in_full_at)
    except ValueError:
        return False
    # A clock set back (a full read in the future) reads in full too.
    return timedelta(0) <= age < FULL_READ_EVERY - timedelta(seconds=page.interval)


class PageReader:
    """Reads a check's fetches against the versions known when it began (`read_fetch`).

    It also gives the browser the test of each quick read (`tests`), run in the
    browser's worker threads, and keeps what that test parsed: a quick read taken as
    the version held is not parsed a second time when the check reads it.
    """

    def __init__(self, known: Mapping[str, Known]) -> None:
        self.known = known
        self._parsed: dict[str, Fetched] = {}  # page id -> its last quick read, parsed

    def tests(self, pages: Sequence[PageSpec], now: datetime) -> dict[str, Recognise]:
        """The test of each page that may be read quickly (see may_read_quickly)."""
        return {
            page.id: partial(self._recognised, page)
            for page in pages
            if may_read_quickly(page, self.known[page.id], now)
        }

    def read(self, page: PageSpec, result: FetchResult) -> Fetched:
        parsed = self._parsed.pop(page.id, None)
        if parsed is not None and parsed.result is result:
            return parsed
        return read_fetch(page, result, self.known[page.id])

    def _recognised(self, page: PageSpec, result: FetchResult) -> bool:
        parsed = self._parsed[page.id] = read_fetch(page, result, self.known[page.id])
        return parsed.verdict is None


def read_in_full(result: FetchResult) -> bool:
    """A browser page read in full (not quickly): its outcome renews `read_in_full_at`."""
    return result.via == "browser" and result.status == "ok" and not result.quick


def auto_needs_browser(page: PageSpec, result: FetchResult, reason: str) -> bool:
    """Plain HTTP got the app shell, not the article: only a browser can render it."""
    return (
        page.fetch == "auto"
        and result.via == "http"
        and reason.startswith((gate.NEEDS_JAVASCRIPT, gate.NO_SELECTOR_MATCH))
    )


def accept(
    page: PageSpec, result: FetchResult, unchanged_if: str | None = None
) -> Candidate | str | None:
    """The policy document in a fetch, or the reason this fetch holds none.

    None means the cleaned policy body has the fingerprint `unchanged_if`, taken
    from the version we hold: the page is unchanged and sectioning it is skipped.
    """
    if result.status != "ok" or result.text is None:
        return result.reason or f"fetch {result.status}"
    final_url = result.final_url or page.url
    if result.raw is not None and (binary := gate.not_html(result.raw)):
        return binary
    tree = parse_html(result.text)
    reason = gate.classify_response(
        result.text, final_url, result.http_status or 200, page, via=result.via, tree=tree
    )
    if reason:
        return reason
    try:
        prepared = prepare(tree, page, final_url)
    except NotPolicy as exc:
        return f"{gate.NO_SELECTOR_MATCH}: {exc.reason}"
    if unchanged_if is not None and prepared.fingerprint == unchanged_if:
        return None
    document = extract_document(prepared, page, final_url)
    return check_document(document, page) or Candidate(result, document, prepared.fingerprint)
