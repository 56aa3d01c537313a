"""Delivering alerts through apprise, and keeping notify secrets out of every message.

Notify URLs carry passwords and webhook tokens (`slack://T/B/SECRET`,
`discord://ID/TOKEN`, `mailtos://user:PASS@host`), so anything that shows a URL
to a person goes through `policywatch.redact.redact`, which keeps the scheme and
host (enough to tell routes apart) and masks whatever looks like a credential.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import apprise

from policywatch import logs
from policywatch.alerts.compose import Alert
from policywatch.diff.markdown import markdown_escape
from policywatch.models import Route, Severity
from policywatch.redact import redact

log = logging.getLogger("policywatch.notify")  # the name operators filter on

# Apprise schemes that are email: they get the HTML body and no length cut.
EMAIL_PROTOCOLS = frozenset({"mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost"})
# Chat schemes: Markdown, cut to a length people read in a chat window.
CHAT_PROTOCOLS = frozenset(
    {
        "slack",
        "discord",
        "msteams",
        "tgram",
        "matrix",
        "matrixs",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "zulip",
        "gchat",
        "guilded",
        "revolt",
        "workflow",
        "workflows",
    }
)
CHAT_LIMIT = 3500  # Slack takes ~40k, but a readable alert is a screenful
CHAT_LIMITS = {"discord": 2000}
SEND_INTERVAL = 1.0  # seconds between two messages to one route within a delivery run
REASON_MAX = 500  # characters of a failure reason kept in the outbox
# Carries the outbox key on channels with custom headers (webhooks, email): a send cut off
# by a crash is repeated on the next run, and the receiver can drop the repeat by this key.
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SLACK_STRIKE = re.compile(r"(?<!\\)~~")


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class _Target:
    """A route's apprise object and how to write for it."""

    apprise: apprise.Apprise
    protocols: frozenset[str]
    body_format: apprise.NotifyFormat
    limit: int | None  # characters the body (with the title) may take; None = no cut


_TARGETS: dict[tuple[str, float], _Target | None] = {}
_SEND_LOCK = threading.Lock()  # one send at a time, so a capture sees only its own logs
_GUARDED_LOGGERS = ("apprise", "urllib3.connectionpool")


def _protocols(plugin: Any) -> frozenset[str]:
    names: set[str] = set()
    for attr in ("protocol", "secure_protocol"):
        value = getattr(plugin, attr, None)
        names.update([value] if isinstance(value, str) else value or ())
    return frozenset(n.lower() for n in names)


def _target(route: Route) -> _Target | None:
    """The cached apprise object for a route (None when apprise cannot use the URL)."""
    url = route.url
    if (url, route.timeout) in _TARGETS:
        return _TARGETS[url, route.timeout]
    _guard_library_logs(url)
    sender = apprise.Apprise(asset=apprise.AppriseAsset(app_id="policywatch"))
    target = None
    if sender.add(url):
        plugin = sender[0]
        plugin.request_rate_per_sec = 0  # deliver_pending paces sends itself
        protocols = _protocols(plugin)
        _set_timeout(plugin, url, route.timeout, protocols)
        maxlen = getattr(plugin, "body_maxlen", 0) or None
        if protocols & EMAIL_PROTOCOLS:
            target = _Target(sender, protocols, apprise.NotifyFormat.HTML, None)
        elif protocols & CHAT_PROTOCOLS:
            cap = min(CHAT_LIMITS.get(p, CHAT_LIMIT) for p in protocols & CHAT_PROTOCOLS)
            target = _Target(
                sender, protocols, apprise.NotifyFormat.MARKDOWN, min(cap, maxlen or cap)
            )
        else:
            target = _Target(sender, protocols, apprise.NotifyFormat.TEXT, maxlen)
    _TARGETS[url, route.timeout] = target
    return target


def _set_timeout(plugin: Any, url: str, timeout: float, protocols: frozenset[str]) -> None:
    """Wait `timeout` for the receiver's answer, unless the URL sets apprise's own `rto`.

    Apprise waits 4 s by default (its `rto` URL argument, the socket read timeout),
    then reports a failure for a message the receiver may well have taken. Email
    plugins hand their connect timeout (`cto`) to smtplib, which uses it for every
    step of the conversation, so there it is that one.
    """
    given = {k.lower() for k in parse_qs(urlsplit(url).query)}
    if "rto" not in given:
        plugin.socket_read_timeout = timeout
    if protocols & EMAIL_PROTOCOLS and "cto" not in given:
        plugin.socket_connect_timeout = timeout


def _guard_library_logs(url: str) -> None:
    """Scrub this route's secrets from apprise's and urllib3's own log records.

    Apprise logs webhook URLs in full at DEBUG, and urllib3 logs request paths
    (a Slack token is the path). A filter on those loggers rewrites each record
    before any handler sees it, including handlers we did not install.
    """
    logs.add_secrets([url])
    for name in _GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, logs.RedactFilter) for f in logger.filters):
            logger.addFilter(logs.RedactFilter())


def _title(alert: Alert, target: _Target) -> str:
    """The title as a chat channel may show it: page words in it (a section name, the page's
    own title) must not ping or link. Slack shows attachment titles as plain text."""
    if target.body_format != apprise.NotifyFormat.MARKDOWN:
        return alert.title
    return markdown_escape(alert.title, syntax="slack" not in target.protocols)


def _body(alert: Alert, target: _Target) -> str:
    if target.body_format == apprise.NotifyFormat.HTML:
        return alert.html
    fmt = "markdown" if target.body_format == apprise.NotifyFormat.MARKDOWN else "text"
    if target.limit is None:
        return alert.markdown if fmt == "markdown" else alert.text
    # Some channels (Discord, Telegram) put the title inside the same length budget.
    body = alert.fit(fmt, target.limit - len(_title(alert, target)) - 2)
    if "slack" in target.protocols:
        body = _SLACK_STRIKE.sub("~", body)  # Slack strikes with one tilde, not two
    return body


class _Capture(logging.Handler):
    """Collects what apprise says while it sends, so a failure has a reason."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))

    def reason(self) -> str | None:
        loud = [text for level, text in self.lines if level >= logging.WARNING]
        text = "; ".join(dict.fromkeys(loud or [t for _, t in self.lines[-1:]]))
        return text[:REASON_MAX] or None


_NOTIFY_TYPES = {
    "recovered": apprise.NotifyType.SUCCESS,
    "unreachable": apprise.NotifyType.WARNING,
}


def _notify_type(alert: Alert) -> apprise.NotifyType:
    if alert.kind in _NOTIFY_TYPES:
        return _NOTIFY_TYPES[alert.kind]
    if alert.severity >= Severity.CRITICAL:
        return apprise.NotifyType.FAILURE
    return (
        apprise.NotifyType.WARNING if alert.severity >= Severity.MAJOR else apprise.NotifyType.INFO
    )


@contextmanager
def _keyed(target: _Target, key: str | None) -> Iterator[None]:
    """The route's custom headers carry `key` (IDEMPOTENCY_HEADER) for one send.

    Delivery is at least once: a process killed after the receiver took a
    message but before it was marked sent sends it again on the next run, so
    receivers that can read headers get the means to drop the repeat.
    """
    headers = getattr(target.apprise[0], "headers", None)
    if key is None or not isinstance(headers, dict):
        yield
        return
    own = headers.get(IDEMPOTENCY_HEADER)
    headers[IDEMPOTENCY_HEADER] = key
    try:
        yield
    finally:
        if own is None:
            del headers[IDEMPOTENCY_HEADER]
        else:
            headers[IDEMPOTENCY_HEADER] = own


@dataclass(frozen=True)
class Sent:
    """How one send went; `maybe_arrived` is a failure the receiver may not have seen as one."""

    ok: bool
    reason: str | None = None
    maybe_arrived: bool = False


def send(
    route: Route, payload: Mapping[str, Any], *, key: str | None = None
) -> tuple[bool, str | None]:
    """Deliver one outbox payload to one route; never raises.

    `key` is the outbox entry's idempotency key, sent along where the channel
    takes headers. Returns (True, None) or (False, reason), the reason being
    what apprise logged about the failure, with the route's secrets masked.
    """
    sent = send_once(route, payload, key=key)
    return sent.ok, sent.reason


def composed(route: Route, payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """The title and body `send` hands apprise for this route (None: apprise cannot use the
    URL), so `policywatch demo` shows an alert in the very words a receiver gets."""
    alert = Alert.from_payload(payload)
    with _SEND_LOCK:
        target = _target(route)
    return (_title(alert, target), _body(alert, target)) if target else None


def send_once(route: Route, payload: Mapping[str, Any], *, key: str | None = None) -> Sent:
    """`send`, also telling a timeout (the message may have arrived) from a plain failure."""
    try:
        alert = Alert.from_payload(payload)
    except (KeyError, TypeError, ValueError) as exc:
        return Sent(False, f"the queued alert is unreadable ({exc.__class__.__name__}: {exc})")
    with _SEND_LOCK:
        target = _target(route)
        if target is None:
            return Sent(
                False,
                f"apprise cannot use the URL {redact(route.url)}; "
                "check it against https://github.com/caronc/apprise/wiki",
            )
        capture = _Capture()
        apprise_log = logging.getLogger("apprise")
        apprise_log.addHandler(capture)
        # Under -q the root level is ERROR and apprise's warnings (which hold the
        # reason: "HTTP error 500") would be dropped before any handler saw them.
        # The root handler's filter still keeps apprise's chatter off the screen.
        level = apprise_log.level
        apprise_log.setLevel(logging.DEBUG)
        started = time.monotonic()
        try:
            with _keyed(target, key):
                ok = bool(
                    target.apprise.notify(
                        body=_body(alert, target),
                        title=_title(alert, target),
                        body_format=target.body_format,
                        notify_type=_notify_type(alert),
                    )
                )
        except Exception as exc:  # a plugin bug must not stop delivery
            ok = False
            capture.lines.append((logging.ERROR, f"{exc.__class__.__name__}: {exc}"))
        finally:
            apprise_log.removeHandler(capture)
            apprise_log.setLevel(level)
            waited = time.monotonic() - started
    if ok:
        return Sent(True)
    reason = logs.redact_text(capture.reason() or "apprise reported a failure without a reason")
    # A failure only after the whole timeout is a receiver that had the message and did
    # not answer in time (apprise logs the timeout itself only at DEBUG, if at all).
    if waited >= route.timeout:
        reason = f"no answer within {route.timeout:g}s (the alert may have arrived): {reason}"
        return Sent(False, reason, maybe_arrived=True)
    return Sent(False, reason)
