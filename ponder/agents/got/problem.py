"""`GoTProblem`: what a task gives Graph of Thoughts — its prompter, its parser and its operation graphs.

The official code splits this into a `Prompter` and a `Parser` per task; here one object per task
instance holds both, plus the task's initial state and the presets (`graph(name)`) the paper ran
on it. An env offers one through `Env.got_problem(task)`. Prompts a task does not use (sorting has
no score or validation prompt: it scores locally) raise `ConfigError` naming the task, so a graph
that needs them fails with one line instead of a wrong result.
"""

from __future__ import annotations

from typing import ClassVar

from ponder.agents.got.operations import GraphOfOperations, State
from ponder.errors import ConfigError


class GoTProblem:
    """One task instance for Graph of Thoughts. Subclasses set `name`, `presets`, and implement what they use."""

    name: ClassVar[str] = ""
    presets: ClassVar[tuple[str, ...]] = ()
    higher_is_better: ClassVar[bool] = False
    """How the task's local score reads: an error count (False) or a quality (True)."""

    def _missing(self, what: str) -> ConfigError:
        return ConfigError(f"the {self.name} task has no {what}; use a graph without that operation")

    def initial_state(self) -> State:
        """The state the first operations start from (the official `problem_parameters`)."""
        raise self._missing("initial state")

    def graph(self, preset: str) -> GraphOfOperations:
        """A fresh Graph of Operations for `preset` (the paper's io, cot, tot, tot2, got)."""
        raise self._missing(f"graph {preset!r}")

    def answer(self, state: State) -> str | None:
        """The answer a final thought's state gives (sorting: the list in `current`)."""
        value = state.get("current")
        return str(value) if value not in (None, "") else None

    def local_score(self, state: State) -> float:
        """The task's own score of a state (sorting: the official error count)."""
        raise self._missing("local score")

    def generate_prompt(self, num_branches: int, state: State) -> str:
        raise self._missing("generate prompt")

    def aggregation_prompt(self, states: list[State]) -> str:
        raise self._missing("aggregation prompt")

    def improve_prompt(self, state: State) -> str:
        raise self._missing("improve prompt")

    def validation_prompt(self, state: State) -> str:
        raise self._missing("validation prompt")

    def score_prompt(self, states: list[State]) -> str:
        raise self._missing("score prompt")

    def parse_generate_answer(self, state: State, texts: list[str]) -> list[State]:
        raise self._missing("generate parser")

    def parse_aggregation_answer(self, states: list[State], texts: list[str]) -> list[State]:
        raise self._missing("aggregation parser")

    def parse_improve_answer(self, state: State, texts: list[str]) -> State:
        raise self._missing("improve parser")

    def parse_validation_answer(self, state: State, texts: list[str]) -> bool:
        raise self._missing("validation parser")

    def parse_score_answer(self, states: list[State], texts: list[str]) -> list[float]:
        raise self._missing("score parser")
