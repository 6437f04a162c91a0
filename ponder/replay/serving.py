"""What a re-run is served instead of live calls: recorded tool results (`ToolReplay`, the tools'
counterpart of `ponder.backends.replay.ReplayBackend`, with the same `on_miss` policies) and stand-in
tools that offer the recorded tools' specs and never run."""

from __future__ import annotations

import json
from typing import Any

from ponder.backends.replay import OnMiss
from ponder.errors import ConfigError, ToolError
from ponder.tools.base import Tool
from ponder.traces.events import ToolCallRecord
from ponder.types import ToolSpec


class ToolReplay:
    """The one recorded tool set: recorded tool results, served to a re-run so that no side effect repeats
    (matched by tool, args, branch and occurrence), and what a call the recording lacks gets (`on_miss`):

    - `raise` (replay): an error result — a replay runs no real tool;
    - `live` (a fork with no edit): the tool is called, and so is it at the fork point (`fork_at`);
    - `edit` (a fork with an edit): the fork point returns `edit`; later misses call the tool.

    fork_at: the fork point's (tool, args, branch, occurrence).
    """

    def __init__(
        self,
        records: list[ToolCallRecord],
        *,
        on_miss: OnMiss = "raise",
        fork_at: tuple[str, Any, str, int] | None = None,
        edit: str | None = None,
    ) -> None:
        if (on_miss == "edit") != (edit is not None):
            raise ConfigError("on_miss='edit' and an edit go together: the edit is what the fork point returns")
        self._by_site: dict[tuple[str, str, str, int], ToolCallRecord] = {}
        for r in records:
            self._by_site[(r.tool, _args_key(r.args), r.branch, r.sample_index)] = r
        self.on_miss, self.edit = on_miss, edit
        self._fork_at = None if fork_at is None else (fork_at[0], _args_key(fork_at[1]), fork_at[2], fork_at[3])
        self._forked = False

    def get(self, tool: str, args: Any, branch: str, index: int) -> ToolCallRecord | None:
        """What to serve for this tool call (its recorded result, an edit, or a replay's error), or None to call it."""
        site = (tool, _args_key(args), branch, index)
        if self.on_miss != "raise" and not self._forked and site == self._fork_at:
            self._forked = True  # the fork point: a miss by design
            return None if self.edit is None else _served(tool, args, branch, index, result=self.edit)
        recorded = self._by_site.get(site)
        if recorded is not None or self.on_miss != "raise":
            return recorded
        error = f"replay: {tool}({args!r}) was never called in the recording; a replay runs no real tool"
        return _served(tool, args, branch, index, error=error)


def _served(
    tool: str, args: Any, branch: str, index: int, *, result: str | None = None, error: str | None = None
) -> ToolCallRecord:
    return ToolCallRecord(
        id=0,
        run_id="",
        event_seq=None,
        tool=tool,
        args=args,
        branch=branch,
        sample_index=index,
        result=result,
        error=error,
        duration_ms=0.0,
    )


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
