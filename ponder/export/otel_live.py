"""Live OTLP export: each run is sent as soon as it finishes, never blocking the run.

`LiveExporter` is what `ponder run`/`ponder bench --otlp` (and `PONDER_OTLP_ENDPOINT`) use, and
what any code that learns of finished runs can call (`run_finished(store, run_id)`, then
`close()` once). A finished run is turned into spans on the caller's thread (a read of the
store) and handed to the OTel SDK's `BatchSpanProcessor`, whose worker thread does the HTTP.

The queue is bounded (`OTLPTarget.queue_spans` spans waiting to be sent). A run is admitted
whole or not at all, so a collector never shows half a trace: when its spans do not fit in
what is left of the queue (a collector that is slow or down), that run is skipped — counted,
named in the one stderr line, and sendable later with `ponder export RUN_ID`. Nothing waits for
room. `close()` flushes within a deadline. Whatever goes wrong (refused, unreachable, runs
skipped, deadline passed) is reported once, as one line, through `report`; the runs stay stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ponder._util.secrets import redact
from ponder.errors import PonderError
from ponder.export.otel import OTLPTarget, otlp_exporter, require_sdk, resource_of, span_fates
from ponder.export.otel_spans import RunSpans
from ponder.traces.store import TraceStore

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

Report = Callable[[str], None]


class LiveReport(BaseModel):
    """What a live exporter did, as of `close()`."""

    runs_sent: int  # runs whose spans were queued
    runs_skipped: list[str]  # runs left out because the queue had no room for them
    spans_queued: int
    spans_accepted: int  # acknowledged by the collector (all queued, when nothing went wrong)
    failed_batches: int
    flushed: bool  # everything queued was attempted before the deadline
    problem: str | None  # the one line reported, if any


class _Counts:
    """Thread-safe counters shared by the caller's thread and the SDK's worker thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued = 0  # spans handed to the batch processor
        self.taken = 0  # spans the processor has passed to the exporter (left the queue)
        self.failed_batches = 0
        self.first_failure: str | None = None  # why the first batch was not accepted
        self.abandoned = False  # the flush deadline passed: what is still queued is not sent

    def pending(self) -> int:
        with self.lock:
            return self.queued - self.taken


def _recording_exporter(inner: Any, counts: _Counts) -> Any:
    """`inner` (a `DeadlineSpanExporter`, whose tally says what the collector accepted) wrapped to
    count what left the queue, and to send nothing once the deadline has passed."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Recording(SpanExporter):
        def __init__(self) -> None:
            self.closed = False
            self.tally = inner.tally

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with counts.lock:
                if counts.abandoned:  # left after the deadline: reported as not sent, not tried
                    return SpanExportResult.FAILURE
                counts.taken += len(spans)
            result = inner.export(spans)
            if result != SpanExportResult.SUCCESS:
                with counts.lock:
                    counts.failed_batches += 1
                    if counts.first_failure is None:
                        counts.first_failure = inner.tally.snapshot()[4] or ""
            return result

        def shutdown(self) -> None:
            if not self.closed:  # once: also called to cancel a request in flight when the deadline passes
                self.closed = True
                inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return bool(inner.force_flush(timeout_millis))

    return Recording()


def _collector() -> Any:
    """A span processor that keeps the spans of the run being built, to admit them as a whole."""
    from opentelemetry.sdk.trace import SpanProcessor

    class Collect(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)

    return Collect()


class LiveExporter:
    """Sends each finished run to an OTLP/HTTP collector in the background (see the module doc).

    target: where to (its `queue_spans` bounds the queue, its `timeout_s` each request).
    report: called at most once, on the caller's thread, with the one line saying what went wrong.
    schedule_delay_ms: how long the SDK's worker waits to fill a batch before sending what it has.
    """

    def __init__(self, target: OTLPTarget, *, report: Report | None = None, schedule_delay_ms: int = 500) -> None:
        require_sdk()
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        import ponder

        self.target = target
        self._report = report
        self._counts = _Counts()
        self._lock = threading.Lock()  # one run is built and admitted at a time
        self._reported: str | None = None
        self._closed: LiveReport | None = None
        self._runs_sent = 0
        self._skipped: list[str] = []
        self._url = redact(target.traces_url())
        self._otel_logger = logging.getLogger("opentelemetry")
        self._old_log = (self._otel_logger.level, self._otel_logger.propagate)
        # the SDK logs every failed batch (with a traceback) and every dropped span; ponder says it once
        self._otel_logger.setLevel(logging.CRITICAL + 1)
        self._otel_logger.propagate = False
        self._exporter = _recording_exporter(otlp_exporter(target), self._counts)
        self._batch = BatchSpanProcessor(
            self._exporter,
            max_queue_size=target.queue_spans,
            max_export_batch_size=min(256, target.queue_spans),
            schedule_delay_millis=schedule_delay_ms,
        )
        self._collect = _collector()
        self._provider = TracerProvider(resource=resource_of(target), shutdown_on_exit=False)
        self._provider.add_span_processor(self._collect)
        self._tracer = self._provider.get_tracer("ponder", ponder.__version__)

    def run_finished(self, store: TraceStore, run_id: str) -> bool:
        """Queue `run_id` (with its child runs) for sending; True if it was queued.

        Never waits on the network: a run whose spans do not fit in the queue is skipped (and
        said once). A run that is not in `store` (it failed before it started) is passed over.
        """
        with self._lock:
            if self._closed is not None:
                raise PonderError("this live exporter is closed")
            try:
                run = store.get_run(run_id)
            except PonderError:
                return False
            emitter = RunSpans(store, self._tracer, self.target.content)
            # the count of what waits errs high (a batch leaves the queue just before it is counted),
            # so the SDK's own queue never overflows and never drops a span of an admitted run;
            # a run that cannot fit is skipped before any of it is built
            room = self.target.queue_spans - self._counts.pending()
            self._collect.spans.clear()
            try:
                fits = emitter.count(run.id) <= room
                if fits:
                    emitter.run(run, None)
            except Exception as e:  # an export problem never breaks the sweep that called it
                self._collect.spans.clear()
                self._say(
                    f"OTLP export: run {run_id} could not be made into spans ({_short(f'{type(e).__name__}: {e}')})"
                )
                return False
            spans, self._collect.spans = self._collect.spans, []
            if not fits or len(spans) > room:
                self._skipped.append(run_id)
                admitted = False
            else:
                with self._counts.lock:
                    self._counts.queued += len(spans)
                for span in spans:
                    self._batch.on_end(span)
                self._runs_sent += 1
                admitted = True
            self._say_failure()
            return admitted

    def _say_failure(self) -> None:
        with self._counts.lock:
            failure, queued = self._counts.first_failure, self._counts.queued
        if failure is not None:
            accepted = self._exporter.tally.snapshot()[1]
            why = f" ({_short(failure)})" if failure else ""
            self._say(
                f"OTLP export to {self._url} failed{why}: {accepted} of {queued} spans accepted so far "
                f"(is a collector listening there? check --otlp and --header); the runs are stored, "
                f"`ponder export` can send them later"
            )

    def _say(self, line: str) -> None:
        if self._reported is None:
            self._reported = line
            if self._report is not None:
                self._report(line)

    def close(self, deadline_s: float | None = None) -> LiveReport:
        """Send what is queued, waiting at most `deadline_s` (default: the request timeout + 5 s); say what failed.

        Idempotent: a second call returns the first call's report.
        """
        with self._lock:
            if self._closed is not None:
                return self._closed
            deadline = self.target.timeout_s + 5.0 if deadline_s is None else deadline_s
            # what the collector had answered when the deadline passed (later, the request in flight is cut)
            flushed, (_, accepted, refused, unanswered, why) = self._flush(deadline)
            with self._counts.lock:
                queued, taken = self._counts.queued, self._counts.taken
            self._provider.shutdown()
            if flushed:  # else the SDK's thread may still log as it winds down: it stays quiet
                self._otel_logger.setLevel(self._old_log[0])
                self._otel_logger.propagate = self._old_log[1]
            problems = []
            if accepted < queued:
                # spans that left the queue but were in none of the exporter's counts were in flight
                late = 0 if flushed else max(taken - accepted - refused - unanswered, 0)
                fates = span_fates(queued, accepted, refused, unanswered, queued - taken, late=late)
                cause = f" ({_short(why)})" if why else ""
                problems.append(fates + ("" if flushed else f" when the {deadline:g} s deadline passed") + cause)
            if self._skipped:
                shown = ", ".join(self._skipped[:3]) + (" …" if len(self._skipped) > 3 else "")
                n = len(self._skipped)
                problems.append(
                    f"{n} run{'s' * (n != 1)} not sent (the live queue of {self.target.queue_spans} spans was full): "
                    f"{shown}"
                )
            if problems:
                self._say(
                    f"OTLP export to {self._url}: {'; '.join(problems)}; the runs are stored, send them later with "
                    f"`ponder export RUN_ID --otlp URL`"
                )
            self._closed = LiveReport(
                runs_sent=self._runs_sent,
                runs_skipped=list(self._skipped),
                spans_queued=queued,
                spans_accepted=accepted,
                failed_batches=self._counts.failed_batches,
                flushed=flushed,
                problem=self._reported,
            )
            return self._closed

    def _flush(self, deadline: float) -> tuple[bool, tuple[int, int, int, int, str | None]]:
        """Send what is queued; False if `deadline` seconds passed first (the rest is then dropped), with
        the exporter's tally as it stood then."""
        # the SDK's shutdown sends everything queued and joins its worker, but neither it nor
        # force_flush honours a deadline: it runs on a thread of its own, joined with ours
        flusher = threading.Thread(target=self._batch.shutdown, name="ponder-otlp-flush", daemon=True)
        flusher.start()
        flusher.join(deadline)
        if not flusher.is_alive():
            return True, self._exporter.tally.snapshot()
        with self._counts.lock:
            self._counts.abandoned = True
        tally = self._exporter.tally.snapshot()
        self._exporter.shutdown()  # cancels the request in flight (and any retry wait) at once
        return False, tally

    def __enter__(self) -> LiveExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(reason: str, limit: int = 160) -> str:
    """An exporter's error as a short single line (secrets redacted)."""
    line = " ".join(redact(reason).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
