"""What the subcommands share: the watchlist and data directory they were given, the store, REFs,
and printing that never lets a page's bytes drive the terminal."""

from __future__ import annotations

import argparse
import os
import string
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from policywatch.clock import iso, parse_iso, utcnow
from policywatch.errors import UsageError

if TYPE_CHECKING:
    from policywatch.content import Document, Snapshot
    from policywatch.history.store import Store
    from policywatch.models import Rule


# --------------------------------------------------------------------------- helpers


def load_watchlist(args: argparse.Namespace):
    from policywatch.watchlist.load import load_config

    return load_config(args.config)


def watchlist_if_any(args: argparse.Namespace):
    """The watchlist when there is one: the commands that read the store work without it.

    They send nothing, so a secret they are not given (the web service's environment
    holds none) is no error."""
    from policywatch.watchlist.load import load_config

    return load_config(args.config, sends=False) if args.config.exists() else None


def data_dir_of(args: argparse.Namespace) -> Path:
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


def open_store(args: argparse.Namespace, *, must_exist: bool = True):
    from policywatch.history.store import Store

    data_dir_of(args)
    stored = (args.data_dir / "index.json").exists() or (args.data_dir / "blobs").is_dir()
    if must_exist and not stored:
        raise UsageError(
            f"no policywatch data in {args.data_dir}",
            hint="run `policywatch check` first, or point -d/--data-dir "
            "(or $POLICYWATCH_DATA) at your data",
        )
    return Store(args.data_dir)


def resolve(store: Store, page_id: str, ref: str) -> Snapshot:
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


def emit(text: str, *, painted: bool = False) -> None:
    """Print a command's output with page-derived control characters escaped.

    `painted` output (a diff, which may carry our own colours) was made safe
    piece by piece by `render` and is written as it is.
    """
    from policywatch.printable import printable

    text = text if painted else printable(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def use_color(args: argparse.Namespace) -> bool:
    return (
        not getattr(args, "no_color", False)
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
    )


def print_diff(
    args: argparse.Namespace,
    rules: tuple[Rule, ...],
    old: tuple[Snapshot, Document],
    new: tuple[Snapshot, Document],
    meta: dict[str, str],
    context: int = 0,
    show_all: bool = False,
) -> None:
    """Diff two stored versions and print it, so `diff` and `compare` read alike in every format."""
    from policywatch.diff.compare import diff_documents
    from policywatch.diff.render import render_diff
    from policywatch.diff.rows import Dating

    (old_snapshot, old_doc), (new_snapshot, new_doc) = old, new
    diff = diff_documents(
        old_doc,
        new_doc,
        page_id=args.page,
        old_id=old_snapshot.id,
        new_id=new_snapshot.id,
        rules=rules,
    )
    text = render_diff(
        diff,
        args.format,
        color=use_color(args),
        context=context,
        show_all=show_all,
        old=old_doc,
        new=new_doc,
        meta=meta,
        dating=Dating.of_version(new_doc.metadata, new_snapshot.captured_at, utcnow().date()),
    )
    emit(text, painted=True)
