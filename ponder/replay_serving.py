"""What a re-run is served instead of live calls: recorded tool results (`ToolReplay`), stand-in
tools that never run, and a replay backend that fails where the recording failed and notes misses."""

from __future__ import annotations

import json
from typing import Any

from ponder.backends.base import Capabilities, current_call_site
from ponder.backends.replay import ReplayBackend
from ponder.errors import BackendError, ReplayMiss, ToolError
from ponder.tools.base import Tool
from ponder.traces.events import LLMCallRecord, ToolCallRecord
from ponder.types import Completion, CompletionRequest, ToolSpec


class ToolReplay:
    """Recorded tool results, served to a re-run so that no side effect repeats (by tool, args, branch, occurrence)."""

    def __init__(self, records: list[ToolCallRecord]) -> None:
        self._by_site: dict[tuple[str, str, str, int], ToolCallRecord] = {}
        for r in records:
            self._by_site[(r.tool, _args_key(r.args), r.branch, r.sample_index)] = r

    def get(self, tool: str, args: Any, branch: str, index: int) -> ToolCallRecord | None:
        """The recorded call of `tool` with `args` at this branch and occurrence, if there is one."""
        return self._by_site.get((tool, _args_key(args), branch, index))


def _args_key(args: Any) -> str:
    return json.dumps(args, sort_keys=True, ensure_ascii=False)


class _ReplayOnlyTool:
    """Stands in for a real tool during replay: same name and schema, never runs anything."""

    def __init__(self, tool: Tool) -> None:
        self.name = tool.name
        self.description = tool.description
        self._spec = tool.spec()

    def spec(self) -> ToolSpec:
        return self._spec

    async def acall(self, args: Any) -> str:
        raise ToolError(f"replay: {self.name}({args!r}) was never called in the recording; a replay runs no real tool")


class _ObservedReplay:
    """A `ReplayBackend` that remembers its misses (an agent may swallow the error), claims the
    capabilities the recording shows were used (so the agent takes the same code path), and
    fails again where the recorded call failed (a recorded backend error is part of the run)."""

    def __init__(self, inner: ReplayBackend, failed: list[LLMCallRecord] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.free = inner.free
        requests = [c.request for c in inner.calls]
        self.capabilities = Capabilities(
            n=any(int(r.get("n", 1)) > 1 for r in requests),
            tools=any(r.get("tools") for r in requests),
            seed=inner.capabilities.seed,
        )
        self._failed = {(c.request_key, c.branch, c.sample_index): c.error or "failed" for c in failed or []}
        self.misses: list[str] = []

    async def complete(self, req: CompletionRequest) -> Completion:
        try:
            return await self.inner.complete(req)
        except ReplayMiss as e:
            site = current_call_site.get()
            where = (req.key(), site.branch, site.sample_index) if site is not None else None
            if where in self._failed:
                raise BackendError(self._failed[where]) from None
            self.misses.append(str(e))
            raise
