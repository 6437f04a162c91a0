"""LATS's worlds: where a trajectory's actions go and what comes back (observation, reward, done).

A trajectory is the actions taken so far and, where the world has one, its episode (an interactive
env after those actions); a world steps one more from it and gives back the new episode, leaving the
one it stepped from as it was — so a search steps any state it reached once, never replaying the
actions that led there, and branches never share an env object.

- `EnvWorld`: an interactive env (household): actions are env steps, each on a copy of the episode
  stepped from (`Env.episode_copy`); the goal reached is reward 1 and ends the trajectory;
  `finish[...]` gives up (a failed trajectory).
- `ToolWorld`: a question answered with tools (calculator, search, …): actions are tool calls
  (recorded, so a replay serves their results), `finish[answer]` ends the trajectory, and the env
  judges the answer when it can (reward 1 right, 0 wrong; unknown without an expected answer,
  when the model's score stands for it).
- `CodeWorld`: a code task: an action is a whole solution, run in the sandbox against the tests
  LATS's `feedback` chose (the prompt's examples, the model's own tests, or the env's hidden ones);
  passing ends the trajectory with reward 1, a failure is the observation (and a failed attempt,
  reflected on) from which later attempts refine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from ponder.agents.code_tests import NO_TESTS, check_code
from ponder.agents.react_text import Action, parse_action
from ponder.envs.abilities import Interactive
from ponder.envs.code import extract_code
from ponder.runtime.context import RunContext
from ponder.tools.base import Tool
from ponder.types import Task

OBSERVATION_LIMIT = 1500
ENV_INSTRUCTIONS = Template(
    "- env[action]: act in the environment. $actions\n- finish[done]: stop (only once the task is done)."
)
FINISH_LINE = "- finish: give the final answer and stop; the answer itself goes inside the square brackets."
FINISH_IN_ENV = "You stopped before the task was done."


class Outcome(BaseModel):
    """What one action gave: the observation, the env's reward, whether the trajectory ended, whether it failed."""

    observation: str
    reward: float | None = 0.0  # None: the env cannot judge (a question without an expected answer)
    done: bool = False
    failed: bool = False


class World(Protocol):
    """Where actions go. `instructions` and `examples` describe the actions to the model."""

    kind: ClassVar[str]

    def instructions(self) -> str:
        """The actions, described for the model."""
        ...

    def examples(self) -> str:
        """A worked example of the Thought / Action / Observation format ("" for none)."""
        ...

    def intro(self) -> str:
        """The task as the model first sees it (the env's first observation, or the problem)."""
        ...

    def parse(self, reply: str) -> Action:
        """The action a model's reply takes (its `error` says why when there is none)."""
        ...

    async def step(self, episode: Any, action: Action, ctx: RunContext) -> tuple[Outcome, Any]:
        """Take `action` in `episode` (None: the task's start): the outcome, and the episode it leaves
        (None for a world without one); `episode` itself is left as it was. Tool calls go through `ctx`."""
        ...

    def record(self, action: Action) -> str | None:
        """What the trajectory keeps of `action` (replayed by `step`, read by `answer`); None: nothing."""
        ...

    def answer(self, actions: list[str]) -> str | None:
        """The run's answer for a trajectory of `actions` (what the env's `evaluate` judges)."""
        ...


def _clip(s: str) -> str:
    return s if len(s) <= OBSERVATION_LIMIT else s[:OBSERVATION_LIMIT] + f" … ({len(s) - OBSERVATION_LIMIT} more)"


@dataclass(frozen=True)
class EnvEpisode:
    """An interactive env after a trajectory's actions, and the reward it last gave."""

    env: Interactive
    reward: float = 0.0


class EnvWorld:
    """An interactive env (household): `env[go to fridge 1]` (or a bare `go to fridge 1`) steps it.

    make_env: makes the env to act in (a copy of the run's), reset once with the task: the start of
    every trajectory, which each step copies (`Env.episode_copy`) and steps once.
    """

    kind: ClassVar[str] = "env"

    def __init__(self, make_env: Callable[[], Interactive], task: Task) -> None:
        self.task = task
        env = make_env()
        self._instructions: str = env.instructions
        self._intro: str = env.reset(task)
        self._start = EnvEpisode(env)

    def instructions(self) -> str:
        return ENV_INSTRUCTIONS.substitute(actions=self._instructions)

    def examples(self) -> str:
        from ponder.agents.react import REACT_ENV_EXAMPLES

        return REACT_ENV_EXAMPLES

    def intro(self) -> str:
        return self._intro

    def parse(self, reply: str) -> Action:
        act = parse_action(reply, bare_actions=True)
        if act.error is None and act.name not in ("env", "finish"):
            # `Action: go[fridge 1]`-like slips: the whole call is the env action
            act = Action(thought=act.thought, name="env", arg=f"{act.name} {act.arg}".strip(), text=act.text)
        if act.error is None and act.name == "env" and not act.arg.strip():
            act = Action(thought=act.thought, error="the env action is empty; write e.g. env[look]", text=act.text)
        return act

    async def step(self, episode: Any, action: Action, ctx: RunContext) -> tuple[Outcome, Any]:
        at: EnvEpisode = episode if episode is not None else self._start
        if action.name == "finish":
            return Outcome(observation=FINISH_IN_ENV, reward=at.reward, done=True, failed=at.reward < 1.0), at
        env = at.env.episode_copy()
        obs, reward, done = env.step(action.arg)
        return Outcome(observation=_clip(obs), reward=reward, done=done, failed=False), EnvEpisode(env, reward)

    def record(self, action: Action) -> str | None:
        return None if action.name == "finish" else action.arg

    def answer(self, actions: list[str]) -> str | None:
        return "\n".join(actions) if actions else None


class ToolWorld:
    """A question answered with tools: `calculator[2 + 2]`, `search[Ada Lovelace]`, …, then `finish[answer]`."""

    kind: ClassVar[str] = "tools"

    def __init__(self, env: Any, task: Task, tools: dict[str, Tool]) -> None:
        self.env = env
        self.task = task
        self.tools = tools

    def instructions(self) -> str:
        lines = [f"- {name}[input]: {t.description}" for name, t in self.tools.items()]
        return "\n".join([*lines, FINISH_LINE])

    def examples(self) -> str:
        from ponder.agents.react import REACT_EXAMPLES

        return REACT_EXAMPLES if "calculator" in self.tools else ""

    def intro(self) -> str:
        return f"Question: {self.task.input}"

    def parse(self, reply: str) -> Action:
        act = parse_action(reply)
        if act.error is None and act.name != "finish" and act.name not in self.tools:
            known = ", ".join([*self.tools, "finish"])
            return Action(thought=act.thought, error=f"unknown action {act.name!r}; use one of: {known}", text=act.text)
        return act

    async def step(self, episode: Any, action: Action, ctx: RunContext) -> tuple[Outcome, Any]:
        if action.name == "finish":
            ev = self.env.evaluate(self.task, action.arg)
            reward = ev.score if ev.correct is not None or ev.score is not None else None
            judged = "" if reward is None else (" (right)" if ev.correct else " (wrong)")
            outcome = Outcome(
                observation=f"Answered {action.arg}{judged}.",
                reward=reward,
                done=True,
                failed=reward is not None and reward < 1.0,
            )
            return outcome, None
        assert action.name is not None
        got = await ctx.with_tools(self.tools).call_tool(action.name, action.arg)
        return Outcome(observation=_clip(got.observation), reward=0.0), None

    def record(self, action: Action) -> str | None:
        return f"{action.name}[{action.arg}]"

    def answer(self, actions: list[str]) -> str | None:
        last = actions[-1] if actions else ""
        return last[len("finish[") : -1] if last.startswith("finish[") and last.endswith("]") else None


CODE_INSTRUCTIONS = (
    "- submit: write your whole solution (the complete function) in a ```python block after "
    "'Action: submit'. It is run against the tests; the Observation says whether they passed and, if "
    "not, how they failed."
)
CODE_EXAMPLE = """

Example:
Question: Complete the function `def add(a, b):` that returns the sum of a and b.
Thought: Return a plus b.
Action: submit
```python
def add(a, b):
    return a + b
```
Observation: all tests passed"""


CODE_INSTRUCTIONS_VISIBLE = (
    "- submit: write your whole solution (the complete function) in a ```python block after "
    "'Action: submit'. It is run against {tests}; the Observation says whether they passed and, if "
    "not, how they failed."
)
TESTS_SHOWN = {
    "visible": "the examples in the function's docstring",
    "generated": "the tests written for it beforehand",
}


class CodeWorld:
    """A code task (an env that `runs_tests`: code, humaneval): each action submits a whole solution,
    checked in the env's sandbox against `tests` (a `check(candidate)` source: the prompt's examples, or
    tests the model wrote) — or, with `feedback="hidden"`, against the env's own tests (the oracle).

    With `feedback` visible/generated and no tests, a program that runs ends its trajectory unjudged
    (the model's score values it); one that does not run is a failed attempt.
    """

    kind: ClassVar[str] = "code"

    def __init__(self, env: Any, task: Task, *, feedback: str = "hidden", tests: str | None = None) -> None:
        self.env = env
        self.task = task
        self.feedback = feedback
        self.tests = tests

    def instructions(self) -> str:
        if self.feedback == "hidden":
            return CODE_INSTRUCTIONS
        return CODE_INSTRUCTIONS_VISIBLE.format(tests=TESTS_SHOWN.get(self.feedback, "tests"))

    def examples(self) -> str:
        return CODE_EXAMPLE

    def intro(self) -> str:
        return f"Question: {self.task.input}"

    def parse(self, reply: str) -> Action:
        head, sep, _ = reply.partition("```")
        thought = parse_action(head).thought if head.strip() else ""
        code = extract_code(reply).strip() if sep else ""
        if "def " not in code:
            return Action(
                thought=thought,
                error="no solution found: put the whole function in a ```python block",
                text=reply.strip(),
            )
        return Action(thought=thought, name="submit", arg=code, text=reply.strip())

    async def step(self, episode: Any, action: Action, ctx: RunContext) -> tuple[Outcome, Any]:
        return await self._run(action), None

    async def _run(self, action: Action) -> Outcome:
        answer = f"```python\n{action.arg}\n```"
        if self.feedback == "hidden":
            # the tests run in the sandbox (a subprocess): off the event loop, so other branches go on meanwhile
            ev = await asyncio.to_thread(self.env.evaluate, self.task, answer)
            if ev.correct:
                return Outcome(observation="all tests passed", reward=1.0, done=True)
            return Outcome(observation=_clip(ev.detail or "the tests failed"), reward=ev.score or 0.0, failed=True)
        check = await asyncio.to_thread(check_code, self.env, self.task, answer, self.tests)
        if check.passed and not check.judged:
            return Outcome(observation=NO_TESTS, reward=None, done=True)
        if check.passed:
            return Outcome(observation="all tests passed", reward=1.0, done=True)
        return Outcome(observation=_clip(check.feedback), reward=0.0, failed=True)

    def record(self, action: Action) -> str | None:
        return action.arg

    def answer(self, actions: list[str]) -> str | None:
        return f"```python\n{actions[-1]}\n```" if actions else None
