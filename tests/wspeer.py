"""A WebSocket server on loopback: what a private service on the watching machine looks like.

It answers every handshake and sends one message, the secret a hostile page would
like to read, and keeps the request line of every handshake it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading

SECRET = "INTERNAL-SECRET-OF-THIS-MACHINE"
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's


class WebSocketPeer:
    """`WebSocketPeer().start()`; `handshakes` lists the request line of each one received."""

    def __init__(self) -> None:
        self.handshakes: list[str] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> WebSocketPeer:
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
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

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
