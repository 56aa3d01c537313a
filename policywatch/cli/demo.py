"""`policywatch demo`: what a seller gets when a policy changes, shown offline in seconds.

The demo runs the real commands (`check`, `check`, `diff`, through the same parser and
command functions a user types) against the demo site on 127.0.0.1, so what it prints is
what those commands print; the alert is the one the second check composed and queued,
shown in the words its route receives. Everything goes to a throwaway directory unless
`-d` names one to keep.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from policywatch.cli.common import emit
from policywatch.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from policywatch.demo.site import DemoSite
    from policywatch.models import Route

HELP = "show the whole story on a built-in page served on 127.0.0.1: check, edit, diff, alert"
EPILOG = """\
No network is needed: the page is served on 127.0.0.1 and the alert goes to a webhook there,
unless --notify names a real route (any apprise URL, e.g. "$SLACK_WEBHOOK_URL" or
mailtos://user:pass@smtp.example.com?to=you@example.com) to receive it.

  policywatch demo
  policywatch demo --notify "$SLACK_WEBHOOK_URL"
  policywatch demo -d demo-data && policywatch -d demo-data history contacting-buyers
"""


def add_demo(command: Callable[..., argparse.ArgumentParser], cli: argparse.ArgumentParser) -> None:
    """Register `demo`; `cli` is the whole parser, which the demo runs its commands through."""
    p = command(
        "demo",
        cmd_demo,
        HELP,
        config_help=None,
        data_help="keep the demo's data in DIR, a new or empty directory, given before or "
        "after `demo` (default: a temporary one, deleted at the end)",
    )
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.set_defaults(cli=cli)
    p.add_argument(
        "--notify",
        metavar="URL",
        help="also send the alert to this apprise URL (default: a webhook on 127.0.0.1)",
    )
    p.add_argument("--no-color", action="store_true", help="never colour the diff")


def cmd_demo(args: argparse.Namespace) -> int:
    from policywatch.demo.site import EDITS, PAGE_ID, DemoSite

    keep = _kept(args)
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise UsageError(
            f"{keep} is not empty; the demo writes a fresh data directory",
            hint="give a new or empty directory, or leave out -d for a throwaway one",
        )
    with tempfile.TemporaryDirectory(prefix="policywatch-demo-") as work, _loopback_direct():
        data = keep or Path(work) / "data"
        with DemoSite() as site:
            watchlist = _write_watchlist(Path(work) / "watchlist.yaml", site, args.notify)
            route = _route(watchlist, args.notify)

            def run(*argv: str) -> int:
                command = args.cli.parse_args(["-c", str(watchlist), "-d", str(data), *argv])
                return command.func(command)

            emit(f"policywatch demo: a help page served at {site.page_url}\n")
            _heading("policywatch check", "the first poll stores the page")
            if run("check") != 0:
                return 1
            site.edited = True
            edits = "".join(f"\n  {old!r} -> {new!r}" for old, new in EDITS)
            emit(f"\nThe page is edited:{edits}")
            _heading("policywatch check", "the next poll finds the change and sends its alert")
            checked = run("check")
            _heading(f"policywatch diff {PAGE_ID}", "what changed, sentence by sentence")
            run("diff", PAGE_ID, *(["--no-color"] if args.no_color else []))
            delivered = _show_alert(route, data)
        if keep is not None:
            emit(f"\nThe data is kept in {data}: try `policywatch -d {data} history {PAGE_ID}`.")
    return checked or (0 if delivered else 1)


def _kept(args: argparse.Namespace) -> Path | None:
    """The -d typed before or after `demo`, or None for a throwaway directory.

    Only a typed -d counts: the default ($POLICYWATCH_DATA or ./policywatch-data) is where a
    seller's real data lives, which the demo must not touch. A typed value is a new Path,
    never the parser's default object itself.
    """
    return None if args.data_dir is args.cli.get_default("data_dir") else args.data_dir


def _heading(command: str, why: str) -> None:
    emit(f"\n$ {command}    # {why}")


def _write_watchlist(path: Path, site: DemoSite, notify: str | None) -> Path:
    """The demo's watchlist: the demo page with the built-in rules, and one route."""
    from policywatch.demo.site import PAGE_ID, PAGE_TITLE

    url = notify or site.webhook_url
    watchlist = {
        "defaults": {"allow_private": True, "timeout": "10s", "retries": 0},
        "pages": [
            {
                "id": PAGE_ID,
                "title": PAGE_TITLE,
                "url": site.page_url,
                "profile": "seller-central",
                "fetch": "http",
            }
        ],
        # A short wait for the route's answer: Ctrl-C during a send exits only once it ends.
        "notify": [{"name": "yours" if notify else "demo-webhook", "url": url, "timeout": "10s"}],
    }
    path.write_text(yaml.safe_dump(watchlist, sort_keys=False), encoding="utf-8")
    return path


def _route(watchlist: Path, notify: str | None) -> Route:
    """The demo's one route, a bad --notify URL refused as the option it came from."""
    from policywatch.redact import redact
    from policywatch.watchlist.load import load_config

    try:
        [route] = load_config(watchlist).routes
    except ConfigError as exc:
        raise UsageError(f"--notify {redact(notify or '')}: {exc.detail}", hint=exc.hint) from None
    return route


def _show_alert(route: Route, data: Path) -> bool:
    """Print the queued alert as its route receives it; whether it was delivered."""
    from policywatch.alerts.notify import composed
    from policywatch.history.store import Store
    from policywatch.redact import redact

    with Store(data) as store:
        entries = store.alerts()
    for entry in entries:
        title, body = composed(route, entry["payload"]) or ("", "")
        status = "sent" if entry["status"] == "sent" else f"NOT sent: {entry.get('last_error')}"
        emit(f"\nThe alert, as the route {redact(route.url)} receives it ({status}):\n")
        emit(f"title: {title}\n\n{body}")
    if not entries:
        emit("\nno alert was queued for this change")
    return all(entry["status"] == "sent" for entry in entries)


@contextmanager
def _loopback_direct() -> Iterator[None]:
    """Reach 127.0.0.1 directly even when HTTP(S)_PROXY is set, so the demo never sends its
    loopback requests through a proxy (off this machine); other hosts keep the proxy."""
    saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
    for name, value in saved.items():
        os.environ[name] = ",".join(filter(None, [value, "127.0.0.1"]))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
