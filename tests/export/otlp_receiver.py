"""A tiny OTLP/HTTP trace collector for tests (loopback only): it decodes what it receives.

    with OTLPReceiver() as rx:               # serves POST /v1/traces on 127.0.0.1, a free port
        ... send to rx.url ...
        rx.wait_for(lambda spans: len(spans) >= 3, timeout=30)

Each request body is decoded with opentelemetry-proto (which the `otel` extra brings) into
`Received` rows; the raw bytes and headers are kept too, to check nothing secret was sent.
`hold` (an event) makes every request wait for it (up to `hold_timeout` seconds) before it is
answered, for a collector that is slow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class ReceivedSpan:
    """One span as the collector got it."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class Received:
    """One export request: its headers, raw body and decoded spans."""

    headers: dict[str, str]
    body: bytes
    spans: list[ReceivedSpan] = field(default_factory=list)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return None if kind is None else getattr(v, kind)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP/HTTP protobuf trace export request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for rs in request.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    ReceivedSpan(
                        name=s.name,
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        attributes=_attrs(s.attributes),
                        resource=resource,
                    )
                )
    return spans


class OTLPReceiver:
    """Serves `POST /v1/traces` on 127.0.0.1 (a free port) until closed; keeps every request."""

    def __init__(self, hold: threading.Event | None = None, hold_timeout: float = 30.0) -> None:
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                row = Received(headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                status = 200
                try:
                    row.spans = decode(body)
                except Exception:  # not OTLP protobuf: refused, as a collector would
                    status = 400
                with outer.arrived:
                    outer.received.append(row)
                    outer.arrived.notify_all()
                if hold is not None:
                    hold.wait(hold_timeout)
                data = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The collector's base URL (ponder adds `/v1/traces`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self.arrived:
            return [s for r in self.received for s in r.spans]

    def wait_for(self, done: Callable[[list[ReceivedSpan]], bool], timeout: float) -> bool:
        """Wait (at most `timeout` s) until `done(spans received so far)`; whether it came true."""
        with self.arrived:
            return self.arrived.wait_for(lambda: done([s for r in self.received for s in r.spans]), timeout)

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
