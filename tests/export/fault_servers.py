"""Misbehaving OTLP collectors on loopback, for the export deadline tests.

    with FaultCollector("drip") as fc:       # 127.0.0.1, a free port, until closed
        ... export to fc.url ...

Modes (each reads the request first, as a collector would):
- `drip`: answers `HTTP/1.1 200 OK…` one byte every `every` seconds, forever.
- `hang`: never answers.
- `reset`: closes the connection with a TCP reset.
- `headers`: sends the headers of a 200 with a 1 MB body, then nothing.
- `huge`: answers 200 with an endless body, written as fast as the client reads it.
- `partial`: answers 200 with an OTLP partial success rejecting `rejected` spans.
`written` counts the body bytes the server managed to write (for `huge`).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from types import TracebackType


class FaultCollector:
    """A TCP server on 127.0.0.1 that answers OTLP/HTTP requests badly, as `mode` says."""

    def __init__(self, mode: str, *, every: float = 0.2, rejected: int = 2) -> None:
        self.mode = mode
        self.every = every
        self.rejected = rejected
        self.requests = 0
        self.written = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        self.requests += 1

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        try:
            self._read_request(conn)
            getattr(self, f"_{self.mode}")(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def _wait(self) -> None:
        while not self._stop.wait(0.1):
            pass

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n" + b"x-pad: " + b"." * 10_000
        for byte in answer:
            if self._stop.wait(self.every):
                return
            conn.sendall(bytes([byte]))

    def _hang(self, conn: socket.socket) -> None:
        self._wait()

    def _reset(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _headers(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000000\r\n\r\n")
        self._wait()

    def _huge(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 536870912\r\n\r\n")
        block = b"\0" * 65536
        conn.settimeout(5.0)
        while not self._stop.is_set() and self.written < 536870912:
            conn.sendall(block)
            self.written += len(block)

    def _partial(self, conn: socket.socket) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        answer = ExportTraceServiceResponse()
        answer.partial_success.rejected_spans = self.rejected
        answer.partial_success.error_message = "span too large"
        body = answer.SerializeToString()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    def __enter__(self) -> FaultCollector:
        self._accepter.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._sock.close()
        deadline = time.monotonic() + 5
        for th in [self._accepter, *self._threads]:
            th.join(max(0.0, deadline - time.monotonic()))
