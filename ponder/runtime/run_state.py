"""What every `RunContext` of one top-level run shares (budget account, sample counters, child runs),
and the `Driver` that runs a child run: both are made by the runner, never by an agent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ponder.runtime.budget import Limits
from ponder.traces.recorder import Recorder
from ponder.types import Result, Task

if TYPE_CHECKING:
    from ponder.runtime.context import Agent, RunContext

__all__ = ["Driver", "RunState"]


Driver = Callable[["Agent", Task, "RunContext", Recorder], Awaitable[Result]]


@dataclass
class RunState:
    """What every context of one top-level run shares: the budget account, sample counters, child runs."""

    limits: Limits
    drive: Driver
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    tool_counters: dict[tuple[str, str], int] = field(default_factory=dict)
    runs: set[str] = field(default_factory=set)
    open_events: dict[str, set[int]] = field(default_factory=dict)

    def next_index(self, table: dict[tuple[str, str], int], branch: str, key: str) -> int:
        """The next sample index of `key` on `branch` in `table` (0, 1, …): replay serves answers by it."""
        i = table.get((branch, key), 0)
        table[(branch, key)] = i + 1
        return i
