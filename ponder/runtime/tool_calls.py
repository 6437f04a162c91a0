"""Tool calls as an agent sees them: the outcome it is shown, recorded results a replay serves, running one tool.

`RunContext.call_tool` records every call; this module holds what it hands back and how a
tool is run: under its timeout, with any failure turned into an error message for the
model, never an exception for the agent.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from ponder.errors import PonderError
from ponder.tools.base import Tool
from ponder.traces.events import ToolCallRecord


class ToolOutcome(BaseModel):
    """What a tool call gave: its text, or the error an agent shows as an observation."""

    model_config = ConfigDict(frozen=True)

    result: str | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the tool answered (no error)."""
        return self.error is None

    @property
    def observation(self) -> str:
        """The text a model is shown: the result, or `Error: ...`."""
        return self.result or "" if self.error is None else f"Error: {self.error}"


class RecordedTools(Protocol):
    """Recorded tool results a replayed run is served instead of calling tools (`ponder.replay.serving.ToolReplay`)."""

    def get(self, tool: str, args: Any, branch: str, index: int) -> ToolCallRecord | None:
        """The recorded call of `tool` with `args` at this branch and occurrence, if there is one."""
        ...


async def run_tool(tool: Tool, name: str, args: Any) -> tuple[str | None, str | None]:
    """Run `tool` on `args` under its timeout: (result, None), or (None, why it failed).

    Cancellation (the run's timeout) is not caught: the caller records it and re-raises.
    """
    # `timeout` is optional on the Tool protocol (seconds; None: no limit)
    timeout = getattr(tool, "timeout", None)
    try:
        out = await asyncio.wait_for(tool.acall(args), timeout)
    except TimeoutError:
        return None, f"tool {name!r} timed out after {timeout} s"
    except PonderError as e:  # ToolError included: the tool refused its input
        return None, str(e)
    except Exception as e:  # a user's tool raising anything is an observation, not a crash
        return None, f"tool {name!r} raised {type(e).__name__}: {e}"
    if not isinstance(out, str):
        return None, f"tool {name!r} returned {type(out).__name__}, not text"
    return out, None
