"""Log lines for people and for log collectors, with secrets scrubbed on the way out.

A container runs for months and its logs end up in places (collectors, support
tickets) where a Slack token or an SMTP password must never appear, so every
record passes through one redacting filter before any handler writes it. Both
formats write one line per event: `text` for people, `json` for collectors.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from policywatch.printable import printable, printable_json
from policywatch.redact import MASK, looks_secret, redact, redact_page_url

Format = Literal["text", "json"]
FORMATS: tuple[Format, ...] = ("text", "json")

# Anything URL-shaped in a message: apprise URLs (slack://, mailtos://) and http(s) alike.
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s'\"<>]+", re.IGNORECASE)
_DELIMITERS = re.compile(r"([/?&=:@#])")
# A secret piece shorter than this is masked inside its URL only: masking "abc" everywhere
# would garble ordinary words. A piece that reads like a word (an ntfy topic, a webhook
# path) needs the longer length: masking "alerts" everywhere would garble our own lines.
_MIN_PIECE_LEN = 6
_MIN_WORD_LEN = 12

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class _Secrets:
    """The notify URLs of the loaded watchlist and their token-like pieces."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._urls: dict[str, str] = {}
        self._pieces: set[str] = set()

    def add(self, urls: Iterable[str]) -> None:
        with self._lock:
            for url in urls:
                self._urls[url] = redact(url)
                self._pieces.update(_token_pieces(url))

    def scrub(self, text: str) -> str:
        with self._lock:
            urls = sorted(self._urls.items(), key=lambda kv: -len(kv[0]))
            pieces = sorted(self._pieces, key=len, reverse=True)
        for url, masked in urls:
            text = text.replace(url, masked)
        for piece in pieces:
            text = text.replace(piece, MASK)
        return _URL.sub(_redact_url, text)


def _redact_url(match: re.Match[str]) -> str:
    """Notify-style URLs are redacted whole; http(s) URLs lose only their credentials.

    Page URLs are what a reader of the log needs (`.../external/G1801`), and
    `redact` would mask their path. The watchlist's own http(s) notify URLs are
    masked before this, by `_Secrets`.
    """
    url = match.group(0)
    if url.partition("://")[0].lower() in ("http", "https"):
        return redact_page_url(url)
    return redact(url)


def _token_pieces(url: str) -> set[str]:
    """The pieces of a notify URL that `notify.redact` masks: tokens, ids, the password.

    Apprise puts secrets in the host, the path and the query (`discord://ID/TOKEN`,
    `slack://T/B/X`, `json://host/?token=...`), and an error message may quote one
    of them without the rest of the URL. Masking never adds a delimiter, so the
    original and the redacted URL split into the same pieces, position by position.
    """
    original = _DELIMITERS.split(url)
    masked = _DELIMITERS.split(redact(url))
    if len(original) != len(masked):
        return set()
    return {
        piece
        for piece, shown in zip(original, masked, strict=True)
        if shown == MASK
        and piece != MASK
        and len(piece) >= (_MIN_PIECE_LEN if looks_secret(piece) else _MIN_WORD_LEN)
    }


SECRETS = _Secrets()


def add_secrets(urls: Iterable[str]) -> None:
    """Register notify URLs (after ${ENV} expansion) so no log line ever shows them."""
    SECRETS.add(urls)


def redact_text(text: str) -> str:
    """The text with known secrets masked and every URL passed through `notify.redact`."""
    return SECRETS.scrub(text)


class RedactFilter(logging.Filter):
    """Rewrites a record's message, extra fields and traceback with secrets masked.

    It formats the message itself (then drops `args`) so that a secret passed as
    a `%s` argument is caught too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)  # formatters use it as it is
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, redact_text(value))
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record, in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _logfmt(value: Any) -> str:
    """A value as it reads after `key=`: bare when it is one word, JSON-quoted otherwise."""
    text = value if isinstance(value, str) else str(value) if value is not None else "-"
    if text and not re.search(r"[\s\"=]", text):
        return text
    return printable_json(text)


class TextFormatter(logging.Formatter):
    """`2026-11-29T22:40:00Z INFO policywatch.pipeline page=x status=changed sections=1`.

    Messages quote what servers and pages said (a reason phrase, a header, a title), and
    log lines end up in terminals: every control is escaped (`printable`), and a line
    break in a message or traceback starts an indented row, never a line that could
    pass for an event of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        parts = [timestamp(record), record.levelname, record.name]
        message = record.getMessage()
        if message:
            parts.append(message)
        parts.extend(f"{k}={_logfmt(v)}" for k, v in extra_fields(record).items())
        text = " ".join(parts)
        if record.exc_text:
            text += "\n" + record.exc_text
        first, *rows = printable(text).split("\n")
        return "\n".join([first, *("    " + row for row in rows)])


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, exc if any.

    Collectors show these lines to people too, so controls are escaped (`printable_json`).
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            data.setdefault(key, value)
        if record.exc_text:
            data["exc"] = record.exc_text
        return printable_json(data, default=str)


def _not_apprise_chatter(record: logging.LogRecord) -> bool:
    """notify.py logs each failed send once, with the route and what happens next.

    apprise's own warning for the same failure would say it again with less; it is
    still seen by notify, which reads apprise's logger to record why a send failed.
    """
    return record.levelno >= logging.ERROR or not record.name.startswith("apprise")


class _Handler(logging.StreamHandler):
    """The handler `setup` installs (a second call replaces it).

    Without a stream of its own it writes to whatever `sys.stderr` is when a
    record comes, as logging's last-resort handler does, so code that swaps
    stderr (test runners, embedding programs) never leaves it writing to a
    closed file.
    """

    def __init__(self, stream: TextIO | None) -> None:
        logging.Handler.__init__(self)
        self._stream = stream

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return self._stream if self._stream is not None else sys.stderr


def setup(level: int = logging.INFO, fmt: Format = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records (ours and libraries') through one redacting handler.

    Libraries log too (urllib3 logs request URLs, apprise logs its targets), so
    the filter sits on the root handler rather than on our own loggers.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(FORMATS)}")
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler.addFilter(_not_apprise_chatter)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is one more line in the same format
