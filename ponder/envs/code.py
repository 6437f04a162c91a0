"""`code`: HumanEval-format problems; a candidate runs against the tests in the python sandbox (pass@1)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import ClassVar

from ponder.envs._data import example_file, read_jsonl
from ponder.envs.base import Env, Evaluation
from ponder.tools.python_exec import SandboxLimits, run_python
from ponder.types import Task

CODE_INSTRUCTION = (
    "Complete the Python function below. Answer with the whole function in a ```python block.\n\n```python\n{prompt}```"
)
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(answer: str) -> str:
    """The code in a model's answer: the longest fenced block, else the text itself."""
    blocks = _FENCE.findall(answer)
    return max(blocks, key=len) if blocks else answer


def build_program(task: Task, answer: str) -> str:
    """The program the tests run: the candidate (whole function, or a body completing the prompt) + tests."""
    md = task.metadata
    prompt, entry, test = md["prompt"], md["entry_point"], md["test"]
    code = extract_code(answer)
    if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        header = "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))
        body = f"{header}\n\n{code}"
    else:
        body = prompt + code
    return f"{body}\n\n{test}\n\ncheck({entry})\n"


class CodeEnv(Env):
    """Function-writing problems from a HumanEval JSONL file (task_id, prompt, entry_point, test).

    path: the JSONL file (default: a few problems shipped with ponder).
    limits: the sandbox's limits for each test run.
    """

    name: ClassVar[str] = "code"
    runs_tests: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str] | None = None, limits: SandboxLimits | None = None) -> None:
        self.path = str(path or example_file("humaneval.jsonl"))
        self.limits = limits or SandboxLimits(timeout_s=10, cpu_s=10, memory_mb=512)
        self.bad_lines: list[str] = []

    def tasks(self) -> Iterator[Task]:
        rows, self.bad_lines = read_jsonl(self.path, required=("prompt", "entry_point", "test"))
        for i, r in enumerate(rows):
            yield Task(
                id=str(r.get("task_id") or f"code-{i}"),
                input=CODE_INSTRUCTION.format(prompt=r["prompt"]),
                metadata={
                    "env": "code",
                    "prompt": r["prompt"],
                    "entry_point": r["entry_point"],
                    "test": r["test"],
                    "canonical_solution": r.get("canonical_solution"),
                },
            )

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """pass@1 of one candidate: 1.0 if the tests pass in the sandbox, else 0.0 with the failure."""
        if not answer or not answer.strip():
            return Evaluation(correct=False, score=0.0, detail="no code in the answer")
        if not all(k in task.metadata for k in ("prompt", "entry_point", "test")):
            return Evaluation(detail="not a code task (needs prompt, entry_point and test in its metadata)")
        res = run_python(build_program(task, answer), self.limits)
        if res.ok:
            return Evaluation(correct=True, score=1.0, detail="all tests passed")
        tail = "\n".join(res.stderr.strip().splitlines()[-6:])
        return Evaluation(correct=False, score=0.0, detail=f"tests failed: {res.explain(self.limits)}\n{tail}".strip())
