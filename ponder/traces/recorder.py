"""`Recorder`: the one writer of a run's events, llm calls and tool calls."""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Any

from ponder.traces.events import summarize
from ponder.traces.kinds import validate_data
from ponder.traces.store import TraceStore


class Recorder:
    """Writes one run to a `TraceStore` as it happens. Every agent writes through one.

    Sequence numbers are given out in the order events are written; `branch` (the
    path of concurrent branches an event was written from) lets replay compare runs
    whose concurrent branches interleaved differently. An event of an undeclared kind, or
    with data its kind does not declare, is refused before it is written (`EventDataError`).
    """

    def __init__(self, store: TraceStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._seq = itertools.count(1)
        self._depth: dict[int, int] = {}
        self._kind: dict[int, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        store: TraceStore,
        *,
        agent: str,
        config: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        seed: int | None = None,
        backend: str | None = None,
        model: str | None = None,
        parent_id: str | None = None,
        experiment_id: str | None = None,
        branch: str = "",
        run_id: str | None = None,
        budget: dict[str, Any] | None = None,
        forked_from: dict[str, Any] | None = None,
        env: dict[str, Any] | None = None,
    ) -> Recorder:
        """Create the run row (see `TraceStore.create_run`) and a recorder for it."""
        rid = store.create_run(
            agent=agent,
            config=config,
            task=task,
            seed=seed,
            backend=backend,
            model=model,
            parent_id=parent_id,
            experiment_id=experiment_id,
            branch=branch,
            run_id=run_id,
            budget=budget,
            forked_from=forked_from,
            env=env,
        )
        return cls(store, rid)

    def event(
        self,
        kind: str,
        label: str = "",
        summary: str | None = None,
        *,
        parent: int | None = None,
        branch: str = "",
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Write one event now; returns its seq. `status="running"` leaves it open for `update`."""
        validate_data(kind, data)
        with self._lock:
            seq = next(self._seq)
            depth = 0 if parent is None else self._depth.get(parent, 0) + 1
            self._depth[seq] = depth
            self._kind[seq] = kind
        self.store.add_event(
            self.run_id,
            seq,
            kind=kind,
            label=label,
            summary=summarize(summary if summary is not None else label),
            parent_seq=parent,
            depth=depth,
            branch=branch,
            status=status,
            score=score,
            data=data,
        )
        return seq

    def update(
        self,
        seq: int,
        *,
        status: str | None = None,
        score: float | None = None,
        summary: str | None = None,
        label: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Change an event written earlier (close it, score it, mark it pruned or chosen)."""
        if data is not None:
            validate_data(self._kind.get(seq) or self.store.event(self.run_id, seq).kind, data)
        self.store.update_event(self.run_id, seq, status=status, score=score, summary=summary, label=label, data=data)

    def flush(self) -> None:
        """Commit what was written so far (called before every wait on a backend or tool)."""
        self.store.flush()

    def llm_call(
        self,
        *,
        event_seq: int | None,
        request_key: str,
        branch: str,
        sample_index: int,
        request: dict[str, Any],
        response: dict[str, Any] | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_ms: float | None,
        origin: str,
        error: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record one backend call of this run (see `TraceStore.add_llm_call`); committed now or with `atomic()`."""
        self.store.add_llm_call(
            self.run_id,
            event_seq=event_seq,
            request_key=request_key,
            branch=branch,
            sample_index=sample_index,
            request=request,
            response=response,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=latency_ms,
            origin=origin,
            error=error,
            attempts=attempts,
        )

    def tool_call(
        self,
        *,
        event_seq: int | None,
        tool: str,
        args: Any,
        branch: str = "",
        sample_index: int = 0,
        result: str | None,
        error: str | None,
        duration_ms: float | None,
    ) -> None:
        """Record one tool call of this run (see `TraceStore.add_tool_call`); committed now."""
        self.store.add_tool_call(
            self.run_id,
            event_seq=event_seq,
            tool=tool,
            args=args,
            branch=branch,
            sample_index=sample_index,
            result=result,
            error=error,
            duration_ms=duration_ms,
        )

    def add_usage(self, prompt_tokens: int, completion_tokens: int, calls: int, cost_usd: float | None) -> None:
        """Add to this run's own totals (tokens, calls, cost)."""
        self.store.add_usage(self.run_id, prompt_tokens, completion_tokens, calls, cost_usd)

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """Writes inside the block are committed together at its end (a call's row, its event, its usage)."""
        return self.store.atomic()

    def reopen(self) -> None:
        """Mark the finished run `running` again (more calls are coming to it); `finish` closes it anew."""
        self.store.reopen_run(self.run_id)

    def finish(
        self,
        *,
        status: str,
        answer: str | None = None,
        correct: bool | None = None,
        score: float | None = None,
        error: str | None = None,
        metrics: dict[str, float] | None = None,
        eval_error: str | None = None,
    ) -> None:
        """Close the run with its outcome (`metrics`: the env's figures of the answer; `eval_error`: why
        it could not be judged)."""
        self.store.finish_run(
            self.run_id,
            status=status,
            answer=answer,
            correct=correct,
            score=score,
            error=error,
            metrics=metrics,
            eval_error=eval_error,
        )
