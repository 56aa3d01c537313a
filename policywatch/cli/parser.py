"""The command line: every subcommand, its options and its help, in one parser."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from policywatch import __version__
from policywatch.cli.commands import (
    cmd_alerts,
    cmd_check,
    cmd_diff,
    cmd_fsck,
    cmd_health,
    cmd_history,
    cmd_import,
    cmd_init,
    cmd_notify_test,
    cmd_rederive,
    cmd_run,
    cmd_schema,
    cmd_show,
    cmd_validate,
)
from policywatch.cli.compare import cmd_compare
from policywatch.cli.dates import add_dates
from policywatch.cli.demo import add_demo
from policywatch.cli.web import add_web

EPILOG = """\
exit codes:
  0  success (changes found is success)
  1  one or more pages could not be checked (blocked / error), or the store is busy
  2  bad usage or bad configuration: nothing was fetched or written

references (REF) to a stored snapshot:
  3f2a9c        a snapshot id, or a unique prefix of it (at least 4 characters)
  latest        the newest snapshot; latest~1 is the one before it, latest~N ...
  2026-01-01    the snapshot in force at that moment (ISO date or date-time, UTC
                unless an offset is given)

environment:
  POLICYWATCH_CONFIG  default for --config   POLICYWATCH_DATA  default for --data-dir
  POLICYWATCH_CHROMIUM  Chromium binary for pages that need a browser

examples:
  policywatch demo                         # the whole story on a built-in page, offline
  policywatch init --marketplaces US,UK    # a commented ./watchlist.yaml to start from
  policywatch validate
  policywatch check -q                     # cron: prints only problems
  policywatch history seller-code-of-conduct@US
  policywatch show seller-code-of-conduct@US latest --section "Guidelines for contacting buyers"
  policywatch diff seller-code-of-conduct@US 2026-01-01 latest --format html > change.html
  policywatch compare seller-code-of-conduct US UK
  policywatch upcoming --days 30           # what the pages say takes effect soon
  policywatch calendar > policies.ics      # the same dates for a calendar app
  policywatch serve                        # the web view on http://127.0.0.1:8080/
"""

SCHEMA_HELP = """\
print the watchlist's JSON Schema, so editors complete keys and flag typos as you type:

  policywatch schema > watchlist.schema.json

then make this the first line of watchlist.yaml (the YAML language server, as in
VS Code's YAML extension, reads it):

  # yaml-language-server: $schema=watchlist.schema.json
"""


def _at_least_zero(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type refusing negative counts and durations, which would otherwise be taken
    silently (`--context -3` printed no context at all)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            number = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {number}, got {text!r}") from None
        if value < 0 or value != value:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        return value

    return parse


COUNT, SECONDS = _at_least_zero(int), _at_least_zero(float)

CONFIG_HELP = "watchlist file (default: $POLICYWATCH_CONFIG or ./watchlist.yaml)"
DATA_HELP = "where versions are kept (default: $POLICYWATCH_DATA or ./policywatch-data)"


def add_shared_options(
    p: argparse.ArgumentParser,
    *,
    config_help: str | None = CONFIG_HELP,
    data_help: str = DATA_HELP,
    after_command: bool = False,
) -> None:
    """-c, -d and -v/-q, on the main parser and again on each subcommand, so a line copied
    from the help (`policywatch check -q` in a crontab) works wherever the option stands.

    After the command they default to SUPPRESS: a subcommand's defaults overwrite what was
    parsed before it, so `-q check` would otherwise lose its -q. No `config_help`: the
    command reads no watchlist (the demo writes its own), so it offers no -c.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    if config_help is not None:
        p.add_argument(
            "-c",
            "--config",
            type=Path,
            default=default(Path(os.environ.get("POLICYWATCH_CONFIG", "watchlist.yaml"))),
            help=config_help,
        )
    p.add_argument(
        "-d",
        "--data-dir",
        type=Path,
        default=default(Path(os.environ.get("POLICYWATCH_DATA", "policywatch-data"))),
        help=data_help,
    )
    noise = p.add_mutually_exclusive_group()
    noise.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="more log detail (-vv: debug)"
    )
    noise.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="print only problems (for cron)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policywatch",
        description="Watch policy pages, keep every version, and say in plain words what changed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"policywatch {__version__}")
    add_shared_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_: str,
        *,
        config_help: str | None = CONFIG_HELP,
        data_help: str = DATA_HELP,
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        add_shared_options(p, config_help=config_help, data_help=data_help, after_command=True)
        return p

    def fmt(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
        p.add_argument(
            "--format", choices=choices, default="text", help="output format (default: text)"
        )

    def wait(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--wait",
            type=SECONDS,
            default=10.0,
            metavar="SECONDS",
            help="how long to wait for another policywatch holding the store (default: 10)",
        )

    p = command("init", cmd_init, "write a commented starter watchlist and say what to do next")
    p.add_argument(
        "path",
        nargs="?",
        type=Path,
        metavar="PATH",
        help="where to write it (default: -c/--config, i.e. ./watchlist.yaml)",
    )
    p.add_argument(
        "--marketplaces",
        default="US,UK,DE",
        metavar="LIST",
        help="marketplaces to watch the first page in, e.g. US,UK,DE (default: US,UK,DE)",
    )
    add_demo(command, parser)
    command("validate", cmd_validate, "check the watchlist and print what will be watched")
    p = command("schema", cmd_schema, "print the watchlist's JSON Schema, for editors")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = SCHEMA_HELP

    p = command(
        "check",
        cmd_check,
        "poll pages once: one line per page (new/unchanged/changed/blocked/error)",
    )
    p.add_argument("pages", nargs="*", metavar="PAGE_ID", help="pages to check (default: all)")
    p.add_argument(
        "--no-deliver", action="store_true", help="queue alerts but do not send them now"
    )
    wait(p)
    fmt(p)

    p = command(
        "fsck",
        cmd_fsck,
        "check the data directory (index, blobs, outbox); --repair rebuilds what it can",
    )
    p.add_argument(
        "--repair", action="store_true", help="rebuild lost indexes and report what is gone"
    )
    wait(p)

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
        "--context",
        type=COUNT,
        default=0,
        metavar="N",
        help="unchanged sentences around each change",
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
        type=SECONDS,
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
        type=SECONDS,
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
    add_dates(command, COUNT)
    add_web(command)
    return parser
