"""The tests LATS's search checks code against (`feedback`; the shared pieces are `ponder.agents.code_tests`).

The tests chosen are recorded as a `lats_tests` event; `feedback=hidden` records none, as LATS did
before it had the option.
"""

from __future__ import annotations

from ponder.agents.code_tests import TESTS_SYSTEM, CodeTestsData, Feedback, asserts, declare_tests_kind, feedback_tests
from ponder.runtime.context import RunContext
from ponder.types import Task

__all__ = ["TESTS_SYSTEM", "Feedback", "LatsTestsData", "asserts", "search_tests"]

LatsTestsData = CodeTestsData  # the event's data, under the name it was first published with

declare_tests_kind("lats_tests", "LATS", "checks code against during its search")


async def search_tests(feedback: Feedback, task: Task, ctx: RunContext, *, max_tokens: int) -> str | None:
    """The tests the search runs code against, recorded as `lats_tests` (None: no tests, or with
    `hidden` the env's own)."""
    return await feedback_tests(feedback, task, ctx, max_tokens=max_tokens, kind="lats_tests")
