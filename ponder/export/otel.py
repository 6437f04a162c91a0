"""Recorded runs as OpenTelemetry spans, sent over OTLP/HTTP (the `otel` extra).

One run is one trace. The run is an `invoke_agent` span; each event is a span nested as the
event tree is (structure events — tree nodes, plan steps, trials, sampled paths — are
internal spans); each model call is a `chat` span and each tool call an `execute_tool` span,
with the GenAI semantic conventions (`gen_ai.*`) and the OpenInference attributes
(`openinference.span.kind`, `llm.input_messages.N.*`) that Phoenix, Langfuse, LangSmith,
Weave and Opik read. Child runs (Reflexion's trials) nest under the event that started them.
Times are the recording's. Message content is included unless `content=False`; every string
passes `redact`, so no API key or Authorization value is ever exported.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ponder._util.secrets import redact, register_secret
from ponder.errors import ConfigError, PonderError
from ponder.export.otel_spans import RunSpans
from ponder.traces.store import TraceStore

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

_SDK_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.common.trace_encoder")
BATCH_SPANS = 512  # spans per request of `ponder export`
INSTALL_HINT = 'pip install "ponder[otel]"  (or pip install -e ".[otel]" in a checkout)'
ENV_ENDPOINT = "PONDER_OTLP_ENDPOINT"


class ExportError(PonderError):
    """An OTLP export failed (endpoint refused, unreachable, or the extra is missing)."""


class OTLPTarget(BaseModel):
    """Where spans go: an OTLP/HTTP endpoint, the headers it wants, whether content is sent.

    endpoint: the collector's base URL (``http://127.0.0.1:6006``) or its traces URL
    (``…/v1/traces``). headers: sent with every request (a tool's auth token), never exported
    or printed. content: include prompts, replies, tool arguments and results. project: the
    `openinference.project.name` resource attribute (Phoenix files the traces under it).
    timeout_s: each request's total deadline (connecting, sending, the answer, retries: see
    `otlp_http`). queue_spans: in live mode, the most spans waiting to be sent (a finished run that
    does not fit is skipped and said; see `otel_live`).
    """

    endpoint: str
    headers: dict[str, str] = Field(default_factory=dict)
    content: bool = True
    project: str = "ponder"
    timeout_s: float = Field(default=10.0, gt=0)
    queue_spans: int = Field(default=8192, ge=1)

    def traces_url(self) -> str:
        """The URL spans are POSTed to."""
        return traces_url(self.endpoint)


class ExportReport(BaseModel):
    """What an export sent: `spans` made, `sent` to the collector, `accepted` by it."""

    runs: int
    spans: int
    sent: int
    accepted: int
    endpoint: str


def traces_url(endpoint: str) -> str:
    """`endpoint` as an OTLP/HTTP traces URL (``/v1/traces`` added to a base URL); `ConfigError` if not http(s)."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--otlp {endpoint!r}: give an http(s) URL, e.g. http://127.0.0.1:6006")
    url = endpoint.strip().rstrip("/")
    return url if parts.path.rstrip("/").endswith("/v1/traces") else url + "/v1/traces"


def parse_headers(pairs: Sequence[str]) -> dict[str, str]:
    """`["K=V", ...]` as a dict; the values are registered as secrets (never printed)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--header {key.strip() or pair!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
        register_secret(value.strip())
    return out


class _Stopped(Exception):
    """A batch was not accepted: the export stops (a collector that failed once is not tried per batch)."""


def _batches(exporter: Any, size: int) -> Any:
    """A span processor that sends every `size` ended spans at once, on the thread that ends them.

    Nothing queues beyond one batch (memory stays flat for any run); the first batch that is not
    accepted raises `_Stopped` out of the span's `end()`, which ends the export.
    """
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExportResult

    class Batches(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []
            self.failed = False

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)
            if len(self.spans) >= size:
                self.send()

        def send(self) -> None:
            batch, self.spans = self.spans, []
            if batch and not self.failed and exporter.export(batch) != SpanExportResult.SUCCESS:
                self.failed = True
            if self.failed:
                raise _Stopped

        def shutdown(self) -> None:
            exporter.shutdown()

    return Batches()


@contextmanager
def _quiet_otel_logs() -> Iterator[None]:
    # the exporter logs each failure with a traceback; ponder reports one line instead
    logger = logging.getLogger("opentelemetry")
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def require_sdk() -> None:
    try:
        missing = [m for m in _SDK_MODULES if importlib.util.find_spec(m) is None]
    except ImportError:  # a parent package is missing altogether
        missing = [_SDK_MODULES[0]]
    if missing:
        raise ExportError(f"OTLP export needs the otel extra: {INSTALL_HINT} ({missing[0]} is missing)")


def resource_of(target: OTLPTarget) -> Any:
    """The OTel resource every ponder trace carries (service, version, Phoenix project)."""
    from opentelemetry.sdk.resources import Resource

    import ponder

    return Resource.create(
        {"service.name": "ponder", "service.version": ponder.__version__, "openinference.project.name": target.project}
    )


def otlp_exporter(target: OTLPTarget) -> Any:
    """ponder's OTLP/HTTP span exporter for `target`: each request under a total deadline, answers read
    up to a cap (`otlp_http`); its header values are registered as secrets."""
    from ponder.export.otlp_http import deadline_exporter

    for value in target.headers.values():
        register_secret(value)
    return deadline_exporter(target.traces_url(), dict(target.headers), target.timeout_s)


def export_runs(store: TraceStore, run_ids: Sequence[str], target: OTLPTarget) -> ExportReport:
    """Send each run (with its child runs) as one trace to `target`; `ExportError` (one line) if it failed.

    Spans are sent `BATCH_SPANS` at a time as they are made (memory does not grow with the run).
    Each request has `target.timeout_s` in all; the first that fails ends the export, so against a
    collector that is down, hangs, drips or resets, it ends within about that timeout.
    """
    require_sdk()
    from opentelemetry.sdk.trace import TracerProvider

    import ponder

    url = target.traces_url()
    provider = TracerProvider(resource=resource_of(target), shutdown_on_exit=False)
    exporter = otlp_exporter(target)
    batches = _batches(exporter, BATCH_SPANS)
    provider.add_span_processor(batches)
    emitter = RunSpans(store, provider.get_tracer("ponder", ponder.__version__), target.content)
    total = sum(emitter.count(rid) for rid in run_ids)
    with _quiet_otel_logs():
        try:
            for rid in run_ids:
                emitter.run(store.get_run(rid), None)
            batches.send()
        except _Stopped:
            pass
        finally:
            provider.shutdown()
    sent, accepted, refused, unanswered, error = exporter.tally.snapshot()
    if accepted < total:
        raise ExportError(
            f"OTLP export to {redact(url)} failed ({error or 'the export stopped'}): "
            f"{span_fates(total, accepted, refused, unanswered, total - sent)} "
            f"(is a collector listening there? check --otlp, --header and --timeout)"
        )
    return ExportReport(runs=len(run_ids), spans=total, sent=sent, accepted=accepted, endpoint=redact(url))


def span_fates(total: int, accepted: int, refused: int, unanswered: int, unsent: int, *, late: int = 0) -> str:
    """`3 of 10 spans accepted (2 refused, 5 not sent)`: what became of every span, zeros left out."""
    parts = [
        f"{refused} refused" if refused else "",
        f"{unanswered} got no answer" if unanswered else "",
        f"{late} still unanswered at the deadline" if late else "",
        f"{unsent} not sent" if unsent else "",
    ]
    rest = ", ".join(p for p in parts if p)
    return f"{accepted} of {total} spans accepted" + (f" ({rest})" if rest else "")


def target_from(
    endpoint: str | None, headers: Sequence[str], *, content: bool, env: Mapping[str, str]
) -> OTLPTarget | None:
    """The live-mode target from `--otlp` (else `PONDER_OTLP_ENDPOINT`), or None when neither is set.

    `PONDER_OTLP_TIMEOUT` (seconds, default 10) bounds each export request, retries included.
    """
    url = endpoint or env.get(ENV_ENDPOINT)
    if not url:
        return None
    timeout = env.get("PONDER_OTLP_TIMEOUT")
    try:
        seconds = float(timeout) if timeout else 10.0
    except ValueError:
        raise ConfigError(f"PONDER_OTLP_TIMEOUT={timeout!r}: give seconds, e.g. 10") from None
    target = OTLPTarget(endpoint=url, headers=parse_headers(headers), content=content, timeout_s=seconds)
    target.traces_url()  # a bad URL is bad input, said before the run starts
    return target


def experiment_run_ids(store: TraceStore, experiment_id: str) -> list[str]:
    """The top-level runs of an experiment, oldest first (child runs go with their parents)."""
    runs = store.list_runs(experiment_id=experiment_id, top_level=True, limit=1_000_000)
    return [r.id for r in sorted(runs, key=lambda r: (r.started_at, r.id))]
