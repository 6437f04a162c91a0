"""`BaseAgent`: the base of the built-in strategies (a pydantic config plus `solve`).

The contract itself lives in `ponder.agents.context` (`Agent`, `RunContext`), budgets in
`ponder.agents.budget`, the runner in `ponder.agents.runner`, tool outcomes in
`ponder.agents.tool_calls`; they are re-exported here so
`from ponder.agents.base import RunContext` keeps working.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ponder.agents.budget import Budget
from ponder.agents.context import Agent, RunContext
from ponder.agents.runner import Evaluator, exact_match, run_agent
from ponder.agents.tool_calls import ToolOutcome
from ponder.config import resolve_backend
from ponder.types import Result, Task

__all__ = [
    "Agent",
    "BaseAgent",
    "Budget",
    "Evaluator",
    "RunContext",
    "ToolOutcome",
    "exact_match",
    "run_agent",
]


class BaseAgent(BaseModel):
    """Base of the built-in strategies: a pydantic config (its options) plus `solve(task, ctx)`.

    `arun(task, ctx)` runs inside an existing run (composition); `arun(task, backend=...)`
    starts a new recorded run. `run(...)` is the sync wrapper.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    name: ClassVar[str] = "agent"

    @abstractmethod
    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """The strategy itself: work on `task` through `ctx` and return the result."""

    async def arun(self, task: Task | str, ctx: RunContext | None = None, **kw: Any) -> Result:
        """Solve `task` inside `ctx`'s run, or (no `ctx`) as a new recorded run (`run_agent`'s options)."""
        if ctx is not None:
            t = task if isinstance(task, Task) else Task.from_question(task)
            return await self.solve(t, ctx)
        if "backend" not in kw:
            kw["backend"] = resolve_backend()
        return await run_agent(self, task, **kw)

    def run(self, task: Task | str, **kw: Any) -> Result:
        """Sync wrapper of `arun` for scripts and notebooks without an event loop."""
        return asyncio.run(self.arun(task, **kw))
