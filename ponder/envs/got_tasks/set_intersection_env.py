"""`set_intersection`: the Graph-of-Thoughts set-intersection task (two sets of 32/64/128 numbers).

The tasks are the official data files (`data/set_intersection_0NN.csv`, 100 each, from
spcl/graph-of-thoughts); the score is the official error count, recorded per run as the metric
`errors` (0 is right; 1000 a reply with no list). `got` runs the paper's graphs on it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.envs.got_tasks import set_intersection_prompts as P
from ponder.envs.got_tasks.set_intersection import SetIntersectionProblem, num_errors, string_to_list
from ponder.envs.got_tasks.sorting_env import read_sorted_list
from ponder.errors import ConfigError
from ponder.types import Task


def _rows(size: int) -> list[list[str]]:
    path = resources.files("ponder.envs.got_tasks").joinpath(f"data/set_intersection_{size:03d}.csv")
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return [r for r in reader]


class SetIntersectionEnv(Env, BaseModel):
    """Intersect two sets of `size` numbers; the official data and error count.

    size: 32, 64 or 128. start/end: a slice of the 100 official pairs.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "set_intersection"
    answer_format: ClassVar[bool] = True
    verifies: ClassVar[bool] = True

    size: Literal[32, 64, 128] = 32
    start: int = Field(default=0, ge=0)
    end: int | None = Field(default=None, ge=0)

    def tasks(self) -> Iterator[Task]:
        for row_id, set1, set2, result in _rows(self.size)[self.start : self.end]:
            yield Task(
                id=f"set_intersection{self.size}-{row_id}",
                input=f"Set 1: {set1}\nSet 2: {set2}",
                expected=result,
                metadata={"env": "set_intersection", "size": self.size, "set1": set1, "set2": set2},
            )

    def _sets(self, task: Task) -> tuple[str, str]:
        md = task.metadata
        set1, set2 = md.get("set1"), md.get("set2")
        if not isinstance(set1, str) or not isinstance(set2, str):
            text = str(task.input)
            lines = [ln.split(":", 1)[-1].strip() for ln in text.splitlines() if ln.strip()]
            if len(lines) != 2:
                raise ConfigError('a set_intersection task is two lines, "Set 1: [..]" and "Set 2: [..]"')
            set1, set2 = lines
        for s in (set1, set2):
            try:
                string_to_list(s)
            except ValueError:
                raise ConfigError(f"a set is a list of numbers like [3, 1, 2], not {s[:60]!r}") from None
        return set1, set2

    def got_problem(self, task: Task) -> SetIntersectionProblem:
        set1, set2 = self._sets(task)
        result = str(sorted(set(string_to_list(set1)) & set(string_to_list(set2))))
        return SetIntersectionProblem(set1, set2, result, len(string_to_list(set2)))

    def cot_prompt(self, task: Task) -> str:
        set1, set2 = self._sets(task)
        return P.INTERSECTION_PROMPT_COT.format(set1=set1, set2=set2)

    def io_prompt(self, task: Task) -> str:
        set1, set2 = self._sets(task)
        return P.INTERSECTION_PROMPT.format(set1=set1, set2=set2)

    def extract_answer(self, text: str) -> str | None:
        return read_sorted_list(text)

    def verify(self, task: Task, answer: str) -> float | None:
        """1 / (1 + the official error count): computed from the two sets, never the expected answer."""
        set1, set2 = self._sets(task)
        return 1.0 / (1.0 + num_errors({"set1": set1, "set2": set2, "current": answer}))

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when the answer is the intersection; `metrics.errors` is the official error count."""
        set1, set2 = self._sets(task)
        errors = num_errors({"set1": set1, "set2": set2, "current": answer or ""})
        ok = errors == 0
        return Evaluation(
            correct=ok, score=1.0 if ok else 0.0, detail=f"{errors:g} errors", metrics={"errors": float(errors)}
        )
