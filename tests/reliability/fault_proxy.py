"""A TCP proxy on loopback, in front of a real SMTP server, that cuts connections at chosen protocol points.

It reads the client's byte stream the way the server does (command lines,
then after ``DATA`` the body up to the ``CRLF.CRLF`` that ends it), counts
messages (one per ``DATA`` command, across connections) and, for the
messages a plan names, ends the connection:

- ``before-data``: the ``DATA`` command is not forwarded; the client sees
  the connection close while waiting for 354;
- ``body`` at ``offset``: the first ``offset`` body bytes reach the server,
  then both sides are closed (the server discards the unterminated DATA);
- ``before-dot``: the whole body up to its last line (the multipart close
  delimiter) reaches the server, then the cut, before the client's dot;
- ``after-dot``: the dot reaches the server, which accepts the message; its
  reply is swallowed and the client connection closed (the client cannot
  know whether the server has it: in doubt).

A cut closes the client socket with a FIN (``reset=False``: a later write by
the client still succeeds, the hard case) or an RST (``reset=True``). Every
cut is logged in ``events`` with whether the client's dot had already
reached the proxy (``dot_seen``): a client that sent its dot before the cut
is legitimately in doubt even for a cut meant to land earlier.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from dataclasses import dataclass

CLOSE_DELIMITER = re.compile(rb"\r\n--[^\r\n]+--\r\n\Z")
END_OF_DATA = b"\r\n.\r\n"


@dataclass(frozen=True)
class Cut:
    kind: str  # before-data | body | before-dot | after-dot
    offset: int = 0

    def __str__(self) -> str:
        return f"{self.kind}@{self.offset}" if self.kind == "body" else self.kind


@dataclass
class CutEvent:
    message: int  # 1-based, counted at each DATA command
    cut: Cut
    forwarded: int  # body bytes the server received
    dot_seen: bool  # the client's final dot had reached the proxy when it cut
    rcpt: str = ""  # the message's (last) recipient, as the client gave it in RCPT TO


class FaultProxy:
    """Forward ``127.0.0.1:port`` to ``upstream``; cut the messages named in ``cuts`` (or ``every`` message)."""

    def __init__(
        self, upstream_port: int, *, cuts: dict[int, Cut] | None = None, every: Cut | None = None, reset=False
    ):
        self.upstream = ("127.0.0.1", upstream_port)
        self.cuts = dict(cuts or {})
        self.every = every
        self.reset = reset
        self.events: list[CutEvent] = []
        self.messages = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut_done = threading.Event()
        self._cut_planned = False
        threading.Thread(target=self._accept, daemon=True, name="fault-proxy").start()

    # --- the test's side -------------------------------------------------------------------

    def heal(self) -> None:
        """Forward everything from now on."""
        with self._lock:
            self.cuts.clear()
            self.every = None

    def wait_for_cut(self, timeout: float = 5.0) -> bool:
        """Block until the next cut has happened (then reset): lets a test order its own step after the cut."""
        done = self._cut_done.wait(timeout)
        self._cut_done.clear()
        return done

    def wait_for_planned_cut(self, timeout: float = 5.0) -> None:
        """If the message in transfer has a cut planned inside its body, block until it has happened.

        The client sends the body and then the dot without waiting for the
        server, so which comes first, the proxy's cut or the client's check
        before the dot, is a race between two threads. A test calls this from
        the client's own database step before the dot (Django's public
        ``connection.execute_wrapper``) to make "the hang-up arrived before
        the dot" deterministic.
        """
        if self._cut_planned:
            self._cut_planned = False
            self._cut_done.wait(timeout)

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)

    # --- the proxy ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._sockets += [client, server]
            link = _Link(self, client, server)
            threading.Thread(target=link.client_to_server, daemon=True).start()
            threading.Thread(target=link.server_to_client, daemon=True).start()

    def _next_message(self) -> tuple[int, Cut | None]:
        with self._lock:
            self.messages += 1
            cut = self.cuts.pop(self.messages, None) or self.every
            if cut is not None and cut.kind in ("body", "before-dot"):
                self._cut_done.clear()
                self._cut_planned = True
            return self.messages, cut


class _Link:
    """One proxied connection: the client's stream is parsed, the server's replies are passed on (or swallowed)."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket):
        self.proxy, self.client, self.server = proxy, client, server
        self.swallow_reply: CutEvent | None = None  # after-dot: the server's next reply is not forwarded
        self.in_body = False
        self.line = b""
        self.body = 0  # body bytes forwarded for the current message
        self.tail = b""  # the last body bytes, to find CRLF.CRLF across reads
        self.message = 0
        self.rcpt = ""
        self.cut: Cut | None = None
        self.closed = False

    def cut_now(self, event: CutEvent) -> None:
        """Close the client first (what the test is about), then the server; log the cut before it is seen.

        What the client already sent is read first (without waiting): if its
        dot is there, the client wrote it before the cut, and is rightly in doubt.
        """
        self.closed = True
        if not event.dot_seen and event.cut.kind != "before-data":
            event.dot_seen = END_OF_DATA in self.tail + _drain(self.client)
        with self.proxy._lock:
            self.proxy.events.append(event)
        if self.proxy.reset:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        _close(self.client)
        _close(self.server)
        self.proxy._cut_done.set()

    def server_to_client(self) -> None:
        while not self.closed:
            try:
                data = self.server.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            event = self.swallow_reply
            if event is not None:  # the reply to the dot: the server has the message, the client never hears
                self.cut_now(event)
                return
            try:
                self.client.sendall(data)
            except OSError:
                break
        _close(self.client)

    def client_to_server(self) -> None:
        while not self.closed:
            try:
                data = self.client.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                if not self._feed(data):
                    return
            except OSError:
                break
        if not self.closed:
            _close(self.server)

    def _feed(self, data: bytes) -> bool:
        """Forward ``data`` (or cut); False once the connection is cut."""
        while data:
            if self.in_body:
                data = self._feed_body(data)
                if data is None:
                    return False
                continue
            end = data.find(b"\n")
            if end < 0:
                self.line += data
                self.server.sendall(data)
                return True
            piece, data = data[: end + 1], data[end + 1 :]
            line, self.line = self.line + piece, b""
            if line[:8].upper() == b"RCPT TO:":
                self.rcpt = line[8:].strip().strip(b"<>").decode("ascii", "replace")
            if line.strip().upper() == b"DATA":
                self.message, self.cut = self.proxy._next_message()
                if self.cut is not None and self.cut.kind == "before-data":
                    self.cut_now(CutEvent(self.message, self.cut, 0, False, self.rcpt))
                    return False
                self.in_body, self.body, self.tail = True, 0, b"\r\n"
            self.server.sendall(piece)
        return True

    def _feed_body(self, data: bytes) -> bytes | None:
        """Forward body bytes up to the end of DATA; return what follows it, or None after a cut."""
        window = self.tail + data
        found = window.find(END_OF_DATA)
        dot = found + 2 - len(self.tail) if found >= 0 else -1  # where the dot line starts in ``data``
        body = data[: max(dot, 0)] if dot >= 0 else data
        limit = self._cut_offset(body, dot_found=dot >= 0)
        if limit is not None:  # the cut lands in this read: forward up to it, then cut
            self.server.sendall(body[: max(limit - self.body, 0)])
            forwarded = min(limit, self.body + len(body))
            self.tail = window[-4:]  # all the client sent so far, forwarded or not: its dot may follow
            self.cut_now(CutEvent(self.message, self.cut, forwarded, dot >= 0, self.rcpt))
            return None
        if dot < 0:
            self.server.sendall(data)
            self.body += len(data)
            self.tail = window[-4:]
            return b""
        if self.cut is not None and self.cut.kind == "after-dot":
            self.swallow_reply = CutEvent(self.message, self.cut, self.body + len(body), True, self.rcpt)
        self.server.sendall(data[: dot + 3])  # the body and the ".\r\n"
        self.body += len(body)
        self.in_body = False
        return data[dot + 3 :]

    def _cut_offset(self, body: bytes, *, dot_found: bool) -> int | None:
        """The body offset to cut at if it falls in ``body`` (the bytes of this read before any dot).

        ``before-dot`` cuts once the body's last line (a multipart close
        delimiter) has arrived, or at the dot if it came in the same read.
        """
        cut = self.cut
        if cut is None:
            return None
        if cut.kind == "body" and self.body + len(body) >= cut.offset:
            return cut.offset
        if cut.kind == "before-dot" and (dot_found or CLOSE_DELIMITER.search(self.tail + body)):
            return self.body + len(body)
        return None


def _drain(sock: socket.socket) -> bytes:
    """Whatever ``sock`` has already received, without waiting for more."""
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536, socket.MSG_DONTWAIT):
            chunks.append(chunk)
    return b"".join(chunks)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
