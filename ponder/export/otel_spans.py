"""How a stored run becomes OpenTelemetry spans: the GenAI and OpenInference attributes of each.

The run is an `invoke_agent` span (OpenInference `AGENT`); each event a span nested as the
event tree is (`CHAIN`, `EVALUATOR` for ratings and votes); each model call a `chat` span
(`LLM`: `gen_ai.request.*`, `gen_ai.usage.*`, `llm.input_messages.N.*`); each tool call an
`execute_tool` span (`TOOL`). Child runs nest under the event that started them. A run is read
a page of events at a time, so memory does not grow with the run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ponder._util.secrets import redact
from ponder.traces.events import EventRecord, LLMCallRecord, RunRecord, ToolCallRecord
from ponder.traces.store import TraceStore

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer

_PAGE = 500  # events read at a time (with their llm and tool calls)
_NO_SEQ_BELOW, _NO_SEQ_ABOVE = -(2**62), 2**62
_ATTR_LIMIT = 32_000  # characters per attribute: a long prompt is kept, a runaway one is cut
_DATA_LIMIT = 4_000


def _span_context(ctx: Context) -> Any:
    """The span context held by `ctx`: ids only, not the span with its attributes."""
    from opentelemetry import trace

    return trace.get_current_span(ctx).get_span_context()


def _context(span_context: Any) -> Context:
    """A context whose current span is a (non-recording) stand-in with `span_context`, to parent spans on."""
    from opentelemetry import trace

    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


def _ns(t: float | None) -> int | None:
    return None if t is None else int(t * 1_000_000_000)


def _text(value: Any, limit: int = _ATTR_LIMIT) -> str:
    """A string safe to export: redacted, valid UTF-8 (a lone surrogate becomes U+FFFD), bounded."""
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    s = redact(s).encode("utf-8", "replace").decode("utf-8")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    """Set an attribute unless the value is None; strings are made safe, sequences kept homogeneous."""
    if value is None:
        return
    if isinstance(value, bool | int | float):
        attrs[key] = value
    elif isinstance(value, list | tuple):
        attrs[key] = [_text(v, 1000) for v in value]
    else:
        attrs[key] = _text(value)


# OpenInference span kinds of the events that are not model or tool calls
_EVENT_SPAN_KIND = {"evaluation": "EVALUATOR", "vote": "EVALUATOR"}


class RunSpans:
    """Turns one stored run (and its child runs) into spans through `tracer`."""

    def __init__(self, store: TraceStore, tracer: Tracer, content: bool) -> None:
        self.store = store
        self.tracer = tracer
        self.content = content
        self.spans = 0

    def _start_end(
        self,
        name: str,
        parent: Context | None,
        attrs: dict[str, Any],
        start: float | None,
        end: float | None,
        error: str | None = None,
    ) -> Context:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        kind = SpanKind.CLIENT if attrs.get("gen_ai.operation.name") == "chat" else SpanKind.INTERNAL
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attrs, start_time=_ns(start))
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, _text(error, 500)))
        span.end(end_time=_ns(end if end is not None and start is not None and end >= start else start))
        self.spans += 1
        return trace.set_span_in_context(span)

    def count(self, run_id: str) -> int:
        """How many spans `run` makes (the run and its child runs, their events and tool calls): two counts."""
        ids = self.store.with_descendants([run_id])
        return len(ids) + self.store.count_rows("events", ids) + self.store.count_rows("tool_calls", ids)

    def run(self, run: RunRecord, parent: Context | None) -> None:
        """Emit `run` as an `invoke_agent` span with everything under it.

        Streams: events are read a page at a time with their calls, and only the span contexts of
        events whose children are still to come are kept, so memory does not grow with the run.
        """
        end = run.ended_at or self.store.last_event_time(run.id) or run.started_at
        run_ctx = self._run_span(run, parent, end)
        waiting: dict[int, list[Any]] = {}  # seq -> [its span context, children still to come]
        child_at: dict[str, Any] = {}  # child run id -> the span context of the event that started it
        after, low = 0, _NO_SEQ_BELOW
        while True:
            page = self.store.events(run.id, after_seq=after, limit=_PAGE, with_data=True)
            if not page:
                break
            first, last = page[0].seq, page[-1].seq
            calls = {c.event_seq: c for c in self.store.iter_llm_calls(run.id, seqs=(first, last))}
            tools: dict[int | None, list[ToolCallRecord]] = defaultdict(list)
            for t in self.store.iter_tool_calls(run.id, seqs=(low, last)):
                tools[t.event_seq].append(t)
            for e in page:  # a parent's seq is always below its children's
                where = self._parent_of(e.parent_seq, waiting, run_ctx)
                call = calls.get(e.seq) if e.kind == "llm_call" else None
                ctx = self._chat(e, call, run, where) if call is not None else self._event(e, where)
                span_ctx = _span_context(ctx)
                if e.n_children > 0:
                    waiting[e.seq] = [span_ctx, e.n_children]
                child = (e.data or {}).get("run_id")
                if isinstance(child, str):
                    child_at[child] = span_ctx
                for t in tools.pop(e.seq, ()):
                    self._tool(t, ctx)
            for stray in tools.values():  # calls of a seq that is no event: under the run
                for t in stray:
                    self._tool(t, run_ctx)
            after, low = last, last + 1
        for t in [*self.store.iter_tool_calls(run.id, seqs=(low, _NO_SEQ_ABOVE)), *self.store.loose_tool_calls(run.id)]:
            self._tool(t, run_ctx)
        for child_run in self.store.child_runs(run.id):
            at = child_at.get(child_run.id)
            self.run(child_run, run_ctx if at is None else _context(at))

    def _parent_of(self, seq: int | None, waiting: dict[int, list[Any]], run_ctx: Context) -> Context:
        """The context of event `seq` for one more of its children (forgotten after its last child)."""
        entry = None if seq is None else waiting.get(seq)
        if entry is None or seq is None:
            return run_ctx
        entry[1] -= 1
        if entry[1] <= 0:
            del waiting[seq]
        return _context(entry[0])

    def _run_span(self, run: RunRecord, parent: Context | None, end: float | None) -> Context:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": run.agent,
            "gen_ai.agent.id": run.id,
            "openinference.span.kind": "AGENT",
            "ponder.run.id": run.id,
            "ponder.run.status": run.status,
            "ponder.run.calls": run.calls,
            "gen_ai.usage.input_tokens": run.prompt_tokens,
            "gen_ai.usage.output_tokens": run.completion_tokens,
        }
        _put(attrs, "gen_ai.provider.name", run.backend)
        _put(attrs, "gen_ai.request.model", run.model)
        _put(attrs, "ponder.run.parent_id", run.parent_id)
        _put(attrs, "ponder.run.experiment_id", run.experiment_id)
        _put(attrs, "ponder.run.correct", run.correct)
        _put(attrs, "ponder.run.score", run.score)
        _put(attrs, "ponder.run.cost_usd", run.cost_usd)
        _put(attrs, "ponder.run.config", run.config)
        if self.content:
            _put(attrs, "input.value", run.question)
            _put(attrs, "output.value", run.answer)
        failed = run.status not in ("ok", "running")
        error = (run.error or run.status) if failed else None
        return self._start_end(f"invoke_agent {run.agent}", parent, attrs, run.started_at, end, error=error)

    def _event(self, e: EventRecord, parent: Context) -> Context:
        attrs: dict[str, Any] = {
            "openinference.span.kind": _EVENT_SPAN_KIND.get(e.kind, "CHAIN"),
            "ponder.event.kind": e.kind,
            "ponder.event.seq": e.seq,
            "ponder.event.status": e.status,
            "ponder.event.branch": e.branch,
        }
        _put(attrs, "ponder.event.label", e.label)
        _put(attrs, "ponder.event.score", e.score)
        if self.content:
            _put(attrs, "output.value", e.summary)
            if e.data:
                _put(attrs, "ponder.event.data", _text(e.data, _DATA_LIMIT))
        error = e.summary or e.status if e.status == "error" else None
        return self._start_end(e.kind, parent, attrs, e.started_at, e.ended_at, error=error)

    def _chat(self, e: EventRecord, c: LLMCallRecord, run: RunRecord, parent: Context) -> Context:
        req, resp = c.request, c.response or {}
        model = req.get("model") or run.model or "unknown"
        choices = resp.get("choices") or []
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "openinference.span.kind": "LLM",
            "ponder.event.seq": e.seq,
            "ponder.event.branch": e.branch,
            "ponder.request_key": c.request_key,
            "ponder.origin": c.origin,
        }
        _put(attrs, "gen_ai.provider.name", run.backend)
        _put(attrs, "gen_ai.request.model", model)
        _put(attrs, "llm.model_name", resp.get("model") or model)
        _put(attrs, "gen_ai.response.model", resp.get("model"))
        for key in ("temperature", "top_p", "max_tokens", "seed"):
            _put(attrs, f"gen_ai.request.{key}", req.get(key))
        if (req.get("n") or 1) > 1:
            attrs["gen_ai.request.choice.count"] = int(req["n"])
        _put(attrs, "gen_ai.request.stop_sequences", req.get("stop"))
        params = {k: v for k, v in req.items() if k not in ("messages", "tools", "model")}
        _put(attrs, "llm.invocation_parameters", params)
        if c.prompt_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = attrs["llm.token_count.prompt"] = c.prompt_tokens
        if c.completion_tokens is not None:
            attrs["gen_ai.usage.output_tokens"] = attrs["llm.token_count.completion"] = c.completion_tokens
        if c.prompt_tokens is not None and c.completion_tokens is not None:
            attrs["llm.token_count.total"] = c.prompt_tokens + c.completion_tokens
        reasons = [ch.get("finish_reason") for ch in choices if isinstance(ch, dict) and ch.get("finish_reason")]
        _put(attrs, "gen_ai.response.finish_reasons", reasons or None)
        _put(attrs, "ponder.latency_ms", c.latency_ms)
        if c.attempts:
            attrs["ponder.attempts"] = len(c.attempts)
        if self.content:
            self._messages(attrs, req.get("messages") or [], choices)
        return self._start_end(f"chat {model}", parent, attrs, e.started_at, e.ended_at, error=c.error)

    def _messages(self, attrs: dict[str, Any], messages: list[Any], choices: list[Any]) -> None:
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            prefix = f"llm.input_messages.{i}.message"
            _put(attrs, f"{prefix}.role", m.get("role"))
            _put(attrs, f"{prefix}.content", m.get("content"))
            for j, t in enumerate(m.get("tool_calls") or []):
                if isinstance(t, dict):
                    _put(attrs, f"{prefix}.tool_calls.{j}.tool_call.function.name", t.get("name"))
                    _put(attrs, f"{prefix}.tool_calls.{j}.tool_call.function.arguments", t.get("arguments"))
        for i, ch in enumerate(choices):
            if not isinstance(ch, dict):
                continue
            prefix = f"llm.output_messages.{i}.message"
            attrs[f"{prefix}.role"] = "assistant"
            _put(attrs, f"{prefix}.content", ch.get("text"))
            for j, t in enumerate(ch.get("tool_calls") or []):
                if isinstance(t, dict):
                    _put(attrs, f"{prefix}.tool_calls.{j}.tool_call.function.name", t.get("name"))
                    _put(attrs, f"{prefix}.tool_calls.{j}.tool_call.function.arguments", t.get("arguments"))
        attrs["input.value"] = _text(messages)
        attrs["input.mime_type"] = "application/json"
        if choices and isinstance(choices[0], dict):
            _put(attrs, "output.value", choices[0].get("text"))
            attrs["output.mime_type"] = "text/plain"

    def _tool(self, t: ToolCallRecord, parent: Context) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": t.tool,
            "openinference.span.kind": "TOOL",
            "tool.name": t.tool,
        }
        if self.content:
            _put(attrs, "input.value", t.args)
            _put(attrs, "output.value", t.result if t.error is None else t.error)
        end = t.created_at  # the row is written when the call returns
        start = None if end is None else end - (t.duration_ms or 0.0) / 1000
        self._start_end(f"execute_tool {t.tool}", parent, attrs, start, end, error=t.error)
