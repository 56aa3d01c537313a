"""`policywatch compare`: one policy across two marketplaces, and why it cannot be compared
when it cannot (no such page, a page watched once, a marketplace not watched)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING

from policywatch.cli.common import open_store, print_diff, watchlist_if_any
from policywatch.clock import utcnow
from policywatch.errors import UsageError
from policywatch.views import terminal

if TYPE_CHECKING:
    from policywatch.content import Snapshot
    from policywatch.history.store import Store
    from policywatch.models import Config


def cmd_compare(args: argparse.Namespace) -> int:
    from policywatch.document.languages import translation_lag
    from policywatch.watchlist.rules import rules_of

    suffixes = [_watch_suffix(m) for m in (args.first, args.second)]
    first, second = (f"{args.page}@{suffix}" for suffix in suffixes)
    config = watchlist_if_any(args)
    with open_store(args) as store:
        watches = [page.id for page in config.pages] if config else []
        pages = _pages_by_marketplace([*watches, *store.page_ids()])
        where = " or ".join([*([config.path] if config else []), str(args.data_dir)])
        _must_be_watched(args.page, suffixes, pages, where, config)
        a, b = (
            _latest_of(store, config, watch, other)
            for watch, other in ((first, second), (second, first))
        )
        doc_a, doc_b = store.document(a), store.document(b)
    rules = rules_of(config, first)
    meta = terminal.diff_meta(a, b, labels=(first, second))
    locales = [suffix.rsplit(".", 1)[-1] for suffix in suffixes]
    if all("-" in locale for locale in locales):
        lag = translation_lag((locales[0], a), (locales[1], b), now=utcnow(), days=args.lag_days)
        if lag:
            meta["translation_lag"] = lag
    print_diff(args, rules, (a, doc_a), (b, doc_b), meta)
    return 0


def _watch_suffix(name: str) -> str:
    """What follows `@` in a watch id: "UK", "de-DE" or "DE.de-DE", however it was typed."""
    market, _, locale = name.rpartition(".") if "." in name else ("", "", name)
    if "-" not in locale:
        return name.upper()
    language, region = locale.split("-", 1)
    tag = f"{language.lower()}-{region.upper()}"
    return f"{market.upper()}.{tag}" if market else tag


def _pages_by_marketplace(watch_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each page id with what follows `@` in its watches (none for a page watched once)."""
    pages: dict[str, list[str]] = {}
    for watch in watch_ids:
        page, _, suffix = watch.partition("@")
        markets = pages.setdefault(page, [])
        if suffix and suffix not in markets:
            markets.append(suffix)
    return pages


def _must_be_watched(
    page: str, suffixes: list[str], pages: dict[str, list[str]], where: str, config: Config | None
) -> None:
    """Refuse watches compare cannot have, saying what is wrong (no such page, a page watched
    once, a marketplace not watched) rather than "no snapshot yet" and a `check` of a watch id
    that does not exist either."""
    from policywatch.watchlist.profiles import MARKETPLACES

    markets = pages.get(page)
    if markets is None:
        comparable = [f"{p} ({', '.join(m)})" for p, m in pages.items() if len(m) > 1]
        raise UsageError(
            f"no page {page!r} in {where}",
            hint="pages watched in several marketplaces: " + "; ".join(comparable)
            if comparable
            else "no page is watched in two marketplaces yet; give one `marketplaces: [US, UK]`",
        )
    if not markets:
        wanted = ", ".join(suffixes) if not any("-" in s for s in suffixes) else "US, UK"
        then = f", run `policywatch check {page}`" if config and config.page(page) else ""
        raise UsageError(
            f"{page} has no marketplaces: it is watched once, so there is nothing to compare",
            hint=f"give it `marketplaces: [{wanted}]` (or several `locale:`s) in the "
            f"watchlist{then} and compare again",
        )
    for suffix in suffixes:
        if suffix in markets:
            continue
        code = suffix.split(".", 1)[0] if "." in suffix or "-" not in suffix else None
        unknown = code is not None and code not in MARKETPLACES  # a locale has no code
        ways = []
        if len(markets) > 1:
            ways.append(
                f"compare two of those: `policywatch compare {page} {' '.join(markets[:2])}`"
            )
        if not unknown:
            ways.append(f"watch it in {suffix} too (`marketplaces:`, `locale:`) and check it")
        raise UsageError(
            f"{page} is not watched in {suffix}"
            + (f" ({code} is not a marketplace code)" if unknown else "")
            + f"; it is watched in {', '.join(markets)}",
            hint="; or ".join(ways) or None,
        )


def _latest_of(store: Store, config: Config | None, watch: str, other: str) -> Snapshot:
    """The newest version of one marketplace's watch, or a usage error saying why there is none."""
    latest = store.latest(watch)
    if latest is not None:
        return latest
    last = store.outcomes(watch)[-1:]
    why = f"; its last check was {last[0]['status']}: {last[0]['reason']}" if last else ""
    checkable = config is not None and config.page(watch) is not None
    raise UsageError(
        f"{watch} has no snapshot yet, so there is nothing to compare {other} with{why}",
        hint=f"run `policywatch check {watch}` (or check the whole page) and compare again"
        if checkable
        else f"{watch} is not in the watchlist any more: add it back to check it",
    )
