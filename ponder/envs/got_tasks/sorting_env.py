"""`sorting`: the Graph-of-Thoughts sorting task (lists of 32/64/128 digits), as an env every strategy can run.

The tasks are the official data files (100 lists per size, `data/sorting_0NN.csv`, from
spcl/graph-of-thoughts); the score is the official error count, recorded with every run as the
metric `errors` (0 is a correct sort; 300 a reply with no list in it). `got` runs the paper's
graphs on it (`got_problem`); cot and io use the official CoT and plain prompts; tot, mcts and beam
search it as a generic thought problem whose question is the official instruction and the list
(`thought_problem`: the papers give no tree-search prompts for sorting besides GoT's own ToT graphs).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.envs.got_tasks import sorting_prompts as P
from ponder.envs.got_tasks.sorting import SortingProblem, num_errors, string_to_list
from ponder.errors import ConfigError
from ponder.search.problem import GenericThoughts
from ponder.types import Task

SORT_QUESTION = "Sort the following list of numbers in ascending order: {input}"
"""The question a tree search works on: the official prompt's instruction, then the list."""


class SortingThoughts(GenericThoughts):
    """Sorting as a generic thought problem: free-text steps, an `Answer:` line read as the official parser
    reads a sorted list."""

    def answer(self, state: str) -> str | None:
        lines = self._lines(state)
        if lines and lines[-1].lower().startswith("answer"):
            return read_sorted_list(lines[-1])
        return None


def _rows(size: int) -> list[tuple[str, str, str]]:
    path = resources.files("ponder.envs.got_tasks").joinpath(f"data/sorting_{size:03d}.csv")
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return [(r[0], r[1], r[2]) for r in reader]


def read_sorted_list(text: str) -> str | None:
    """The list a reply ends with, read as the official parser reads it (the last `Output` line, else the
    first bracketed line); None when there is no list."""
    problem = SortingProblem("[0]", 32)
    state = {"original": "[0]", "current": "x", "method": "io", "phase": 0}
    current = problem.parse_generate_answer(state, [text])[0]["current"]
    return None if current == "[]" else str(current)


class SortingEnv(Env, BaseModel):
    """Sort a list of `size` digits (0–9) ascending; the official data and error count.

    size: 32, 64 or 128. start/end: a slice of the 100 official lists.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "sorting"
    answer_format: ClassVar[bool] = True
    verifies: ClassVar[bool] = True
    searchable: ClassVar[bool] = True

    size: Literal[32, 64, 128] = 32
    start: int = Field(default=0, ge=0)
    end: int | None = Field(default=None, ge=0)

    def tasks(self) -> Iterator[Task]:
        for row_id, unsorted, expected in _rows(self.size)[self.start : self.end]:
            yield Task(
                id=f"sorting{self.size}-{row_id}",
                input=unsorted,
                expected=expected,
                metadata={"env": "sorting", "size": self.size},
            )

    def _check(self, task: Task) -> str:
        try:
            numbers = string_to_list(str(task.input).strip())
        except ValueError:
            raise ConfigError(
                f"a sorting task's input is a list of digits like [3, 1, 2], not {str(task.input)[:60]!r}"
            ) from None
        if any(not 0 <= n <= 9 for n in numbers):
            raise ConfigError("a sorting task's numbers are digits 0–9 (the official task)")
        return str(task.input).strip()

    def got_problem(self, task: Task) -> SortingProblem:
        """The official sorting prompter, parser and graphs for this task's list."""
        original = self._check(task)
        return SortingProblem(original, len(string_to_list(original)))

    def thought_problem(self, task: Task, *, faithful: bool = False) -> SortingThoughts:
        """The list as a generic thought problem (tot, mcts, beam): the official instruction is its question."""
        if faithful:
            raise ConfigError("faithful=true is the ToT paper's Game-of-24 algorithm; sorting has none")
        return SortingThoughts(SORT_QUESTION.format(input=self._check(task)))

    def cot_prompt(self, task: Task) -> str:
        return P.SORT_PROMPT_COT.format(input=self._check(task))

    def io_prompt(self, task: Task) -> str:
        return P.SORT_PROMPT.format(input=self._check(task))

    def extract_answer(self, text: str) -> str | None:
        return read_sorted_list(text)

    def verify(self, task: Task, answer: str) -> float | None:
        """1 / (1 + the official error count): the check needs only the input list, not the expected one."""
        return 1.0 / (1.0 + num_errors({"original": self._check(task), "current": answer}))

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when `answer` is the sorted list; `metrics.errors` is the official error count."""
        errors = num_errors({"original": str(task.input).strip(), "current": answer or ""})
        ok = errors == 0
        return Evaluation(
            correct=ok, score=1.0 if ok else 0.0, detail=f"{errors:g} errors", metrics={"errors": float(errors)}
        )
