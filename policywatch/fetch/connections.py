"""The guarded connections: every socket checked by the network policy and cut at its deadline.

A peer that trickles its body one byte a second, or never answers, cannot stretch an
attempt past the page's timeout: a reaper thread closes the socket when time is up.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import weakref
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from policywatch.fetch import netpolicy


class Deadline:
    """A wall-clock limit on one attempt (connect, headers, body) that a slow peer cannot stretch.

    Socket timeouts bound each recv, not the whole answer: a server sending one
    byte a second, or an endless chunked body, never trips them. So when the
    time is up (on the monotonic clock) `_Reaper` cuts (shuts down) every socket
    the attempt uses: the blocked read returns at once, whatever phase it is in,
    and the attempt sees `expired`. The sockets are found through the connection
    classes below, which report to the deadline of the thread using them.
    """

    _current = threading.local()
    # The attempt that used each socket last: a kept-alive connection a redirect hop gave
    # back to the pool may serve another page while the first attempt still runs, and
    # that attempt's deadline must not cut it then.
    _owners: ClassVar[weakref.WeakKeyDictionary[socket.socket, Deadline]] = (
        weakref.WeakKeyDictionary()
    )
    _owners_lock = threading.Lock()

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        Deadline._current.value = self
        _REAPER.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        Deadline._current.value = None
        with self._lock:
            self.done = True
            self._sockets.clear()

    @classmethod
    def watch(cls, sock: object) -> None:
        """Put a socket of the current attempt under its deadline (no-op outside one)."""
        deadline = getattr(cls._current, "value", None)
        if deadline is None or not isinstance(sock, socket.socket):
            return
        with cls._owners_lock:
            previous = cls._owners.get(sock)
            cls._owners[sock] = deadline
        if previous is not None and previous is not deadline:
            previous._forget(sock)
        with deadline._lock:
            deadline._sockets.append(sock)
            if deadline.expired:
                _cut(sock)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets = [s for s in self._sockets if s is not sock]

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self._sockets:
                _cut(sock)


class _Reaper:
    """One thread that expires every attempt's deadline on time: no thread per fetch."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties never compare two deadlines
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            # Woken only for a deadline that comes before all the others: pages of one
            # timeout are added in the order they end, and a wake-up per fetch made the
            # thread fight the fetch workers for the interpreter lock on every page.
            sooner = not self._due or deadline.ends < self._due[0][0]
            heapq.heappush(self._due, (deadline.ends, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="policywatch-deadlines", daemon=True
                )
                self._thread.start()
            if sooner:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                left = self._due[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._due)[2].expire()


_REAPER = _Reaper()


def _cut(sock: socket.socket) -> None:
    """Wake any thread blocked on the socket: its read returns end-of-file at once.

    `socket.socket.shutdown` on the file descriptor, not SSLSocket's override, which
    would drop the TLS object under the reading thread.
    """
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        Deadline.watch(sock)  # before the TLS handshake, which a peer can trickle too
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        Deadline.watch(self.sock)  # a reused keep-alive connection made no new socket
        return super().getresponse(*args, **kwargs)


class _WatchedTLSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class Adapter(HTTPAdapter):
    """Connections that dial only what the address policy allows and obey the attempt's deadline.

    Proxied connections are watched too; the policy leaves them to the proxy (see netpolicy).
    """

    def __init__(self, allow_private: bool, **options: Any) -> None:
        policy = {"allow_private": allow_private}
        plain = type("_Http", (netpolicy.Guarded, _WatchedConnection), policy)
        tls = type("_Https", (netpolicy.Guarded, _WatchedTLSConnection), policy)
        self._pools = {
            "http": type("_HttpPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("_HttpsPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
        }
        super().__init__(**options)  # builds the pool manager, so the pools come first

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


class GuardedSession(requests.Session):
    """A Session that reads proxy and CA-bundle settings from the environment once per host.

    requests scans os.environ for them (and matches NO_PROXY) on every request, a
    tenth of a millisecond each time, paid for every page of every poll. A Fetcher
    serves one check, so reading them at its first request to a host still honours
    HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE as set when the check starts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_origin: dict[tuple[str, str, bool | None], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: bool | None, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or verify is not None or cert is not None:  # set for this request
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, netloc, *_ = urlsplit(url)
        key = (scheme, netloc, stream)
        settings = self._by_origin.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, stream, None, None)
            self._by_origin[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}
