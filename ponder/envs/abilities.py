"""What an env can do besides giving tasks and judging answers: each ability a small protocol.

An env declares an ability with its flag on `Env` (`interactive`, `searchable`, `runs_tests`,
`verifies`, `answer_format` — harlequin's `IMPLEMENTS_…` style, never a `hasattr` probe) and has the
methods the ability's protocol names. A strategy asks for the ability and gets the env typed as that
protocol, or None (`as_interactive(env)` …): it depends on the few methods it uses, not on the whole
`Env`, and a test double of an ability is that protocol's few methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from ponder.types import Task

if TYPE_CHECKING:
    from ponder.envs.base import Env, Evaluation, TestReport


class Interactive(Protocol):
    """An env an agent acts in (household): reset with a task, stepped action by action, copied to branch."""

    name: ClassVar[str]
    instructions: ClassVar[str]

    def reset(self, task: Task) -> str:
        """Start an episode on `task`; the first observation."""
        ...

    def step(self, action: str) -> tuple[str, float, bool]:
        """Act: (observation, reward, done)."""
        ...

    def episode_copy(self) -> Self:
        """This env and its episode so far, copied to step without changing this one."""
        ...

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Judge the actions an episode took (one per line)."""
        ...


class Searchable(Protocol):
    """An env whose tasks are tree-search problems (Game of 24): a world model with its prompts."""

    def thought_problem(self, task: Task, *, faithful: bool = False) -> Any | None:
        """The problem a tree search explores for `task` (`ponder.search.problem.ThoughtProblem`)."""
        ...


class RunsTests(Protocol):
    """An env that judges code by running the task's unit tests (code, humaneval), sandboxed."""

    name: ClassVar[str]

    def run_tests(self, task: Task, code: str) -> TestReport:
        """Run `task`'s tests (or the tests in `task`) on `code`: pass/fail and feedback a model can read."""
        ...

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Judge `answer` (code) on the task's own, hidden tests."""
        ...


class Verifies(Protocol):
    """An env that checks an answer without the expected one (Game of 24's arithmetic, sorting's order)."""

    name: ClassVar[str]

    def verify(self, task: Task, answer: str) -> float | None:
        """A label-free check of `answer` in [0, 1]."""
        ...


class AnswerFormat(Protocol):
    """An env with its own prompts and answer extraction (Game of 24's expressions, code)."""

    def cot_prompt(self, task: Task) -> str | None: ...

    def io_prompt(self, task: Task) -> str | None: ...

    def extract_answer(self, text: str) -> str | None: ...


def as_interactive(env: Env | None) -> Interactive | None:
    """`env` as an env to act in, if it is one."""
    return env if env is not None and env.interactive else None


def as_searchable(env: Env | None) -> Searchable | None:
    """`env` as a source of tree-search problems, if it is one."""
    return env if env is not None and env.searchable else None


def as_test_runner(env: Env | None) -> RunsTests | None:
    """`env` as a runner of unit tests on code, if it is one."""
    return env if env is not None and env.runs_tests else None


def as_verifier(env: Env | None) -> Verifies | None:
    """`env` as a label-free checker of answers, if it is one."""
    return env if env is not None and env.verifies else None
