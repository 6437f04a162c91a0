"""The tests LATS's search checks code against (`feedback`; the shared pieces are `ponder.agents.code_tests`).

The tests chosen are recorded as a `lats_tests` event; `feedback=hidden` records none, as LATS did
before it had the option.
"""

from __future__ import annotations

from ponder.agents.code_tests import Feedback, feedback_tests
from ponder.agents.kinds import LatsTestsData
from ponder.runtime.context import RunContext
from ponder.types import Task

__all__ = ["search_tests"]


async def search_tests(feedback: Feedback, task: Task, ctx: RunContext, *, max_tokens: int) -> str | None:
    """The tests the search runs code against, recorded as `lats_tests` (None: no tests, or with
    `hidden` the env's own)."""
    return await feedback_tests(feedback, task, ctx, max_tokens=max_tokens, kind=LatsTestsData)
