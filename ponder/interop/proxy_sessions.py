"""How `ponder proxy` turns a stream of client calls into runs: one run per `X-Ponder-Session` header
value, else one per client address until it has been idle for `idle_gap` seconds.

A run is `running` while one of its calls is in flight and closed in between (status and answer of
its latest call), so a client that stops — or disconnects mid-stream — leaves no running run; a
proxy that dies mid-call leaves the run `interrupted`. Each call is an `llm_call` event with its
`llm_calls` row (request, response, tokens, latency, the HTTP status); a tool call the model asked
for is an `action` event, and its result — which comes back in the client's next request, as a
`tool` message — an `observation` event with a `tool_calls` row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ponder.backends.base import Attempt
from ponder.backends.pricing import cost_usd
from ponder.traces.event_data import ActionData, LLMCallData, TextData
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.types import Completion, Task

SESSION_HEADER = "x-ponder-session"
_FORGET_ABOVE = 64
PROXY_AGENT = "proxy"
"""The agent name of a proxied run (there is no strategy to rebuild: it is replayed by `ponder proxy --replay`)."""


@dataclass
class _PendingTool:
    name: str
    arguments: str
    action_seq: int
    asked_at: float


@dataclass
class Session:
    """One run being written: its recorder and what is in flight."""

    key: str
    recorder: Recorder
    last_seen: float
    in_flight: int = 0
    closed: bool = False
    occurrences: dict[str, int] = field(default_factory=dict)
    pending_tools: dict[str, _PendingTool] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.recorder.run_id


@dataclass
class CallOutcome:
    """How one proxied call ended: the completion (None if it failed), the error, the HTTP status."""

    completion: Completion | None
    wire: dict[str, Any] | None = None
    error: str | None = None
    status: int | None = None
    cancelled: bool = False
    usage_known: bool = True  # False: the server sent no token counts (a stream not asked for them)


def _calls_summary(c: Completion) -> str:
    calls = c.choices[0].tool_calls if c.choices else None
    return "; ".join(f"{t.name}({t.arguments})" for t in calls or ())


def _data(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(exclude_none=True))


class Sessions:
    """The proxy's open sessions and the one place its runs are written.

    upstream: recorded with each run (credentials removed). idle_gap: seconds without a call after
    which a client without a session header starts a new run. clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self, store: TraceStore, *, upstream: str, idle_gap: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.idle_gap = idle_gap
        self.clock = clock
        self._open: dict[str, Session] = {}

    def begin(self, header: str | None, client: str, request: dict[str, Any], question: str) -> Session:
        """The session (and run) a call joins, counted in flight; a new run where none is open for it."""
        key = f"session:{header}" if header else f"client:{client}"
        now = self.clock()
        self._forget_idle(now)
        s = self._open.get(key)
        if s is not None and header is None and s.in_flight == 0 and now - s.last_seen > self.idle_gap:
            s = None  # the client was idle: what it does next is another run
        if s is None:
            rec = Recorder.start(
                self.store,
                agent=PROXY_AGENT,
                config={"upstream": self.upstream, "session": header, "client": None if header else client},
                task=Task.from_question(question or "(no user message)").model_dump(mode="json"),
                backend=PROXY_AGENT,
                model=str(request.get("model") or "") or None,
            )
            s = self._open[key] = Session(key, rec, now)
        elif s.closed:
            s.recorder.reopen()
            s.closed = False
        s.in_flight += 1
        s.last_seen = now
        return s

    def _forget_idle(self, now: float) -> None:
        # a closed client run idle past the gap takes no more calls: forget it (a session header's may)
        if len(self._open) > _FORGET_ABOVE:
            for key in [k for k, s in self._open.items() if k.startswith("client:") and s.closed]:
                if now - self._open[key].last_seen > self.idle_gap:
                    del self._open[key]

    def call_started(self, s: Session, request_key: str, label: str, summary: str) -> tuple[int, int]:
        """Write the call's running `llm_call` event; (its seq, the occurrence of this request in the run)."""
        index = s.occurrences.get(request_key, 0)
        s.occurrences[request_key] = index + 1
        seq = s.recorder.event(
            "llm_call", label, summary, status="running", data=_data(LLMCallData(request_key=request_key))
        )
        s.recorder.flush()
        return seq, index

    def tool_results(self, s: Session, messages: Any) -> None:
        """Record the results of tool calls asked for earlier in the run that this request's messages carry."""
        if not isinstance(messages, list):
            return
        for m in messages:
            if not isinstance(m, dict) or m.get("role") != "tool":
                continue
            pending = s.pending_tools.pop(str(m.get("tool_call_id") or ""), None)
            if pending is None:
                continue
            content = m.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            seq = s.recorder.event(
                "observation", pending.name, text, parent=pending.action_seq, data=_data(TextData(text=text))
            )
            try:
                args: Any = json.loads(pending.arguments)
            except ValueError:
                args = pending.arguments
            s.recorder.tool_call(
                event_seq=seq,
                tool=pending.name,
                args=args,
                result=text,
                error=None,
                duration_ms=round((self.clock() - pending.asked_at) * 1000, 3),
            )

    def call_ended(
        self, s: Session, seq: int, index: int, request: dict[str, Any], key: str, out: CallOutcome, t0: float
    ) -> None:
        """Write the call's row, close its event (and the run, if nothing else is in flight), note its tool calls."""
        rec = s.recorder
        latency = round((self.clock() - t0) * 1000, 3)
        c = out.completion
        attempt = Attempt(status=out.status, error=out.error, latency_ms=latency)
        response = None if c is None else {**c.model_dump(mode="json"), "wire": out.wire}
        with rec.atomic():
            rec.llm_call(
                event_seq=seq,
                request_key=key,
                branch="",
                sample_index=index,
                request=request,
                response=response,
                prompt_tokens=c.usage.prompt_tokens if c is not None and out.usage_known else None,
                completion_tokens=c.usage.completion_tokens if c is not None and out.usage_known else None,
                latency_ms=latency,
                origin="live",
                error=out.error,
                attempts=[attempt.model_dump()],
            )
            status = "ok" if c is not None else ("cancelled" if out.cancelled else "error")
            text = (c.text or _calls_summary(c)) if c is not None else (out.error or status)
            n = None if c is None else len(c.choices)
            rec.update(
                seq, status=status, summary=text, data=_data(LLMCallData(request_key=key, latency_ms=latency, n=n))
            )
            usage = c.usage if c is not None else None
            cost = None if c is None else cost_usd(c.model, c.usage)
            rec.add_usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0, 1, cost)
        if c is not None:
            self._actions(s, seq, c)
        s.in_flight -= 1
        s.last_seen = self.clock()
        if s.in_flight == 0:
            answer = c.text if c is not None and c.text else None
            rec.finish(status=status, answer=answer, error=out.error)
            s.closed = True

    def _actions(self, s: Session, seq: int, c: Completion) -> None:
        for t in (c.choices[0].tool_calls if c.choices else None) or ():
            action = s.recorder.event(
                "action",
                t.name,
                f"{t.name}({t.arguments})",
                parent=seq,
                data=_data(ActionData(tool=t.name, arguments=t.arguments, id=t.id or None)),
            )
            s.pending_tools[t.id] = _PendingTool(t.name, t.arguments, action, self.clock())

    def close_all(self) -> None:
        """Close every run still open (the proxy is stopping): a call still in flight is recorded as cut off."""
        for s in self._open.values():
            if not s.closed:
                s.recorder.finish(status="interrupted", error="the proxy stopped while a call was in flight")
                s.closed = True
        self._open.clear()
        self.store.flush()
