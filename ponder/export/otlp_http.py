"""OTLP/HTTP requests with a total deadline: what ponder sends spans through (the `otel` extra).

The SDK's own exporter bounds each socket operation, not the request: a collector that drips
its answer a byte at a time, or sends headers and then nothing, holds it for as long as it
likes, and it reads whatever body comes back whole. Here every request — connecting, sending,
the answer, retries and their back-off — runs under one `asyncio.timeout` of `timeout_s`, on an
event loop of the sender's own thread (so any thread may call, a running loop or not), and the
answer's body is read up to `BODY_CAP` bytes. `close()` cancels a request in flight.

`DeadlineSpanExporter` is the SDK `SpanExporter` over it (spans encoded as OTLP protobuf), and
keeps a `Tally` of what happened to every span it was given.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ponder._util.secrets import redact

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

BODY_CAP = 64 * 1024  # the most of a collector's answer that is read: enough for any error message
_RETRY_STATUSES = frozenset({429, 502, 503, 504})  # what OTLP/HTTP says a client should retry
_FIRST_BACKOFF_S = 0.5
_BACKSTOP_S = 2.0  # beyond the deadline, how long a caller waits for the loop itself before giving up


@dataclass(frozen=True)
class Answer:
    """How one request ended: `accepted` spans (of those sent), or an `error` line; `answered` if the
    collector replied at all (a refusal) rather than not in time or not at all."""

    accepted: int
    error: str | None = None
    answered: bool = True


@dataclass
class Tally:
    """What happened to the spans an exporter was given (guarded by `lock`)."""

    lock: threading.Lock
    sent: int = 0  # spans that went out in a request
    accepted: int = 0  # acknowledged by the collector
    refused: int = 0  # answered, but not accepted (an HTTP error, or rejected in a partial success)
    unanswered: int = 0  # no answer before the deadline, or the connection failed
    first_error: str | None = None

    def snapshot(self) -> tuple[int, int, int, int, str | None]:
        """(sent, accepted, refused, unanswered, first error), read together."""
        with self.lock:
            return self.sent, self.accepted, self.refused, self.unanswered, self.first_error


class OTLPHttp:
    """POSTs OTLP/HTTP protobuf bodies to `url`, each request bounded by `timeout_s` in total.

    Retries 429/502/503/504 and failed connections (honouring a Retry-After) while the deadline allows.
    """

    def __init__(self, url: str, headers: Mapping[str, str], timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._headers = {
            **headers,
            "content-type": "application/x-protobuf",
            "accept-encoding": "identity",  # a capped read of a compressed body could still inflate
        }
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._inflight: set[concurrent.futures.Future[Answer]] = set()
        self._closed = False

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError("closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="ponder-otlp-http", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def post(self, body: bytes, spans: int) -> Answer:
        """Send one request holding `spans` spans; how it ended (never raises, never outlives the deadline)."""
        try:
            loop = self._start()
        except RuntimeError:
            return Answer(0, "the exporter was closed", answered=False)
        future = asyncio.run_coroutine_threadsafe(self._post(body, spans), loop)
        with self._lock:
            self._inflight.add(future)
        try:
            return future.result(timeout=self.timeout_s + _BACKSTOP_S)
        except concurrent.futures.CancelledError:
            return Answer(0, "cancelled: the exporter was closed", answered=False)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Answer(0, f"no answer within {self.timeout_s:g} s", answered=False)
        except Exception as e:  # an unusable URL or the like: one line, never a crash of the sweep
            return Answer(0, _short(f"{type(e).__name__}: {e}"), answered=False)
        finally:
            with self._lock:
                self._inflight.discard(future)

    async def _post(self, body: bytes, spans: int) -> Answer:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), follow_redirects=False)
        client = self._client
        last: Answer | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                delay = _FIRST_BACKOFF_S
                while True:
                    answer, retry_after = await self._attempt(client, body, spans)
                    if retry_after is None:
                        return answer
                    last = answer
                    await asyncio.sleep(max(delay, retry_after))
                    delay *= 2
        except TimeoutError:
            why = f"no complete answer within {self.timeout_s:g} s"
            if last is not None:
                why = f"{last.error}, retried until the {self.timeout_s:g} s deadline"
            return Answer(0, why, answered=last is not None and last.answered)

    async def _attempt(self, client: httpx.AsyncClient, body: bytes, spans: int) -> tuple[Answer, float | None]:
        """One request: its answer, and the seconds to wait before retrying it (None: do not retry)."""
        try:
            async with client.stream("POST", self.url, content=body, headers=self._headers) as resp:
                data = await _read_capped(resp)
                status = resp.status_code
                retry_after = _retry_after(resp.headers.get("retry-after"))
        except httpx.TransportError as e:
            return Answer(0, _short(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__), False), 0.0
        if 200 <= status < 300:
            rejected, message = _partial_success(data, spans)
            if rejected:
                return Answer(spans - rejected, _short(f"{rejected} spans rejected: {message}")), None
            return Answer(spans), None
        error = _short(f"HTTP {status}" + (f": {_text_of(data)}" if data.strip() else ""))
        if status in _RETRY_STATUSES:
            return Answer(0, error), retry_after or 0.0
        return Answer(0, error), None

    def close(self) -> None:
        """Cancel what is in flight and stop the sender's loop (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread, inflight = self._loop, self._thread, list(self._inflight)
        for future in inflight:
            future.cancel()
        if loop is None or thread is None:
            return
        if self._client is not None:
            done = asyncio.run_coroutine_threadsafe(self._client.aclose(), loop)
            with contextlib.suppress(Exception):  # a client that cannot close in time is left to the process's end
                done.result(timeout=_BACKSTOP_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_BACKSTOP_S)
        if not thread.is_alive():
            loop.close()


async def _read_capped(resp: httpx.Response) -> bytes:
    buf = bytearray()
    async for chunk in resp.aiter_raw():
        buf += chunk
        if len(buf) >= BODY_CAP:  # the rest is never read: the connection is dropped instead
            break
    return bytes(buf[:BODY_CAP])


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: wait as a plain back-off would
        return None


def _partial_success(data: bytes, spans: int) -> tuple[int, str]:
    """(spans rejected, the collector's message) from an OTLP answer; (0, "") when it is not one."""
    if not data or len(data) >= BODY_CAP:
        return 0, ""
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        answer = ExportTraceServiceResponse.FromString(data)
    except Exception:  # a JSON or text answer: a 2xx accepts the batch
        return 0, ""
    rejected = min(max(int(answer.partial_success.rejected_spans), 0), spans)
    return rejected, answer.partial_success.error_message


def _text_of(data: bytes) -> str:
    return data[:300].decode("utf-8", "replace")


def _short(reason: str, limit: int = 160) -> str:
    """An error as a short single line (secrets redacted)."""
    line = " ".join(redact(reason).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def deadline_exporter(url: str, headers: Mapping[str, str], timeout_s: float) -> Any:
    """A `DeadlineSpanExporter` (built here so that the SDK is imported only when the extra is used)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class DeadlineSpanExporter(SpanExporter):
        """Sends each batch as one OTLP/HTTP request under `OTLPHttp`'s deadline; counts every span's fate."""

        def __init__(self) -> None:
            self.http = OTLPHttp(url, headers, timeout_s)
            self.tally = Tally(lock=threading.Lock())

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            n = len(spans)
            try:
                body = encode_spans(spans).SerializeToString()
            except Exception as e:  # a span the encoder refuses: the batch is not sent, said once
                answer = Answer(0, _short(f"could not encode the spans ({type(e).__name__}: {e})"), answered=False)
            else:
                with self.tally.lock:
                    self.tally.sent += n
                answer = self.http.post(body, n)
            with self.tally.lock:
                t = self.tally
                t.accepted += answer.accepted
                lost = n - answer.accepted
                if answer.answered:
                    t.refused += lost
                else:
                    t.unanswered += lost
                if answer.error is not None and t.first_error is None:
                    t.first_error = answer.error
            return SpanExportResult.SUCCESS if answer.accepted == n else SpanExportResult.FAILURE

        def shutdown(self) -> None:
            self.http.close()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return DeadlineSpanExporter()


__all__ = ["BODY_CAP", "Answer", "OTLPHttp", "Tally", "deadline_exporter"]
