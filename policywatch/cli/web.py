"""`policywatch serve` and `policywatch site`: the web view, live or as static files.

Both read the data directory only. The watchlist is optional: with it, pages get their titles
and diffs flag the watched terms their alerts flagged; without it the store alone is shown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from policywatch.cli.common import emit, load_watchlist, open_store
from policywatch.errors import UsageError

NEEDS_EXTRA = "the web view needs the web extra: pip install 'policywatch[web]'"


def _web_extra() -> None:
    """Refuse in one line when jinja2, waitress or feedgen are not installed."""
    try:
        import feedgen  # noqa: F401
        import jinja2  # noqa: F401
        import waitress  # noqa: F401
    except ImportError:
        raise UsageError(NEEDS_EXTRA) from None


def _config(args: argparse.Namespace):
    return load_watchlist(args) if args.config.exists() else None


def cmd_serve(args: argparse.Namespace) -> int:
    _web_extra()
    from waitress.server import create_server

    from policywatch.web.app import open_app

    open_store(args).close()
    app = open_app(args.data_dir, _config(args))
    server = create_server(app, host=args.host, port=args.port, threads=4, ident="policywatch")
    host, port = server.effective_host, server.effective_port  # type: ignore[union-attr]
    shown = f"[{host}]" if ":" in str(host) else host
    print(f"serving {args.data_dir} at http://{shown}:{port}/ (read-only)", flush=True)
    if app.credentials is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            "warning: no POLICYWATCH_WEB_USER/POLICYWATCH_WEB_PASSWORD set; "
            f"anyone who reaches {args.host}:{port} can read the view",
            file=sys.stderr,
        )
    try:
        server.run()
    finally:
        server.close()
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    _web_extra()
    from policywatch.web.site import build_site

    open_store(args).close()
    report = build_site(args.data_dir, args.out, _config(args))
    emit(f"{args.out}: {report.written} file(s) written, {report.kept} unchanged")
    return 0


def add_web(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Register `serve` and `site` with the main parser's `command` helper."""
    p = command("serve", cmd_serve, "serve a read-only web view of the data directory")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0: any free)")
    p = command("site", cmd_site, "write the web view as static files, feeds included")
    p.add_argument("out", type=Path, metavar="OUT", help="folder to write (rewritten in place)")
