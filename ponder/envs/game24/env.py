"""The Game of 24 env: tasks from a puzzle file or generated, answers checked exactly."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.envs.game24.expressions import clean_answer, verify
from ponder.envs.game24.prompts import COT_PROMPT, STANDARD_PROMPT
from ponder.envs.game24.puzzles import load_puzzles, parse_puzzle, sample_puzzles
from ponder.envs.game24.thoughts import Game24Thoughts
from ponder.errors import ConfigError
from ponder.parsing import extract_answer
from ponder.types import Task

# a line that is an expression and its claimed value, nothing else: `(4 + 6) * (5 - 4) = 24`
_BARE_EXPRESSION = re.compile(r"^\s*(?P<e>[\d\s()+\-*/×÷−]+?)\s*=\s*24\s*\.?\s*$")


class Game24Env(Env, BaseModel):
    """Game of 24: tasks from a puzzle file (`path`, CSV/JSONL) or generated; answers checked exactly.

    start/end: a slice of the file's puzzles (the paper uses 900–1000 of the 4nums list).
    n, seed, min_difficulty: how many generated puzzles to draw, when there is no `path`.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "game24"
    searchable: ClassVar[bool] = True
    verifies: ClassVar[bool] = True
    tot_faithful: ClassVar[bool] = True
    # ToT's defaults for this env: the paper's setting (propose, value x3, BFS breadth 5, 4 steps)
    tot_defaults: ClassVar[Mapping[str, Any]] = {
        "method_generate": "propose",
        "method_evaluate": "value",
        "n_evaluate": 3,
        "search": "bfs",
        "breadth": 5,
        "depth": 4,
        "temperature": 0.7,
        # MCTS (the other algorithms take no such key): a short rollout reaches an answer line
        "rollout_depth": 3,
    }

    path: str | None = None
    start: int = Field(default=0, ge=0)
    end: int | None = None
    n: int = Field(default=100, ge=1)
    seed: int = 0
    min_difficulty: float = 0.0

    _current: tuple[int, ...] | None = None

    def tasks(self) -> Iterator[Task]:
        """The puzzles of `path` (sliced by start/end), else `n` generated ones drawn with `seed`."""
        if self.path is not None:
            puzzles = load_puzzles(self.path)[self.start : self.end]
            ids = [f"game24-{i}" for i in range(self.start, self.start + len(puzzles))]
        else:
            drawn = sample_puzzles(self.n, seed=self.seed, min_difficulty=self.min_difficulty)
            puzzles = [p.numbers for p in drawn]
            ids = [f"game24-gen-{'-'.join(map(str, p))}" for p in puzzles]
        for tid, nums in zip(ids, puzzles, strict=True):
            yield Task(id=tid, input=" ".join(map(str, nums)), metadata={"numbers": list(nums)})

    def reset(self, task: Task) -> str:
        """Start on `task`'s puzzle; the observation is the puzzle itself."""
        self._current = numbers_of(task)
        return task.input

    def step(self, action: str) -> tuple[str, float, bool]:
        """Check `action` as the final expression: reward 1 if it makes 24, and the episode ends."""
        if self._current is None:
            raise ConfigError("call reset(task) before step(action)")
        ok = verify(self._current, action)
        return ("correct: the expression makes 24" if ok else "incorrect", 1.0 if ok else 0.0, True)

    def verify(self, task: Task, answer: str) -> float | None:
        """1 when `answer` is an expression that makes 24 from the puzzle's numbers (no label needed), else 0."""
        return 1.0 if verify(numbers_of(task), answer) else 0.0

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when `answer` is an expression that makes 24 from the task's numbers."""
        nums = numbers_of(task)
        ok = verify(nums, answer)
        return Evaluation(correct=ok, score=1.0 if ok else 0.0, detail="" if ok else f"not a solution of {task.input}")

    def cot_prompt(self, task: Task) -> str:
        """The paper's 5-shot CoT prompt for one puzzle (what CoT sends with `env=game24`)."""
        return COT_PROMPT.substitute(input=task.input)

    def extract_answer(self, text: str) -> str | None:
        """The expression of the first `Answer: … = 24` line of a reply (a few-shot model may go on to
        invent further puzzles and answer them); else of the first line that is only an expression of three
        or more numbers `= 24` (an IO reply without the label); else the answer the reply states in words
        (`the answer is \\boxed{288}`: wrong, but what it gave); None if it states none."""
        lines = [ln for ln in text.splitlines() if re.match(r"^\s*answer\s*[:：]", ln, re.IGNORECASE)]
        if lines:
            return clean_answer(lines[0]) or None
        for line in text.splitlines():
            m = _BARE_EXPRESSION.match(line)
            if m and len(re.findall(r"\d+", m.group("e"))) >= 3:
                return m.group("e").strip()
        return extract_answer(text, last_number=False)

    def io_prompt(self, task: Task) -> str:
        """The paper's 5-shot standard (IO) prompt for one puzzle (CoT's `style=io` with `env=game24`)."""
        return STANDARD_PROMPT.substitute(input=task.input)

    def thought_problem(self, task: Task, *, faithful: bool = False) -> Game24Thoughts:
        """The ToT problem for one puzzle: ponder's checked search, or (`faithful`) the paper's exactly."""
        return Game24Thoughts(numbers_of(task), faithful=faithful)


def numbers_of(task: Task) -> tuple[int, ...]:
    """The puzzle of a task: its `numbers` metadata, else its input text; `ConfigError` if not a puzzle."""
    nums = task.metadata.get("numbers")
    return parse_puzzle(nums if nums is not None else task.input)
