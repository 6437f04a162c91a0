"""The `Env` base class: tasks, scoring, and every optional ability declared with its default.

Strategies ask an env what it can do through these methods and class attributes — never with
`hasattr` probes. An env overrides only the abilities it has; the defaults say "not this one".
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ponder.errors import ConfigError
from ponder.parsing import extract_answer, normalize_answer
from ponder.types import Task

if TYPE_CHECKING:
    from ponder.tools.base import Tool


SINGLE_ANSWER = "This environment takes a single answer; give it with finish, the answer inside the square brackets."


class Evaluation(BaseModel):
    """How good an answer is: `correct` for right/wrong tasks, `score` in [0, 1] (reward, F1, pass@1)."""

    correct: bool | None = None
    score: float | None = None
    detail: str = ""
    metrics: dict[str, float] = {}
    """Task-specific figures recorded with the run (sorting's `errors`), summarized by experiments."""
    error: str | None = None
    """Why the answer could not be judged (the check itself could not run); `correct` and `score` are None."""


class TestReport(BaseModel):
    """What running a task's tests on a piece of code found: `passed`, and feedback a model can read."""

    passed: bool
    feedback: str = ""


class Env:
    """An environment: where tasks come from, how answers are judged, and what else it offers.

    Subclasses set `name` and implement `tasks`; everything else has a default:

    - `interactive` (class attribute): True when an agent acts through `reset`/`step` (household);
      single-answer envs leave it False and `step` says that an answer is expected.
    - `instructions`: the actions, described for a model (interactive envs).
    - `searchable`: True when `thought_problem` gives a problem for tree search (Game of 24).
    - `answer_format`: True when agents should take the env's `cot_prompt` and `extract_answer`
      (the answer is a checked expression, or code), so a generic strategy is given the env.
    - `tot_defaults`: Tree-of-Thoughts settings this env brings with `--set env=NAME`.
    - `runs_tests`: True when `evaluate` runs the task's unit tests on code (code, humaneval), so
      a judge gives it the code a model wrote, not a short answer extracted from the reply; such
      an env's `run_tests(task, code)` gives pass/fail and feedback text (Reflexion, LATS).
    - `verifies`: True when `verify(task, answer)` checks an answer without the expected one (Game of
      24's arithmetic, sorting's order and counts): best-of-N's verifier.
    - `tot_faithful`: True when `thought_problem(task, faithful=True)` is a paper's algorithm exactly.
    - `cot_prompt(task)`: the env's own CoT prompt, or None for the strategy's generic one.
    - `io_prompt(task)`: the env's own standard (IO) prompt, or None for the strategy's generic one.
    - `extract_answer(text)`: the answer a reply gives (default: ponder's generic extraction).
    - `thought_problem(task)`: the problem tree search explores, or None where there is none.
    - `tools(task)`: tools the env gives an agent for `task`, or None.
    - `evaluate(task, answer)`: default, normalized exact match against `task.expected`. An
      evaluation that cannot run raises (or returns an `Evaluation` with `error`): it is then an
      evaluation error, never a wrong answer.
    - `check_ready()`: raises a `ConfigError` saying how to fix it when the env cannot judge
      answers on this machine (a code env without a working sandbox); a bench checks before it starts.

    A task that is one of several samples drawn of one problem (HumanEval with `samples=n`) says
    so in `task.metadata["problem"]`; experiments then report pass@k over those samples.

    An env's options are what it was built with: a pydantic env's fields, else its constructor's
    arguments (`env_options`), recorded with every run so that replay and fork rebuild it.
    """

    name: ClassVar[str] = ""
    interactive: ClassVar[bool] = False
    instructions: ClassVar[str] = ""
    searchable: ClassVar[bool] = False
    answer_format: ClassVar[bool] = False
    runs_tests: ClassVar[bool] = False
    verifies: ClassVar[bool] = False
    tot_defaults: ClassVar[Mapping[str, Any]] = {}
    tot_faithful: ClassVar[bool] = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        if not issubclass(cls, BaseModel):  # a pydantic env's options are its fields
            self.__dict__["_built_with"] = (args, kwargs)
        return self

    def check_ready(self) -> None:
        """Raise a `ConfigError` (one line: what to do) when answers cannot be judged here; by default they can."""

    def tasks(self) -> Iterator[Task]:
        """The env's tasks, in a fixed order."""
        raise ConfigError(f"env {self.name!r} does not list tasks; give the task directly")

    def reset(self, task: Task) -> str:
        """Start an episode on `task`; the first observation (the task itself, for single-answer envs)."""
        return str(task.input)

    def step(self, action: str) -> tuple[str, float, bool]:
        """Act in the env: (observation, reward, done). Single-answer envs only say what they expect."""
        return (SINGLE_ANSWER, 0.0, False)

    def episode_copy(self) -> Self:
        """An independent copy of this env and its episode so far, to step on without changing this one
        (a search steps many episodes from one state). Default: a deep copy; an env overrides it with
        a cheaper one where it knows what its episode holds."""
        return copy.deepcopy(self)

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Judge `answer`: normalized exact match with `task.expected` (unknown when there is none)."""
        if task.expected is None:
            return Evaluation()
        ok = answer is not None and normalize_answer(answer) == normalize_answer(task.expected)
        return Evaluation(correct=ok, score=1.0 if ok else 0.0)

    def cot_prompt(self, task: Task) -> str | None:
        """The env's own Chain-of-Thought prompt for `task`, or None to use the strategy's."""
        return None

    def io_prompt(self, task: Task) -> str | None:
        """The env's own standard (input-output) prompt for `task`, or None to use the strategy's."""
        return None

    def extract_answer(self, text: str) -> str | None:
        """The answer that a model's reply gives, or None when it gives none."""
        return extract_answer(text)

    def extract_cut_answer(self, text: str) -> str | None:
        """The answer of a reply cut off at `max_tokens`: with the generic extraction, only an answer
        the reply states (its last number is where the reasoning stopped, not an answer); an env with
        an extraction of its own reads the cut reply with it."""
        if type(self).extract_answer is Env.extract_answer:
            return extract_answer(text, last_number=False)
        return self.extract_answer(text)

    def thought_problem(self, task: Task, *, faithful: bool = False) -> Any | None:
        """The problem a tree search explores for `task` (states, actions, answer), or None.

        faithful: the paper's algorithm exactly, where the env has one (`tot_faithful`).
        """
        return None

    def verify(self, task: Task, answer: str) -> float | None:
        """A label-free check of `answer` in [0, 1] (1: it holds up) that never reads `task.expected`, or
        None where this env has none (`verifies` False). best_of_n's `select=verifier` uses it."""
        return None

    def got_problem(self, task: Task) -> Any | None:
        """The Graph-of-Thoughts problem for `task` (prompter, parser, the paper's graphs), or None."""
        return None

    def tools(self, task: Task) -> dict[str, Tool] | None:
        """Tools the env gives an agent working on `task`, or None to use the agent's own."""
        return None

    def run_tests(self, task: Task, code: str) -> TestReport:
        """Run `task`'s tests on `code` (sandboxed; blocking — from async code use `asyncio.to_thread`)."""
        raise ConfigError(f"env {self.name!r} has no tests to run; use an env that runs_tests (code, humaneval)")


def env_options(env: Env) -> dict[str, Any]:
    """The options `env` was built with, as plain data: what a run records to rebuild it.

    A pydantic env's fields; otherwise every argument of its constructor (defaults included),
    so `registry.build("envs", env.name, options)` builds the same env. A `ConfigError` names an
    option that is not plain data (it could not be rebuilt from a recording).
    """
    if isinstance(env, BaseModel):
        return env.model_dump(mode="json")
    args, kwargs = env.__dict__.get("_built_with", ((), {}))
    sig = inspect.signature(type(env).__init__)
    try:
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:  # built by hand (copied, say): nothing to go by but the defaults
        return {}
    bound.apply_defaults()
    given: dict[str, Any] = {}
    for p in list(sig.parameters.values())[1:]:
        value = bound.arguments.get(p.name)
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            given.update(value or {})
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                raise ConfigError(f"env {env.name!r} was given positional options {value!r}: give them by name")
        else:
            given[p.name] = value
    out = {}
    for name, value in given.items():
        try:
            out[name] = to_jsonable_python(value)
        except PydanticSerializationError:
            raise ConfigError(
                f"env {env.name!r} option {name!r} is a {type(value).__name__}, not plain data: it cannot be recorded,"
                " so replay could not rebuild the env; give it as text, numbers, lists or dicts"
            ) from None
    return out
