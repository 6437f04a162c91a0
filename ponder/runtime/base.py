"""`BaseAgent`: the base of the built-in strategies (a pydantic config plus `solve`).

The contract itself lives in `ponder.runtime.context` (`Agent`, `RunContext`), budgets in
`ponder.runtime.budget`, the runner in `ponder.runtime.runner`, tool outcomes in
`ponder.runtime.tool_calls`.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ponder.backends.config import resolve_backend
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.types import Result, Task

__all__ = ["BaseAgent"]


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
