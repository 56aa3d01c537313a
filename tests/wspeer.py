"""A WebSocket server on loopback: what a private service on the watching machine looks like.

It answers every handshake and sends one message, the secret a hostile page would
like to read, and keeps the request line of every handshake it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import socket

from tests.slowpeer import RawPeer

SECRET = "INTERNAL-SECRET-OF-THIS-MACHINE"
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's


class WebSocketPeer(RawPeer):
    """`WebSocketPeer().start()`; `handshakes` lists the request line of each one received."""

    def __init__(self) -> None:
        super().__init__()
        self.handshakes: list[str] = []

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                request = conn.recv(65536)
                lines = request.split(b"\r\n")
                key = next(
                    (
                        line.split(b":", 1)[1].strip()
                        for line in lines
                        if line.lower().startswith(b"sec-websocket-key:")
                    ),
                    None,
                )
                if key is None:
                    return  # connected, but no handshake came
                self.handshakes.append(lines[0].decode("latin-1"))
                accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                message = SECRET.encode()
                conn.sendall(bytes([0x81, len(message)]) + message)  # one text frame
                conn.recv(1024)  # until the page goes away
            except OSError:
                return
