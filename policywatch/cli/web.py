"""`policywatch serve` and `policywatch site`: the web view, live or as static files.

Both read the data directory only. The watchlist is optional: with it, pages get their titles
and diffs flag the watched terms their alerts flagged; without it the store alone is shown.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable
from pathlib import Path

from policywatch.cli.common import emit, open_store, watchlist_if_any
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


def cmd_serve(args: argparse.Namespace) -> int:
    _web_extra()
    from waitress.server import create_server

    from policywatch.web.app import open_app

    open_store(args).close()
    app = open_app(args.data_dir, watchlist_if_any(args))
    try:
        server = create_server(app, host=args.host, port=args.port, threads=4, ident="policywatch")
    except ValueError:  # waitress's word for a host that names no address
        raise UsageError(
            f"--host {args.host}: not an address of this machine, nor a name that resolves",
            hint="give 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or a host name",
        ) from None
    except OSError as exc:
        raise _cannot_listen(exc, _where(args.host, args.port)) from None
    host, port = server.effective_host, server.effective_port  # type: ignore[union-attr]
    print(f"serving {args.data_dir} at http://{_where(host, port)}/ (read-only)", flush=True)
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


def _where(host: str, port: int) -> str:
    """host:port as a URL writes it, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _cannot_listen(exc: OSError, where: str) -> UsageError:
    """Why serve could not bind, in one line with what to do: the generic system-error line
    would name the data folder and suggest its permissions, which are not the cause."""
    if exc.errno == errno.EADDRINUSE:
        why, hint = "another process holds it", "stop it, or pick another --port (0: any free one)"
    elif exc.errno == errno.EACCES:
        why, hint = "not allowed to listen on it", "pick a --port above 1023"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = "the address is not one of this machine's"
        hint = "give 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) as --host"
    else:
        why, hint = exc.strerror or str(exc), "pick another --host or --port"
    return UsageError(f"cannot serve on {where}: {why}", hint=hint)


def _port(text: str) -> int:
    """An argparse type for --port: 1-65535, or 0 for any free port. Out of that range the
    socket layer wraps the number (99999 bound 34463) or fails with a traceback."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to 65535 (or 0 for any free port), got {text}"
        )
    return port


def cmd_site(args: argparse.Namespace) -> int:
    _web_extra()
    from policywatch.web.site import build_site

    open_store(args).close()
    report = build_site(args.data_dir, args.out, watchlist_if_any(args))
    emit(f"{args.out}: {report.written} file(s) written, {report.kept} unchanged")
    return 0


def add_web(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Register `serve` and `site` with the main parser's `command` helper."""
    p = command("serve", cmd_serve, "serve a read-only web view of the data directory")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (default: 8080; 0: any free)")
    p = command("site", cmd_site, "write the web view as static files, feeds included")
    p.add_argument("out", type=Path, metavar="OUT", help="folder to write (rewritten in place)")
