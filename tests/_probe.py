"""`Probe`: an agent that runs a test body inside a recorded run, so search and strategy pieces get a
real `RunContext` (recorder, store, branches) without a strategy around them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from ponder.runtime.context import RunContext
from ponder.types import Result, Task


class Probe:
    """Runs `body(ctx)` as its whole strategy; what it returned is `out`."""

    name: ClassVar[str] = "probe"

    def __init__(self, body: Callable[[RunContext], Awaitable[Any]]) -> None:
        self.body = body
        self.out: Any = None

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        self.out = await self.body(ctx)
        return Result(answer="done")
