"""One function per subcommand: load what it needs, call the stages, hand the result to a view."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from policywatch.cli.common import (
    data_dir_of,
    emit,
    load_watchlist,
    open_store,
    print_diff,
    resolve,
    watchlist_if_any,
)
from policywatch.clock import utcnow
from policywatch.errors import UsageError
from policywatch.views import terminal

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from policywatch.watchlist.describe import browser_warning, describe

    config = load_watchlist(args)
    emit(describe(config))
    warning = browser_warning(config)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from policywatch.watchlist.editor_schema import json_schema
    from policywatch.watchlist.starter import SCHEMA_FILE, parse_marketplaces, starter_text

    path = args.path or args.config
    if path.exists():
        raise UsageError(
            f"{path} already exists; init never overwrites a watchlist",
            hint=f"check it with `policywatch -c {path} validate`, or name a new file: "
            "`policywatch init other.yaml`",
        )
    markets = parse_marketplaces(args.marketplaces)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_text(markets), encoding="utf-8")
    schema = path.parent / SCHEMA_FILE
    if not schema.exists():
        schema.write_text(json_schema(), encoding="utf-8")
    config = "" if path == Path("watchlist.yaml") else f" -c {path}"
    emit(
        f"wrote {path} (the first page watched in {', '.join(markets)}) and {schema} for editors\n"
        "next:\n"
        f"  policywatch{config} validate   # what will be watched, and which rules alert\n"
        f"  policywatch{config} check      # the first poll stores every page; later ones diff\n"
        f"then edit {path}: add your pages, and set the variables of a notify route to get alerts"
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from policywatch.watchlist.editor_schema import json_schema

    sys.stdout.write(json_schema())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from policywatch.run.check import check_pages, select_pages

    config = load_watchlist(args)
    selected = select_pages(config, args.pages)
    progress = terminal.progress_printer() if (sys.stderr.isatty() and not args.quiet) else None
    with open_store(args, must_exist=False) as store:
        report = check_pages(
            config,
            store,
            page_ids=[p.id for p in selected],
            progress=progress,
            deliver=not args.no_deliver,
            lock_wait=args.wait,
        )
    if args.format == "json":
        emit(json.dumps(terminal.check_json(report), indent=2))
    else:
        text = terminal.check_text(report, quiet=args.quiet)
        if text:
            emit(text)
    return report.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        snapshots = store.snapshots(args.page)
        if not snapshots:
            store.resolve(args.page, "latest")  # raises the helpful "unknown page" error
        outcomes = store.outcomes(args.page)
        shown = store.page_state(args.page).get("last_updated")
    if args.format == "json":
        emit(json.dumps(terminal.history_json(args.page, snapshots, outcomes, shown), indent=2))
    else:
        emit(terminal.history_text(args.page, snapshots, outcomes, shown))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        snapshot = resolve(store, args.page, args.ref)
        document = store.document(snapshot)
    sections = terminal.pick_sections(document, args.section)
    if args.format == "json":
        emit(json.dumps(terminal.show_json(snapshot, document, sections), indent=2))
    else:
        emit(terminal.show_text(snapshot, document, sections))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from policywatch.watchlist.rules import rules_of

    old_ref = args.old if args.old is not None else "latest~1"
    rules = rules_of(watchlist_if_any(args), args.page)  # flag what its alert flagged
    with open_store(args) as store:
        old = resolve(store, args.page, old_ref)
        new = resolve(store, args.page, args.new)
        old_doc, new_doc = store.document(old), store.document(new)
    meta = terminal.diff_meta(old, new)
    print_diff(args, rules, (old, old_doc), (new, new_doc), meta, args.context, args.all)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    if args.action == "retry":
        with open_store(args) as store, store.lock():
            count = store.retry_failed(utcnow())
        emit(f"{count} failed alert(s) queued again; they go out on the next check or run")
        return 0
    status = "pending" if args.pending else "failed" if args.failed else None
    with open_store(args) as store:
        entries = store.alerts(status)
    if args.format == "json":
        emit(json.dumps(terminal.alerts_json(entries), indent=2))
    else:
        emit(terminal.alerts_text(entries))
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    from policywatch.alerts.deliver import notify_test
    from policywatch.redact import redact

    config = load_watchlist(args)
    # What validate says of the routes asked for that wait for their ${VARS}, in its words.
    waiting = [s.said for s in config.skipped_routes if args.route in (None, s.name)]
    if waiting and not any(args.route in (None, route.name) for route in config.routes):
        raise UsageError(
            "\n  ".join(["nothing to test yet:", *waiting]),
            hint="set the variables named (export NAME=...) and run notify-test again",
        )
    if not config.routes:
        raise UsageError(
            f"{config.path} has no notify routes", hint="add apprise URLs under `notify:`"
        )
    results = notify_test(config.routes, args.route)
    failed = 0
    for route, ok, reason in results:
        emit(
            f"{route.name:24} {'ok' if ok else 'FAILED'}  {redact(route.url)}"
            + (f"\n  {reason}" if reason else "")
        )
        failed += not ok
    if waiting and args.route is None:
        emit("\n".join(waiting))
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    from policywatch import logs
    from policywatch.run import loop

    logs.setup(min(args.log_level, logging.INFO), args.log_format)
    load_watchlist(args)  # a bad watchlist at start is a usage error, exit 2
    return loop.run(args.config, data_dir_of(args))


def cmd_health(args: argparse.Namespace) -> int:
    from policywatch.run import daemon

    ok, reason = daemon.health(data_dir_of(args), args.max_age)
    emit(("ok: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


def cmd_rederive(args: argparse.Namespace) -> int:
    from policywatch.run.check import select_pages
    from policywatch.run.history_tools import rederive

    config = load_watchlist(args)
    pages = select_pages(config, args.pages)
    with open_store(args) as store, store.lock():
        results = [rederive(store, page) for page in pages]
    emit(terminal.rederive_text(results))
    return 1 if any(r.reason for r in results) else 0


def cmd_fsck(args: argparse.Namespace) -> int:
    from policywatch.history.fsck import fsck

    if not args.data_dir.is_dir():
        raise UsageError(f"no policywatch data in {args.data_dir}", hint="check -d/--data-dir")
    report = fsck(args.data_dir, repair=args.repair, wait=args.wait)
    lines = [f"problem: {p}" for p in report.problems]
    lines += [f"repaired: {r}" for r in report.repaired]
    lines += [f"lost: {item}" for item in report.lost]
    if not report.problems:
        lines.append(f"{args.data_dir}: no problems found")
    elif not args.repair:
        lines.append("run `policywatch fsck --repair` to rebuild what can be rebuilt")
    emit("\n".join(lines))
    return 1 if report.problems and not args.repair else 0


def cmd_import(args: argparse.Namespace) -> int:
    from policywatch.run.check import select_pages
    from policywatch.run.history_tools import import_files

    config = load_watchlist(args)
    pages = select_pages(config, [args.page])
    if len(pages) != 1:
        raise UsageError(
            f"{args.page} names {len(pages)} watches", hint="name one, e.g. " + pages[0].id
        )
    files = terminal.import_sources(args.files, args.at, utcnow())
    with open_store(args, must_exist=False) as store, store.lock():
        outcomes = import_files(config, store, pages[0], files)

    emit(terminal.import_text(outcomes))
    return 1 if any(o.status == "blocked" for o in outcomes) else 0
