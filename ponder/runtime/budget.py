"""Budgets: the limits a run works under and the counters that enforce them.

`Budget` is the configuration (a pydantic model, so `--max-calls` and experiment configs
validate); `Limits` is one top-level run's account against it, shared by every branch and
child run of that run. Calls and tokens are checked before each model call; the wall-clock
timeout is enforced by the runner cancelling the run's in-flight work (`deadline`), so it
holds while a request or a tool call is waiting.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from ponder.errors import BudgetExceeded, RunTimedOut


class Budget(BaseModel):
    """Limits on one run (shared by its branches and child runs); None means unlimited."""

    max_calls: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class Limits:
    """One run's account against its `Budget`: calls and tokens used, and when its time is up."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.started = time.monotonic()
        self.calls = 0
        self.tokens = 0

    @property
    def deadline(self) -> float | None:
        """The `time.monotonic()` instant the wall-clock budget runs out (None: no timeout)."""
        t = self.budget.timeout_s
        return None if t is None else self.started + t

    def timeout_message(self) -> str:
        """What a run that ran out of time says."""
        return f"the run passed its {self.budget.timeout_s:g} s wall timeout (raise it with --timeout)"

    def check(self) -> None:
        """Raise `BudgetExceeded` if the run has no calls, tokens or time left for another call."""
        b = self.budget
        if b.max_calls is not None and self.calls >= b.max_calls:
            raise BudgetExceeded(f"the run used its {b.max_calls} calls (raise it with --max-calls)")
        if b.max_tokens is not None and self.tokens >= b.max_tokens:
            raise BudgetExceeded(f"the run used its {b.max_tokens} tokens (raise it with --max-tokens)")
        deadline = self.deadline
        if deadline is not None and time.monotonic() >= deadline:
            raise RunTimedOut(self.timeout_message())

    def charge_call(self) -> None:
        """Count one model call (made after `check`)."""
        self.calls += 1

    def charge_tokens(self, tokens: int) -> None:
        """Count the tokens a model call used."""
        self.tokens += tokens
