"""`Memory`: the episodic memory of runs (the store's `memory` table), which an agent reaches as `ctx.memory`."""

from __future__ import annotations

from ponder.traces.events import MemoryRecord
from ponder.traces.recorder import Recorder

__all__ = ["Memory"]


class Memory:
    """Episodic memory (the store's `memory` table), shared across runs; entries name the run that wrote them."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def recent(self, namespace: str, k: int, *, kind: str | None = None) -> list[MemoryRecord]:
        """The last `k` entries of `namespace` (of `kind`, if given), oldest first."""
        return self._recorder.store.recent_memory(namespace, k, kind=kind)

    def add(self, namespace: str, content: str, *, kind: str = "reflection", score: float | None = None) -> int:
        """Store one entry under `namespace`; its id."""
        return self._recorder.store.add_memory(namespace, content, kind=kind, score=score, run_id=self._recorder.run_id)
