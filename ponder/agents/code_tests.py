"""The tests a strategy checks code against while it works: LATS's search (Zhou et al. 2023) and
Reflexion's trials (Shinn et al. 2023, whose HumanEval agent writes its own "internal tests").

`feedback` chooses them, for a code task (an env that `runs_tests`):

- `visible` (the default): the examples the task's prompt shows (`>>> f(x)` and its expected value,
  `f(x) == y`, …; `ponder.envs.visible_tests`), run in the env's sandbox;
- `generated`: assert-tests the model writes once per task from the prompt (the paper's "internal
  tests"), run in the same sandbox;
- `hidden`: the env's own tests, the ones that judge the answer — an oracle, an upper bound that
  leaks the evaluation into the search (the model reads their failures); for comparison only.

Whatever the mode, the run's `correct` is the env's judgement of the final answer on its hidden
tests, which in `visible` and `generated` mode no prompt ever shows. The tests chosen are recorded
as an event of the strategy's own kind (`lats_tests`, `reflexion_tests`: their source and where
they came from); `hidden` records none, as the strategies did before they had the option.
"""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import BaseModel

from ponder.agents.kinds import CodeTestsData
from ponder.envs.base import Env
from ponder.envs.code import extract_code
from ponder.envs.visible_tests import NO_CHECK, visible_tests, with_tests
from ponder.errors import BackendError
from ponder.runtime.context import RunContext
from ponder.types import CompletionRequest, Message, Task

Feedback = Literal["visible", "generated", "hidden"]
MAX_GENERATED = 10
NO_TESTS = "the program runs; there are no tests to check it against"  # a check with no tests, passed

TESTS_SYSTEM = (
    "You write unit tests for a Python function from its signature and docstring, before it is written. "
    "Reply with one ```python block of at most 10 lines, each a single `assert` statement that calls the "
    "function with concrete arguments and compares the result with the value the docstring implies, e.g. "
    "`assert add(2, 3) == 5`. Test only what the docstring states."
)
TESTS_PROMPT = "Function:\n```python\n{prompt}```\n\nTests:"


class Check(BaseModel):
    """One program checked against the feedback tests: `passed` them (or, with none, ran), whether
    tests `judged` it at all, and the failure text the model may read."""

    passed: bool
    judged: bool
    feedback: str


def asserts(reply: str, entry_point: str) -> list[str]:
    """The `assert` statements of a model's reply that call `entry_point` and parse (at most MAX_GENERATED)."""
    code = extract_code(reply)
    out: list[str] = []
    for raw in code.splitlines():
        line = raw.strip()
        if not line.startswith("assert ") or entry_point not in line:
            continue
        try:
            tree = ast.parse(line)
        except SyntaxError:
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Assert) and line not in out:
            out.append(line)
    return out[:MAX_GENERATED]


def check_of(lines: list[str]) -> str:
    """A `check(candidate)` (the task's test format) running `lines`."""
    body = "".join(f"    {ln}\n" for ln in lines) or "    pass\n"
    return f"def check(candidate):\n{body}"


async def generate_tests(task: Task, ctx: RunContext, *, max_tokens: int) -> tuple[str | None, str | None]:
    """(the model's tests as a `check`, why there are none): one call, at temperature 0, from the prompt only."""
    prompt, entry = task.metadata.get("prompt"), task.metadata.get("entry_point")
    if not isinstance(prompt, str) or not isinstance(entry, str):
        return None, "the task has no prompt and entry point to write tests for"
    req = CompletionRequest(
        messages=(Message.system(TESTS_SYSTEM), Message.user(TESTS_PROMPT.format(prompt=prompt))),
        temperature=0.0,
        max_tokens=max_tokens,
    )
    try:
        c = await ctx.complete(req, label="tests")
    except BackendError as e:
        return None, f"writing tests failed: {e}"
    lines = asserts(c.text, entry)
    if not lines:
        return None, f"the model's reply has no assert calling {entry}"
    return check_of(lines), None


async def feedback_tests(
    feedback: Feedback, task: Task, ctx: RunContext, *, max_tokens: int, kind: type[CodeTestsData]
) -> str | None:
    """The tests code is checked against, recorded as an event of the strategy's own `kind` (its data
    class; None: no tests, or with `hidden` the env's own)."""
    if feedback == "hidden":  # as before `feedback` existed: no event, so older recordings replay identical
        return None
    error: str | None = None
    if feedback == "visible":
        tests = visible_tests(task)
        if tests is None:
            error = "the prompt shows no examples: a program that runs is unjudged, the model's score values it"
    else:
        tests, error = await generate_tests(task, ctx, max_tokens=max_tokens)
    count = 0 if tests is None else tests.count("\n    assert ")
    summary = f"{feedback}: {count} tests" if tests is not None else f"{feedback}: no tests ({error})"
    data = kind(feedback=feedback, tests=tests, count=count, error=error)
    ctx.emit(data, "tests", summary, status="ok" if tests is not None else "invalid")
    return tests


def check_code(env: Env, task: Task, code: str, tests: str | None) -> Check:
    """Run `code` in `env`'s sandbox against `tests` (a `check(candidate)`; None: only run it), never the
    task's own tests (blocking — from async code use `asyncio.to_thread`)."""
    report = env.run_tests(with_tests(task, tests or NO_CHECK), code)
    return Check(passed=report.passed, judged=tests is not None, feedback=report.feedback or "the tests failed")
