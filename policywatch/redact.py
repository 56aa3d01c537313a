"""Masking credentials in URLs before a person or a log collector sees them.

Notify URLs carry passwords and webhook tokens (`slack://T/B/SECRET`,
`discord://ID/TOKEN`, `mailtos://user:PASS@host`), and some are nothing but a
plain word (`ntfy://ntfy.sh/TOPIC`, `gotify://host/TOKEN`); page URLs can carry
credentials too (`https://user:pass@intranet/...`, presigned `?X-Amz-Signature=...`).
Anything that shows, stores for display, logs or sends a URL goes through this module:
`redact` for notify URLs, `redact_page_url` for pages.
It sits below every other module so fetch, config, store, alerts and notify can
all use the one helper.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "****"

# Query keys whose values are credentials whatever they look like.
_SECRET_KEY = re.compile(r"pass|pwd|token|secret|key|auth|sig|cred|session|code|hook", re.I)
# Query keys naming a notify URL's targets (apprise's `?to=`, ntfy's topics): a target
# other than an email address (an ntfy topic, a webhook id) is a credential.
_TARGET_KEY = re.compile(r"to|topics?", re.I)
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}")
_HOSTNAME = re.compile(
    r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}|localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]"
)
_URL_HEAD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?]*)(.*)$", re.S)
# Path segments after which every segment is a webhook id or token, whatever it looks like.
_HOOK_MARKERS = frozenset({"hook", "hooks", "webhook", "webhooks", "services", "trigger"})
# What may stand before such a marker in a service's own API path (`/api/v10/webhooks/`):
# anything else before it is the sender's own path, and may be its secret.
_API_PREFIX = re.compile(r"|api|v\d+", re.IGNORECASE)


def looks_secret(piece: str) -> bool:
    """Whether a URL piece reads like a token or id rather than a word, address or name.

    Apprise puts tokens in the host, the path and the query (`tgram://BOTTOKEN/CHAT`,
    `https://hooks.slack.com/services/T../B../X..`), so we judge each piece by its
    shape: long, or mixing digits into letters, or mixed case inside the word.
    """
    text = unquote(piece)
    if not text or _EMAIL.fullmatch(text):
        return False
    if len(text) >= 20:
        return True
    if len(text) >= 5 and any(c.isdigit() for c in text):
        return True
    return len(text) >= 8 and any(c.isupper() for c in text[1:]) and any(c.islower() for c in text)


def _mask_if(piece: str, secret: bool) -> str:
    return MASK if secret and piece else piece


def _redact_authority(authority: str) -> str:
    """The authority with the password, a token-like user and a token host (`discord://ID/...`)
    masked."""
    userinfo, at, hostport = authority.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon or not port.isdigit():
        host, colon, port = hostport, "", ""
    hostport = f"{_mask_if(host, not _HOSTNAME.fullmatch(host))}{colon}{port}"
    if not at:
        return hostport
    user, has_password, _ = userinfo.partition(":")
    user = _mask_if(user, looks_secret(user))
    return f"{user}{':' + MASK if has_password else ''}@{hostport}"


def _redact_path(path: str) -> str:
    """Mask every segment but the service's own API path up to a webhook marker.

    A notify URL's path is its targets and tokens (`ntfy://host/TOPIC`, `gotify://host/TOKEN`,
    `json://host/PATH`), and a plain word can be the whole credential, so shape decides
    nothing there; only an API path such as `/api/webhooks/` in front of `ID/TOKEN` stays
    readable, unless it looks like a token itself.
    """
    segments = path.split("/")
    public = 0
    for i, segment in enumerate(segments):  # a marker counts only after `api` or `v10`
        if segment.lower() in _HOOK_MARKERS:
            public = i
            break
        if not _API_PREFIX.fullmatch(segment):
            break
    return "/".join(
        _mask_if(segment, i > public or looks_secret(segment)) for i, segment in enumerate(segments)
    )


def _redact_query(query: str, notify: bool = True) -> str:
    """Mask values under secret-sounding keys, and in a notify URL token-shaped values
    and targets other than email addresses."""
    pairs = []
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        name = unquote(key)
        secret = bool(_SECRET_KEY.search(name))
        if notify and not secret:
            target = bool(_TARGET_KEY.fullmatch(name)) and not _EMAIL.fullmatch(unquote(value))
            secret = target or looks_secret(value)
        pairs.append(f"{key}{eq}{_mask_if(value, secret)}")
    return "&".join(pairs)


def redact(url: str) -> str:
    """A notify URL with its credentials masked, safe to log or print; scheme and host stay.

    Passwords and path segments always go (but a webhook API path such as
    `/api/webhooks/`); user names, query values and dotless hosts go when they look
    like tokens; query values under keys such as `pass`, `token`, `key`, and targets
    (`?to=`) other than email addresses, go whatever they look like. Text that is not
    a URL at all is masked whole, since we cannot tell which part is the secret.
    """
    match = _URL_HEAD.match(url.strip())
    if not match:
        return MASK
    scheme, authority, rest = match.groups()
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    authority = _redact_authority(authority)
    fragment = _mask_if(fragment, looks_secret(fragment))
    redacted = f"{scheme}://{authority}{_redact_path(path)}"
    if question:
        redacted += "?" + _redact_query(query)
    return redacted + (hash_ + fragment if hash_ else "")


def redact_page_url(url: str) -> str:
    """A watched page's URL as people, logs and alerts may see it; the path stays whole.

    Page paths carry ids that look like tokens (`/external/G200386250`) and are
    what a reader needs, so only the user info and the values of secret query
    keys (`token=`, `key=`, `sig=`, `X-Amz-Signature=`, ...) are masked. The
    real URL is still the one fetched.
    """
    match = _URL_HEAD.match(url.strip())
    if not match:
        return url
    scheme, authority, rest = match.groups()
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        authority = f"{MASK}{':' + MASK if ':' in userinfo else ''}@{hostport}"
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    redacted = f"{scheme}://{authority}{path}"
    if question:
        redacted += "?" + _redact_query(query, notify=False)
    return redacted + hash_ + fragment
