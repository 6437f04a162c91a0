"""The `Env` protocol: tasks, an interactive step loop where there is one, and scoring."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from ponder.types import Task


class Evaluation(BaseModel):
    """How good an answer is: `correct` for right/wrong tasks, `score` in [0, 1] (reward, F1, pass@1)."""

    correct: bool | None = None
    score: float | None = None
    detail: str = ""


@runtime_checkable
class Env(Protocol):
    """An environment: where tasks come from and how answers are judged.

    `reset`/`step` are for environments an agent acts in (household); single-answer
    environments implement `evaluate` and may answer `step` with an observation only.
    Optional class attributes: `interactive` (True when an agent should act through
    `reset`/`step`, as ReAct does) and `instructions` (the actions, described for a model).
    """

    name: ClassVar[str]

    def tasks(self) -> Iterator[Task]: ...

    def reset(self, task: Task) -> str: ...

    def step(self, action: str) -> tuple[str, float, bool]: ...

    def evaluate(self, task: Task, answer: str | None) -> Evaluation: ...
