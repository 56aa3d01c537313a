"""Which Chromium policywatch runs, and with which flags.

Playwright is an optional extra and the browser is never downloaded: we use
Debian's Chromium (`/usr/bin/chromium`) or `POLICYWATCH_CHROMIUM`. Without
either, `fetch` reports the page `blocked` with the fix, never a change.
"""

from __future__ import annotations

import os
import shutil

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
