"""`arithmetic`: GSM8K-format word problems (`#### N` answers), scored by exact numeric match."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import ClassVar

from ponder.envs._data import example_file, read_jsonl
from ponder.envs.base import Env, Evaluation
from ponder.parsing import extract_answer, normalize_number
from ponder.types import Task

_FINAL = re.compile(r"####\s*([^\n]+)")


def gsm8k_answer(solution: str) -> str | None:
    """The number after `####` in a GSM8K solution, normalized; None if there is none."""
    m = _FINAL.search(solution)
    return normalize_number(m.group(1)) if m else None


class ArithmeticEnv(Env):
    """Grade-school word problems from a GSM8K JSONL file (question, answer ending in `#### N`).

    path: the JSONL file (default: a few problems shipped with ponder).
    """

    name: ClassVar[str] = "arithmetic"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = str(path or example_file("gsm8k.jsonl"))
        self.bad_lines: list[str] = []

    def tasks(self) -> Iterator[Task]:
        rows, self.bad_lines = read_jsonl(self.path, required=("question", "answer"))
        for i, r in enumerate(rows):
            expected = gsm8k_answer(str(r["answer"]))
            if expected is None:
                self.bad_lines.append(f"problem {i}: its answer has no '#### N' line")
                continue
            yield Task(
                id=str(r.get("id") or f"gsm8k-{i}"),
                input=str(r["question"]),
                expected=expected,
                metadata={"env": "arithmetic"},
            )

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        if task.expected is None:
            return Evaluation(detail="no expected answer")
        got = None
        if answer is not None:
            got = normalize_number(answer)
            if got is None:
                extracted = extract_answer(answer)
                got = normalize_number(extracted) if extracted else None
        want = normalize_number(task.expected) or task.expected
        ok = got is not None and got == want
        return Evaluation(correct=ok, score=1.0 if ok else 0.0, detail=f"got {got}, expected {want}")
