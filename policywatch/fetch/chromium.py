"""Which Chromium policywatch runs, and with which flags.

Playwright is an optional extra and the browser is never downloaded: we use
Debian's Chromium (`/usr/bin/chromium`) or `POLICYWATCH_CHROMIUM`. Without
either, `fetch` reports the page `blocked` with the fix, never a change.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlsplit

from policywatch.fetch.tab import first_line

CHROMIUM_ENV = "POLICYWATCH_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_EXTRA = "install the browser extra: pip install 'policywatch[browser]'"
INSTALL_CHROMIUM = f"install Chromium: apt-get install chromium, or set {CHROMIUM_ENV}"

# Headless, no GPU, and none of Chromium's own background traffic (updates,
# sync, field trials): a monitor must only ever request the pages it watches.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


# The proxy settings Chromium reads from its environment, and the ports of those that name none.
_PROXY_VARIABLES = frozenset({"all_proxy", "http_proxy", "https_proxy", "socks_server"})
_PROXY_PORTS = {"http": 80, "https": 443} | dict.fromkeys(
    ("socks", "socks4", "socks4a", "socks5", "socks5h"), 1080
)


def launch_args() -> list[str]:
    """CHROMIUM_ARGS, and the environment's proxies marked as public addresses.

    Chromium refuses a public page's requests to a private or loopback address,
    WebSockets too, which no request pause of ours ever sees. It judges a page by
    the address it came from, and through a proxy (read from the environment, as
    we launch it) that is the proxy's, often private: a page fetched through it
    could then open a WebSocket to this machine or its network. Marked public,
    the proxy's pages are judged as the internet's.
    """
    proxies = {v for k, v in os.environ.items() if k.lower() in _PROXY_VARIABLES and v}
    endpoints = sorted({endpoint for url in proxies for endpoint in _endpoints(url)})
    overrides = [f"--ip-address-space-overrides={','.join(endpoints)}"] if endpoints else []
    return [*CHROMIUM_ARGS, *overrides]


def _endpoints(proxy: str) -> list[str]:
    """`address:port=public` for each address a proxy URL names (none if it names none)."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    try:
        port = parts.port or _PROXY_PORTS.get(parts.scheme)
        if port is None or not parts.hostname:
            return []
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):  # no such host (yet), or a bad URL
        return []
    hosts = {info[4][0] for info in found}
    return [f"[{h}]:{port}=public" if ":" in h else f"{h}:{port}=public" for h in hosts]


def locate(executable: str | None) -> tuple[str | None, str | None]:
    """(path of the Chromium to run, None) or (None, why there is none and how to fix it)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return None, f"the Playwright package is not installed; {INSTALL_EXTRA}"
    found = chromium_path(executable)
    if found is not None:
        return found, None
    for wanted, origin in (
        (executable, "the configured path"),
        (os.environ.get(CHROMIUM_ENV), CHROMIUM_ENV),
    ):
        if wanted:
            return None, f"Chromium not found at {wanted} ({origin}); {INSTALL_CHROMIUM}"
    return None, f"no Chromium found; {INSTALL_CHROMIUM}"


def chromium_path(executable: str | None = None) -> str | None:
    """The Chromium to run: the configured path, else POLICYWATCH_CHROMIUM, else the system's."""
    wanted = executable or os.environ.get(CHROMIUM_ENV)
    if wanted:
        return shutil.which(wanted)
    for candidate in (DEFAULT_CHROMIUM, "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def available(executable: str | None = None) -> str | None:
    """None when pages can be rendered; otherwise the reason and the fix, for a `blocked` report."""
    return locate(executable)[1]


def launch_failure(exc: BaseException) -> str:
    """What the browser itself printed while failing to start (a missing library, a bad flag).

    Playwright's own first line ("browser has been closed") says nothing useful;
    the browser's stderr, which it quotes under "Browser logs", usually does.
    """
    logs = str(exc).split("Call log:", 1)[0]
    said = [line.split("[err] ", 1)[1].strip() for line in logs.splitlines() if "[err] " in line]
    return " | ".join(said[-3:]) or first_line(exc)
