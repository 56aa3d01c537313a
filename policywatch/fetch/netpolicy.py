"""Which addresses a watched page may be fetched from: the guard against SSRF.

A watched page is somebody else's server. A redirect from it to the cloud
metadata service (169.254.169.254), to an intranet host (10.x) or to another
port on this machine would otherwise be followed, and whatever answered stored
and shown as a policy version. So every hop is checked on the address it
resolves to, not on its name, and plain HTTP connects to exactly the address
that was checked (a name re-resolved between check and connect could point
elsewhere: DNS rebinding).

- public addresses: always allowed;
- private and loopback (10/8, 172.16/12, 192.168/16, 100.64/10, 127/8, fc00::/7,
  ::1 ...): only for a page with `allow_private: true`;
- link-local (169.254/16, fe80::/10), cloud metadata addresses and names,
  unspecified and multicast: never;
- any scheme but http and https: never.

Through an HTTP(S) proxy we never see the address the proxy connects to, and a
lookup of our own could differ from the proxy's (split DNS) or be forbidden on
a proxy-only network. So through a proxy we refuse what the URL itself shows
(scheme, address literals, metadata names, `localhost`), and the proxy, which
the operator chose, is trusted with the rest.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from requests.utils import get_environ_proxies, requote_uri
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
# AWS (fd00:ec2::254 over IPv6), ECS task metadata, Alibaba Cloud; GCP and Azure use the first.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
# Names cloud resolvers map to the metadata service; refused before any lookup.
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data.ec2.internal"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # ::a.b.c.d, deprecated but still parsed
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # ::ffff:0:a.b.c.d (SIIT)
# Private in practice though Python calls them global: carrier-grade NAT, local-use NAT64
# prefixes (whose IPv4 part sits where each network chooses), and IPv6 site-local.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n) for n in ("100.64.0.0/10", "64:ff9b:1::/48", "fec0::/10")
)
NEVER = "policywatch never fetches these, even with `allow_private: true`"
ALLOW_HINT = "set `allow_private: true` on this page if it really is an intranet page"


class Refused(Exception):
    """A hop the policy forbids; `reason` says why and what the user may do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def shown_url(url: str) -> str:
    """A hop's URL fit for a report: no userinfo or query (secrets), no control bytes."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return requote_uri(f"{parts.scheme}://{host}{port}{parts.path}")[:200]


def _embedded(address: Address) -> Address:
    """The IPv4 address an IPv6 one stands for: ::ffff:a.b.c.d, ::ffff:0:a.b.c.d,
    64:ff9b::a.b.c.d, 6to4's 2002:aabb:ccdd::, and the old ::a.b.c.d (but :: and ::1 are
    IPv6's own)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        carried = address in _NAT64 or address in _IPV4_TRANSLATED
        if carried or (address in _IPV4_COMPATIBLE and int(address) > 1):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_refusal(address: Address, allow_private: bool) -> str | None:
    """Why a page may not be fetched from `address`, or None when it may."""
    ip = _embedded(address)
    if address in METADATA_ADDRESSES or ip in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address; {NEVER}"
    if ip.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there); {NEVER}"
    if ip.is_unspecified or ip.is_multicast:
        return f"{address} is not a host address; {NEVER}"
    if ip.is_global and not any(ip in network for network in _NOT_PUBLIC):
        return None
    if allow_private:
        return None
    kind = "loopback" if ip.is_loopback else "private (non-public)"
    return f"{address} is a {kind} address; {ALLOW_HINT}"


# What inet_aton reads as an IPv4 address besides the dotted quad: 2852039166, 0xa9fea9fe,
# 0251.0376.0251.0376, 127.1. A proxy dials them as addresses, so they are judged as such.
_LOOSE_IPV4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    if _LOOSE_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, allow_private: bool) -> None:
    """Refuse a hop by what its URL alone shows: scheme, metadata or loopback name, address literal.

    This is all that can be checked for a request sent through a proxy; a direct
    connection also checks the address it dials (see `Guarded`).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise Refused(f"{parts.scheme or 'no'} scheme; only http and https pages are fetched")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Refused("the URL has no host")
    if host in METADATA_NAMES:
        raise Refused(f"{host} is the cloud metadata service; {NEVER}")
    literal = _literal(host)
    if literal is None and (host == "localhost" or host.endswith(".localhost")):
        literal = ipaddress.ip_address("127.0.0.1")  # RFC 6761: always this machine
    reason = address_refusal(literal, allow_private) if literal is not None else None
    if reason:
        raise Refused(f"{host}: {reason}" if _literal(host) is None else reason)


def check_for_browser(url: str, allow_private: bool) -> None:
    """The policy for a request the browser is about to make (it resolves names itself).

    Unless a proxy will carry the request, the name is resolved and every address
    checked; Chromium looks it up again, so this narrows DNS rebinding to the
    moment between the two lookups rather than closing it as the HTTP path does.
    """
    check_url(url, allow_private)
    if get_environ_proxies(url):
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if _literal(host) is not None:
        return
    try:
        resolved_addresses(host, None, allow_private)
    except socket.gaierror:
        raise Refused(f"{host} does not resolve") from None


def resolved_addresses(host: str, port: int | None, allow_private: bool) -> list[str]:
    """Resolve once; every address must be allowed (a name mixing in a forbidden one is refused).

    Raises socket.gaierror when the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for text in addresses:
        reason = address_refusal(ipaddress.ip_address(text.split("%", 1)[0]), allow_private)
        if reason:
            named = f"{host} resolves to an address policywatch refuses: {reason}"
            raise Refused(named if _literal(host) is None else reason)
    return addresses


class Guarded:
    """Connects only to an address the policy allows, and to exactly the one it checked.

    A connection through a proxy dials the proxy, which the operator chose; the
    target was checked by name before the request (see `check_url`).
    """

    allow_private = False

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        if conn.proxy is not None:
            return super()._new_conn()  # type: ignore[misc]
        name = conn._dns_host
        try:
            addresses = resolved_addresses(name, conn.port, self.allow_private)
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        failure: Exception | None = None
        for address in addresses:
            conn._dns_host = address  # dial the checked address; TLS still checks the name
            try:
                return super()._new_conn()  # type: ignore[misc]
            except (NewConnectionError, ConnectTimeoutError) as exc:
                failure = exc
            finally:
                conn._dns_host = name
        assert failure is not None
        raise failure
