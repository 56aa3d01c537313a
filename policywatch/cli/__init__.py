"""The `policywatch` command: argument parsing, exit codes, and wiring of the stages.

Each subcommand is a small function that loads what it needs, calls the stage
modules and hands the result to `views` for printing. Exit codes are the
contract scripts rely on: 0 ok (changes found is ok), 1 a page could not be
checked, 2 bad usage or configuration (nothing fetched or written).
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from policywatch.cli.parser import build_parser
from policywatch.errors import PolicywatchError

log = logging.getLogger("policywatch")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:  # one each side of the command: argparse cannot see both
        parser.error("argument -q/--quiet: not allowed with argument -v/--verbose")
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
        from policywatch.printable import printable

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
