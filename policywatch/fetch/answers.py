"""Judging an HTTP answer: which statuses are final, which are worth a retry, and what to say."""

from __future__ import annotations

import abc
import contextlib
import email.utils
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

import requests
import urllib3
import urllib3.connection

from policywatch.content import FetchResult
from policywatch.models import PageSpec

RETRY_AFTER_CAP = 60.0  # never sleep longer than this on one Retry-After
RETRY_BUDGET = 120.0  # total seconds one page may spend waiting between attempts
CHUNK_BYTES = 64 * 1024


class Closing(abc.ABC):
    """`with fetcher:` closes it: a run's sessions and browser must not outlive it."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the fetcher holds; it is not used afterwards."""


_HTML_TYPES = ("text/", "application/xhtml+xml", "application/xml")


_STATUS_ADVICE = {
    401: "the page now needs a login; check the URL in a browser",
    403: "the site refused this client (blocked or login required); check the URL in a browser "
    "and consider a longer interval",
    404: "the page moved or was removed; check the URL",
    410: "the page was removed; find its new URL",
}


@dataclass(frozen=True)
class Transient:
    """A failed attempt worth retrying: a network error, a 429 or a 5xx."""

    reason: str
    advice: str
    http_status: int | None = None
    final_url: str | None = None
    retry_after: float | None = None


class TooLarge(Exception):
    """The body passed the byte cap; the page is not read further."""


def judge_status(
    page: PageSpec, response: requests.Response, etag: str | None, last_modified: str | None
) -> FetchResult | Transient | None:
    """The outcome of an answer that carries no usable body, or None to read the body."""
    status = response.status_code
    final_url = response.url
    label = f"HTTP {status} {response.reason or ''}".rstrip()
    if status == 304:
        return FetchResult(
            url=page.url,
            status="not_modified",
            final_url=final_url,
            http_status=status,
            etag=response.headers.get("ETag") or etag,
            last_modified=response.headers.get("Last-Modified") or last_modified,
        )
    if status == 429 or status >= 500:
        advice = (
            "the site is rate-limiting us; raise the page's interval or lower defaults.per_host"
            if status == 429
            else "the site is having trouble; the next poll will try again"
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Transient(label, advice, status, final_url, retry_after)
    if status >= 400:
        advice = _STATUS_ADVICE.get(
            status, "the server rejected the request; check the URL and the page's headers"
        )
        return error_result(page, f"{label}: {advice}", status, final_url)
    if not 200 <= status < 300:
        return error_result(
            page, f"unexpected {label}; check the URL in a browser", status, final_url
        )
    content_type = response.headers.get("Content-Type")
    if content_type and not content_type.lower().startswith(_HTML_TYPES):
        return error_result(
            page,
            f"not a web page (Content-Type: {content_type}); policywatch reads HTML pages",
            status,
            final_url,
        )
    return None


def timed_out(seconds: float) -> str:
    """The reason given for a page that ran out of its time, whichever way it was fetched."""
    return (
        f"timed out after {seconds:g} s (no answer in full within the page's timeout); "
        "the site is very slow or trickling the page: raise the page's timeout if it is just slow"
    )


def drain(response: requests.Response) -> None:
    """Read a short unwanted body so the connection can be reused rather than reset."""
    with contextlib.suppress(urllib3.exceptions.HTTPError, OSError):
        response.raw.read(CHUNK_BYTES, decode_content=False)


def error_result(
    page: PageSpec, reason: str, http_status: int | None = None, final_url: str | None = None
) -> FetchResult:
    return FetchResult(
        url=page.url, status="error", final_url=final_url, http_status=http_status, reason=reason
    )


def network_trouble(page: PageSpec, exc: requests.RequestException) -> Transient:
    if isinstance(exc, requests.Timeout):
        return Transient(
            f"no answer from {page.host} within {page.timeout:.0f} s",
            "raise the page's timeout or check the network",
        )
    return Transient(
        f"could not connect to {page.host} ({root_cause(exc)})",
        "check the URL and the network",
    )


def root_cause(exc: BaseException) -> str:
    """The innermost error message: 'Connection refused', not a urllib3 pool repr."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1).strip() if match else text


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def read_body(response: requests.Response, limit: int) -> bytes:
    """Read the body in chunks, stopping at the byte cap (wire and decompressed)."""
    too_large = TooLarge(
        f"page larger than {limit} bytes; raise defaults.max_bytes if this page really is that big"
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    # A body still trickling at the deadline ends here: `Deadline` cuts the socket.
    while chunk := response.raw.read(CHUNK_BYTES, decode_content=True):
        size += len(chunk)
        if size > limit or response.raw.tell() > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def retry_delay(
    backoff: float, attempt: int, retry_after: float | None, waited: float
) -> tuple[float, str | None]:
    """Seconds to wait before the next attempt, or why we stop retrying now."""
    if retry_after is not None and retry_after > RETRY_AFTER_CAP:
        return 0.0, (
            f"the server asked us to wait {retry_after:.0f} s, longer than the "
            f"{RETRY_AFTER_CAP:.0f} s one poll waits; the next poll will try again"
        )
    backoff = backoff * 2 ** (attempt - 1)
    delay = backoff / 2 + random.uniform(0, backoff / 2)  # jitter spreads out retries
    delay = min(max(delay, retry_after or 0.0), RETRY_AFTER_CAP)
    if waited + delay > RETRY_BUDGET:
        return 0.0, (
            f"gave up after waiting {waited:.0f} s in retries; the next poll will try again"
        )
    return delay, None


def failed_result(page: PageSpec, outcome: Transient, reason: str, started: float) -> FetchResult:
    return FetchResult(
        url=page.url,
        status="error",
        final_url=outcome.final_url,
        http_status=outcome.http_status,
        reason=reason,
        elapsed=time.monotonic() - started,
    )
