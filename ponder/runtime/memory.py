"""`Memory`: the episodic memory of runs (the store's `memory` table), which an agent reaches as `ctx.memory`.

Every read and write is recorded as a tool call named `MEMORY_CALL`, as a tool call is: a
replayed or forked run is served what the recording read (and what its writes answered), never
the store's memory as it is now.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ponder.errors import PonderError, ToolError

if TYPE_CHECKING:
    from ponder.runtime.tool_calls import ToolOutcome
    from ponder.traces.store import TraceStore

__all__ = ["MEMORY_CALL", "Memory", "MemoryEntry"]

# the name memory calls are recorded under: it was Reflexion's memory tool's, and recordings name it
MEMORY_CALL = "reflexion_memory"
DEFAULT_KIND = "reflection"


class RecordedCall(Protocol):
    """How the run context records one call (`RunContext._recorded_call`)."""

    def __call__(
        self,
        name: str,
        args: Any,
        run: Callable[[], Awaitable[tuple[str | None, str | None]]] | None,
        *,
        parent: int | None = None,
    ) -> Awaitable[ToolOutcome]: ...


@dataclass(frozen=True)
class MemoryEntry:
    """One entry of episodic memory as an agent reads it."""

    id: int
    content: str


class Memory:
    """Episodic memory (the store's `memory` table), shared across runs; entries name the run that wrote them.

    `recent` and `add` raise `ToolError` when the store refuses (or refused, in the recording).
    """

    def __init__(self, store: TraceStore, run_id: str, call: RecordedCall) -> None:
        self._store = store
        self._run_id = run_id
        self._call = call

    async def recent(
        self, namespace: str, k: int, *, kind: str = DEFAULT_KIND, parent: int | None = None
    ) -> list[MemoryEntry]:
        """The last `k` entries of `namespace` of `kind`, oldest first."""
        args: dict[str, Any] = {"op": "read", "namespace": namespace, "k": k} | _kind_arg(kind)

        async def read() -> tuple[str | None, str | None]:
            recs = self._store.recent_memory(namespace, k, kind=kind)
            return json.dumps([{"id": r.id, "content": r.content} for r in recs], ensure_ascii=False), None

        got = await self._call(MEMORY_CALL, args, _guarded(read), parent=parent)
        try:
            if not got.ok:
                raise ValueError(got.error)
            items = json.loads(got.result or "[]")
            return [MemoryEntry(id=int(x["id"]), content=str(x["content"])) for x in items]
        except (ValueError, TypeError, KeyError):
            raise ToolError(got.error or got.result or "no answer") from None

    async def add(
        self,
        namespace: str,
        content: str,
        *,
        kind: str = DEFAULT_KIND,
        score: float | None = None,
        parent: int | None = None,
    ) -> int:
        """Store one entry under `namespace`; its id."""
        args: dict[str, Any] = {"op": "write", "namespace": namespace, "content": content, "score": score}
        args |= _kind_arg(kind)

        async def write() -> tuple[str | None, str | None]:
            mid = self._store.add_memory(namespace, content, kind=kind, score=score, run_id=self._run_id)
            return json.dumps({"id": mid}), None

        got = await self._call(MEMORY_CALL, args, _guarded(write), parent=parent)
        try:
            if not got.ok:
                raise ValueError(got.error)
            return int(json.loads(got.result or "")["id"])
        except (ValueError, TypeError, KeyError):
            raise ToolError(got.error or got.result or "no answer") from None


def _kind_arg(kind: str) -> dict[str, str]:
    """`kind` among a call's recorded arguments when it is not the default (so recordings made before
    memory had kinds keep their argument keys)."""
    return {} if kind == DEFAULT_KIND else {"kind": kind}


def _guarded(
    op: Callable[[], Awaitable[tuple[str | None, str | None]]],
) -> Callable[[], Awaitable[tuple[str | None, str | None]]]:
    """`op` with a store error turned into the call's error, as a tool's failure is."""

    async def run() -> tuple[str | None, str | None]:
        try:
            return await op()
        except PonderError as e:
            return None, str(e)

    return run
