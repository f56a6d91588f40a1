"""A loopback TCP proxy a test can cut, to drop a workstation's database connection
without disturbing the shared test server."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._conns: list[socket.socket] = []
        # Cleared by swallow_replies(): the server's answers stop reaching the client.
        self._replies = threading.Event()
        self._replies.set()
        # Set by swallow_replies_from(): what, once the client sends it, ends the replies.
        self._trigger: bytes | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()  # the network is down: refuse at once
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b, gate in ((client, upstream, None), (upstream, client, self._replies)):
                threading.Thread(target=self._pipe, args=(a, b, gate), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, gate: threading.Event | None) -> None:
        with suppress(OSError):
            while chunk := src.recv(65536):
                trigger = self._trigger
                if gate is None and trigger is not None and trigger in chunk:
                    # It reaches the server; the answer to it, and all after, do not.
                    self._trigger = None
                    self._replies.clear()
                    threading.Timer(0.5, self.cut).start()
                if gate is None or gate.is_set():
                    dst.sendall(chunk)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until restore()."""
        self._open.clear()
        with self._lock:
            for s in self._conns:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._conns.clear()

    def swallow_replies(self) -> None:
        """From now on what the client sends still reaches the server, but nothing comes
        back (until restore()): a line that fails after a request went out."""
        self._replies.clear()

    def swallow_replies_from(self, request: bytes) -> None:
        """Once the client sends `request` (bytes of a protocol message, e.g. b"COMMIT"),
        it still reaches the server, but no answer comes back, and half a second later
        the line is cut: a request whose outcome the client never learns."""
        self._trigger = request

    def restore(self) -> None:
        self._replies.set()
        self._open.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()
