"""A real server on loopback that answers as slowly as a hostile or broken site can.

It speaks raw HTTP over a socket, so it can do what no well-behaved server
does: send its status line and headers one byte a second, trickle a body one
byte a second, or send an endless chunked body, a small chunk every so often.
"""

from __future__ import annotations

import socket
import threading
from typing import Literal, Self

Trickle = Literal["headers", "body", "chunked"]

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: 100000\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
)
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


class RawPeer:
    """A server on loopback that speaks raw bytes, each connection in a thread of its own;
    subclasses say what it answers (`_serve`)."""

    def __init__(self) -> None:
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SlowPeer(RawPeer):
    """`SlowPeer("body").start()`, then fetch `peer.url`; every connection trickles."""

    def __init__(self, trickle: Trickle, every: float = 1.0) -> None:
        super().__init__()
        self.trickle = trickle
        self.every = every  # seconds between two sends

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/policy"

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request; its content does not matter
                if self.trickle == "headers":
                    self._drip(conn, HEAD)
                elif self.trickle == "body":
                    conn.sendall(HEAD)
                    self._drip(conn, b"<html><body><p>" + b"a" * 99985)
                else:
                    conn.sendall(CHUNKED_HEAD)
                    while not self._stop.wait(self.every):
                        conn.sendall(b"7\r\n<p>word\r\n")
            except OSError:
                return  # the client gave up: what a timeout is for

    def _drip(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(self.every):
                return
            conn.sendall(data[i : i + 1])
