"""`Recorder`: the one writer of a run's events, llm calls and tool calls."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from ponder.traces.events import summarize
from ponder.traces.store import TraceStore


class Recorder:
    """Writes one run to a `TraceStore` as it happens. Every agent writes through one.

    Sequence numbers are given out in the order events are written; `branch` (the
    path of concurrent branches an event was written from) lets replay compare runs
    whose concurrent branches interleaved differently.
    """

    def __init__(self, store: TraceStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._seq = itertools.count(1)
        self._depth: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def start(cls, store: TraceStore, **run_fields: Any) -> Recorder:
        """Create the run row and a recorder for it (`run_fields` as `TraceStore.create_run`)."""
        return cls(store, store.create_run(**run_fields))

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
        with self._lock:
            seq = next(self._seq)
            depth = 0 if parent is None else self._depth.get(parent, 0) + 1
            self._depth[seq] = depth
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
        self.store.update_event(self.run_id, seq, status=status, score=score, summary=summary, label=label, data=data)

    def flush(self) -> None:
        """Commit what was written so far (called before every wait on a backend or tool)."""
        self.store.flush()

    def llm_call(self, **fields: Any) -> None:
        self.store.add_llm_call(self.run_id, **fields)

    def tool_call(self, **fields: Any) -> None:
        self.store.add_tool_call(self.run_id, **fields)

    def add_usage(self, prompt_tokens: int, completion_tokens: int, calls: int, cost_usd: float | None) -> None:
        self.store.add_usage(self.run_id, prompt_tokens, completion_tokens, calls, cost_usd)

    def finish(
        self,
        *,
        status: str,
        answer: str | None = None,
        correct: bool | None = None,
        score: float | None = None,
        error: str | None = None,
    ) -> None:
        self.store.finish_run(self.run_id, status=status, answer=answer, correct=correct, score=score, error=error)
