"""The `policywatch` command: argument parsing, exit codes, and wiring of the stages.

Each subcommand is a small function that loads what it needs, calls the stage
modules and hands the result to `present` for printing. Exit codes are the
contract scripts rely on: 0 ok (changes found is ok), 1 a page could not be
checked, 2 bad usage or configuration (nothing fetched or written).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import string
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from policywatch import __version__
from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import PolicywatchError, UsageError
from policywatch.views import terminal

if TYPE_CHECKING:
    from policywatch.history.store import Store
    from policywatch.models import Rule, Snapshot

log = logging.getLogger("policywatch")

EPILOG = """\
exit codes:
  0  success (changes found is success)
  1  one or more pages could not be checked (blocked / error), or the store is busy
  2  bad usage or bad configuration: nothing was fetched or written

references (REF) to a stored snapshot:
  3f2a9c        a snapshot id, or any unique prefix of it
  latest        the newest snapshot; latest~1 is the one before it, latest~N ...
  2026-01-01    the snapshot in force at that moment (ISO date or date-time, UTC
                unless an offset is given)

environment:
  POLICYWATCH_CONFIG  default for --config   POLICYWATCH_DATA  default for --data-dir
  POLICYWATCH_CHROMIUM  Chromium binary for pages that need a browser

examples:
  policywatch validate
  policywatch check -q                     # cron: prints only problems
  policywatch history seller-code-of-conduct
  policywatch show seller-code-of-conduct latest --section "Guidelines for contacting buyers"
  policywatch diff seller-code-of-conduct 2026-01-01 latest --format html > change.html
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policywatch",
        description="Watch policy pages, keep every version, and say in plain words what changed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"policywatch {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path(os.environ.get("POLICYWATCH_CONFIG", "watchlist.yaml")),
        help="watchlist file (default: $POLICYWATCH_CONFIG or ./watchlist.yaml)",
    )
    parser.add_argument(
        "-d",
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("POLICYWATCH_DATA", "policywatch-data")),
        help="where versions are kept (default: $POLICYWATCH_DATA or ./policywatch-data)",
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log detail (-vv: debug)"
    )
    noise.add_argument("-q", "--quiet", action="store_true", help="print only problems (for cron)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    def fmt(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
        p.add_argument(
            "--format", choices=choices, default="text", help="output format (default: text)"
        )

    command("validate", cmd_validate, "check the watchlist and print what will be watched")

    p = command(
        "check",
        cmd_check,
        "poll pages once: one line per page (new/unchanged/changed/blocked/error)",
    )
    p.add_argument("pages", nargs="*", metavar="PAGE_ID", help="pages to check (default: all)")
    p.add_argument(
        "--no-deliver", action="store_true", help="queue alerts but do not send them now"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for another policywatch holding the store (default: 10)",
    )
    fmt(p)

    p = command(
        "fsck",
        cmd_fsck,
        "check the data directory (index, blobs, outbox); --repair rebuilds what it can",
    )
    p.add_argument(
        "--repair", action="store_true", help="rebuild lost indexes and report what is gone"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for another policywatch holding the store (default: 10)",
    )

    p = command(
        "history", cmd_history, "list the stored versions of a page, and recent failed polls"
    )
    p.add_argument("page", metavar="PAGE_ID")
    fmt(p)

    p = command("show", cmd_show, "print a stored version of a page, or one section of it")
    p.add_argument("page", metavar="PAGE_ID")
    p.add_argument(
        "ref", nargs="?", default="latest", metavar="REF", help="which version (default: latest)"
    )
    p.add_argument(
        "--section",
        metavar="PATH",
        help='a section heading or path, e.g. "Guidelines for contacting buyers"',
    )
    fmt(p)

    p = command(
        "diff", cmd_diff, "show what changed between two stored versions, sentence by sentence"
    )
    p.add_argument("page", metavar="PAGE_ID")
    p.add_argument(
        "old", nargs="?", default=None, metavar="OLD", help="older version (default: latest~1)"
    )
    p.add_argument(
        "new", nargs="?", default="latest", metavar="NEW", help="newer version (default: latest)"
    )
    p.add_argument("--no-color", action="store_true", help="never colour the text output")
    p.add_argument("--all", action="store_true", help="show unchanged sections too")
    p.add_argument(
        "--context", type=int, default=0, metavar="N", help="unchanged sentences around each change"
    )
    fmt(p, ("text", "markdown", "html", "json"))

    p = command(
        "alerts",
        cmd_alerts,
        "list queued/sent/failed alerts, or re-queue failed ones (`alerts retry`)",
    )
    p.add_argument("action", nargs="?", choices=("list", "retry"), default="list")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--pending", action="store_true", help="only alerts not yet delivered")
    state.add_argument("--failed", action="store_true", help="only alerts that gave up")
    fmt(p)

    p = command("notify-test", cmd_notify_test, "send a test message to every route, or to one")
    p.add_argument(
        "route", nargs="?", metavar="ROUTE", help="route name (see `policywatch validate`)"
    )

    p = command(
        "run", cmd_run, "keep polling on each page's interval (the container's main command)"
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log line format")

    p = command(
        "health", cmd_health, "exit 0 when a running `policywatch run` is alive and the store opens"
    )
    p.add_argument(
        "--max-age",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how old the last heartbeat may be, in seconds (default: 600)",
    )

    p = command(
        "compare", cmd_compare, "compare one policy across two marketplaces, section by section"
    )
    p.add_argument("page", metavar="PAGE_ID", help="the page id without @marketplace")
    p.add_argument("first", metavar="MARKETPLACE", help="e.g. UK; de-DE or DE.de-DE for a locale")
    p.add_argument("second", metavar="MARKETPLACE")
    p.add_argument(
        "--lag-days",
        type=float,
        default=14.0,
        metavar="N",
        help="between two locales: report when one changed and the other has not followed "
        "within N days (default: 14)",
    )
    p.add_argument("--no-color", action="store_true", help="never colour the text output")
    fmt(p, ("text", "markdown", "html", "json"))

    p = command(
        "rederive", cmd_rederive, "re-extract stored pages with the current rules, without alerting"
    )
    p.epilog = (
        "Run it after editing a page's select/remove/ignore (or upgrading policywatch), before "
        "the next check, so the new reading is not reported as a policy change. Every stored "
        "version is read again from its raw HTML, so old and new versions still compare like "
        "with like in diff; ids and capture dates stay, history marks them re-derived, and no "
        "alert is sent. A page is re-derived whole or not at all: if one of its versions no "
        "longer extracts with the new rules, it is left as it was and the exit code is 1."
    )
    p.add_argument("pages", nargs="*", metavar="PAGE_ID", help="pages (default: all)")

    p = command(
        "import",
        cmd_import,
        "backfill history from saved HTML files, oldest first, without alerting",
    )
    p.epilog = (
        "Each file is judged like a fetch (a sign-in or error page is skipped) and stored with "
        "origin import; no alert is sent, and the next check continues from the newest version. "
        "Files go in date order whatever the order given: --at, else a date in the file name "
        "(2024-03-12.html, 2024-07-20T1232Z.html), else the file's modification time."
    )
    p.add_argument("page", metavar="PAGE_ID")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="DATE",
        help="when each file was captured, in file order "
        "(default: a date in the file name, else its mtime)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (
        logging.ERROR
        if args.quiet
        else (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    )
    if args.command != "run":
        from policywatch import logs

        logs.setup(level, "text")
    args.log_level = level
    try:
        return args.func(args)
    except PolicywatchError as exc:
        from policywatch.document.normalize import printable

        print(f"policywatch: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("policywatch: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # The store and the daemon word the errors they expect; this catches the rest
        # (a disk that fills mid-write, a lock file that cannot be flushed) in one line.
        log.debug("unexpected system error", exc_info=True)
        print(f"policywatch: {_system_error(exc, args.data_dir)}", file=sys.stderr)
        return 1


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _system_error(exc: OSError, data_dir: Path) -> str:
    """An OSError as one line that names the file and says what to do."""
    where = exc.filename or data_dir
    if exc.errno in _DISK_FULL:
        return (
            f"cannot write {where}: {exc.strerror}; the disk (or quota) holding it is full\n"
            "  hint: free space there, or move -d/--data-dir to a bigger volume, and run it again"
        )
    return f"{where}: {exc.strerror or exc}\n  hint: check the path and its permissions"


# --------------------------------------------------------------------------- helpers


def _config(args: argparse.Namespace):
    from policywatch.config import load_config

    return load_config(args.config)


def _data_dir(args: argparse.Namespace) -> Path:
    """-d/--data-dir, refused at once (exit 2) when it or a parent is a file, not a folder."""
    path = args.data_dir
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"is inside {part}, which is a file"
                raise UsageError(
                    f"the data directory {path} {where}",
                    hint="point -d/--data-dir (or $POLICYWATCH_DATA) at a directory; "
                    "it is created if missing",
                )
            break
    return path


def _store(args: argparse.Namespace, *, must_exist: bool = True):
    from policywatch.history.store import Store

    _data_dir(args)
    stored = (args.data_dir / "index.json").exists() or (args.data_dir / "blobs").is_dir()
    if must_exist and not stored:
        raise UsageError(
            f"no policywatch data in {args.data_dir}",
            hint="run `policywatch check` first, or point -d/--data-dir "
            "(or $POLICYWATCH_DATA) at your data",
        )
    return Store(args.data_dir)


def _resolve(store: Store, page_id: str, ref: str) -> Snapshot:
    """The snapshot REF names; a date still to come is an error, not silently "latest".

    A date after now names a version nobody has seen yet: usually a typo in the
    year, or a clock that is wrong, and either way the answer would mislead.
    """
    text = ref.strip()
    if text and not all(c in string.hexdigits for c in text):  # all-hex is an id prefix
        try:
            when = parse_iso(text)
        except ValueError:
            when = None
        now = utcnow()
        if when is not None and when > now:
            raise UsageError(
                f"{ref} is in the future (it is now {iso(now, 'seconds')}); "
                f"no version of {page_id} is known for it yet",
                hint="give a past date, or `latest` for the newest version",
            )
    return store.resolve(page_id, text)


def _emit(text: str, *, painted: bool = False) -> None:
    """Print a command's output with page-derived control characters escaped.

    `painted` output (a diff, which may carry our own colours) was made safe
    piece by piece by `render` and is written as it is.
    """
    from policywatch.document.normalize import printable

    text = text if painted else printable(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _color(args: argparse.Namespace) -> bool:
    return (
        not getattr(args, "no_color", False)
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
    )


# --------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from policywatch.config import browser_warning, describe

    config = _config(args)
    _emit(describe(config))
    warning = browser_warning(config)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from policywatch.run.check import check_pages, select_pages

    config = _config(args)
    selected = select_pages(config, args.pages)
    progress = terminal.progress_printer() if (sys.stderr.isatty() and not args.quiet) else None
    with _store(args, must_exist=False) as store:
        report = check_pages(
            config,
            store,
            page_ids=[p.id for p in selected],
            progress=progress,
            deliver=not args.no_deliver,
            lock_wait=args.wait,
        )
    if args.format == "json":
        _emit(json.dumps(terminal.check_json(report), indent=2))
    else:
        text = terminal.check_text(report, quiet=args.quiet)
        if text:
            _emit(text)
    return report.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    with _store(args) as store:
        snapshots = store.snapshots(args.page)
        if not snapshots:
            store.resolve(args.page, "latest")  # raises the helpful "unknown page" error
        outcomes = store.outcomes(args.page)
        shown = store.page_state(args.page).get("last_updated")
    if args.format == "json":
        _emit(json.dumps(terminal.history_json(args.page, snapshots, outcomes, shown), indent=2))
    else:
        _emit(terminal.history_text(args.page, snapshots, outcomes, shown))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        snapshot = _resolve(store, args.page, args.ref)
        document = store.document(snapshot)
    sections = terminal.pick_sections(document, args.section)
    if args.format == "json":
        _emit(json.dumps(terminal.show_json(snapshot, document, sections), indent=2))
    else:
        _emit(terminal.show_text(snapshot, document, sections))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from policywatch.diff.compare import diff_documents
    from policywatch.diff.render import render_diff

    old_ref = args.old if args.old is not None else "latest~1"
    rules = _watched_terms(args, args.page)
    with _store(args) as store:
        old = _resolve(store, args.page, old_ref)
        new = _resolve(store, args.page, args.new)
        old_doc, new_doc = store.document(old), store.document(new)
    diff = diff_documents(
        old_doc, new_doc, page_id=args.page, old_id=old.id, new_id=new.id, rules=rules
    )
    _emit(
        painted=True,
        text=render_diff(
            diff,
            args.format,
            color=_color(args),
            context=args.context,
            show_all=args.all,
            old=old_doc,
            new=new_doc,
            meta=terminal.diff_meta(old, new),
        ),
    )
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    if args.action == "retry":
        with _store(args) as store, store.lock():
            count = store.retry_failed(utcnow())
        _emit(f"{count} failed alert(s) queued again; they go out on the next check or run")
        return 0
    status = "pending" if args.pending else "failed" if args.failed else None
    with _store(args) as store:
        entries = store.alerts(status)
    if args.format == "json":
        _emit(json.dumps(terminal.alerts_json(entries), indent=2))
    else:
        _emit(terminal.alerts_text(entries))
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    from policywatch.alerts.notify import notify_test, redact

    config = _config(args)
    if not config.routes:
        raise UsageError(
            f"{config.path} has no notify routes", hint="add apprise URLs under `notify:`"
        )
    results = notify_test(config.routes, args.route)
    failed = 0
    for route, ok, reason in results:
        _emit(
            f"{route.name:24} {'ok' if ok else 'FAILED'}  {redact(route.url)}"
            + (f"\n  {reason}" if reason else "")
        )
        failed += not ok
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    from policywatch import logs
    from policywatch.run import loop

    logs.setup(min(args.log_level, logging.INFO), args.log_format)
    _config(args)  # a bad watchlist at start is a usage error, exit 2
    return loop.run(args.config, _data_dir(args))


def cmd_health(args: argparse.Namespace) -> int:
    from policywatch.run import daemon

    ok, reason = daemon.health(_data_dir(args), args.max_age)
    _emit(("ok: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from policywatch.diff.compare import diff_documents
    from policywatch.diff.render import render_diff
    from policywatch.document.languages import translation_lag

    suffixes = [_watch_suffix(m) for m in (args.first, args.second)]
    first, second = (f"{args.page}@{suffix}" for suffix in suffixes)
    with _store(args) as store:
        a, b = (
            _latest_of(store, watch, other) for watch, other in ((first, second), (second, first))
        )
        doc_a, doc_b = store.document(a), store.document(b)
    rules = _watched_terms(args, first)
    diff = diff_documents(doc_a, doc_b, page_id=args.page, old_id=a.id, new_id=b.id, rules=rules)
    meta = terminal.diff_meta(a, b, labels=(first, second))
    locales = [suffix.rsplit(".", 1)[-1] for suffix in suffixes]
    if all("-" in locale for locale in locales):
        lag = translation_lag((locales[0], a), (locales[1], b), now=utcnow(), days=args.lag_days)
        if lag:
            meta["translation_lag"] = lag
    _emit(
        painted=True,
        text=render_diff(
            diff,
            args.format,
            color=_color(args),
            old=doc_a,
            new=doc_b,
            meta=meta,
        ),
    )
    return 0


def _watch_suffix(name: str) -> str:
    """What follows `@` in a watch id: "UK", "de-DE" or "DE.de-DE", however it was typed."""
    market, _, locale = name.rpartition(".") if "." in name else ("", "", name)
    if "-" not in locale:
        return name.upper()
    language, region = locale.split("-", 1)
    tag = f"{language.lower()}-{region.upper()}"
    return f"{market.upper()}.{tag}" if market else tag


def _watched_terms(args: argparse.Namespace, page_id: str) -> tuple[Rule, ...]:
    """The rules that apply to a page, so a stored diff flags what its alert would flag.

    Reading stored versions needs no watchlist, so without one there are no rules.
    """
    if not args.config.exists():
        return ()
    config = _config(args)
    page = config.page(page_id)
    return config.rules_for(page) if page else config.rules


def _latest_of(store: Store, watch: str, other: str) -> Snapshot:
    """The newest version of one marketplace's watch, or a usage error saying why there is none."""
    latest = store.latest(watch)
    if latest is not None:
        return latest
    last = store.outcomes(watch)[-1:]
    why = f"; its last check was {last[0]['status']}: {last[0]['reason']}" if last else ""
    raise UsageError(
        f"{watch} has no snapshot yet, so there is nothing to compare {other} with{why}",
        hint=f"run `policywatch check {watch}` (or check the whole page) and compare again",
    )


def cmd_rederive(args: argparse.Namespace) -> int:
    from policywatch.run.check import select_pages
    from policywatch.run.history_tools import rederive

    config = _config(args)
    pages = select_pages(config, args.pages)
    with _store(args) as store, store.lock():
        results = [rederive(store, page) for page in pages]
    _emit(terminal.rederive_text(results))
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
    _emit("\n".join(lines))
    return 1 if report.problems and not args.repair else 0


def cmd_import(args: argparse.Namespace) -> int:
    from policywatch.run.check import select_pages
    from policywatch.run.history_tools import import_files

    config = _config(args)
    pages = select_pages(config, [args.page])
    if len(pages) != 1:
        raise UsageError(
            f"{args.page} names {len(pages)} watches", hint="name one, e.g. " + pages[0].id
        )
    files = terminal.import_sources(args.files, args.at, utcnow())
    with _store(args, must_exist=False) as store, store.lock():
        outcomes = import_files(config, store, pages[0], files)
    _emit(terminal.import_text(outcomes))
    return 1 if any(o.status == "blocked" for o in outcomes) else 0
