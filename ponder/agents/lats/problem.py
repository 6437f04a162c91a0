"""LATS's world model on the search layer (Zhou et al. 2024): trajectories in a world, their
prompts, and the score a value reply gives. The generator and the evaluator are in
`ponder.agents.lats.search`.

A state is a `Trajectory`: its text (`Thought: … / Action: … / Observation: …` per step, what the
prompts show and the node events record) and what it is in the world (the actions taken, the last
reward, whether it ended). Stepping one makes a new one; the one stepped is left as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from string import Template
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ponder.agents.lats.world import Outcome, World
from ponder.agents.react_text import Action
from ponder.types import Message

if TYPE_CHECKING:
    from ponder.runtime.context import RunContext

LATS_SYSTEM = Template(
    "Solve the task by interleaving Thought, Action and Observation steps. A Thought reasons about the "
    "current situation; an Action is one of:\n$actions\n"
    "Reply with exactly one Thought and one Action, in this format:\nThought: <your reasoning>\nAction: <action>\n"
    "You will then be shown the Observation.$examples"
)
LATS_TASK = Template("${reflections}${intro}\n$trajectory")
LATS_REFLECTIONS = Template("Earlier attempts at this task failed. Lessons from them:\n$items\n\n")
VALUE_SYSTEM = (
    "You judge attempts at a task. Given the task and a partial or finished trajectory, analyze whether "
    "it is on the way to completing the task correctly, then end with one line 'Score: N', where N is an "
    "integer from 1 (hopeless) to 10 (certain to succeed)."
)
VALUE_PROMPT = Template("${reflections}${intro}\n$trajectory\n\nHow promising is this trajectory?")
REFLECT_SYSTEM = (
    "You are an advanced reasoning agent that improves by reflecting on its mistakes. You will be given an "
    "attempt at a task that failed. In a few sentences, diagnose why it failed and write a concise, "
    "high-level plan that avoids the same failure. Do not repeat the attempt."
)
REFLECT_PROMPT = Template("Task:\n$intro\n\nAttempt:\n$trajectory\n\nOutcome: $outcome\n\nReflection:")
_SCORE = re.compile(r"score\s*(?:is|of|:|=)?\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?", re.IGNORECASE)


class Trajectory(BaseModel):
    """A LATS state: the trajectory's text, the actions taken, the last reward, and how it stands."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    # the world's episode after these actions (an interactive env's), stepped from without replaying them
    episode: Any = Field(default=None, exclude=True, repr=False)
    actions: tuple[str, ...] = ()
    steps: int = 0
    reward: float | None = 0.0
    done: bool = False
    failed: bool = False
    observation: str = ""


def parse_score(reply: str) -> float | None:
    """The last `Score: N` (1..10) of a rating reply, as 0.1..1.0; None if there is none."""
    found = _SCORE.findall(reply or "")
    if not found:
        return None
    return min(max(float(found[-1]), 1.0), 10.0) / 10.0


class LatsProblem:
    """Trajectories in a world, as the search layer's world model (`init_state`, `step`, `is_terminal`, `answer`).

    max_depth: a trajectory that takes this many actions without success ends (a failure).
    reflections: lessons from failed trajectories, shown to later expansions and valuations.
    """

    def __init__(self, world: World, *, max_depth: int, reflections: Sequence[str] = ()) -> None:
        self.world = world
        self.max_depth = max_depth
        self.reflections: list[str] = list(reflections)
        self.solved = False  # a trajectory reached the goal: with `stop_at_success`, nothing more is expanded

    # -- the world model -------------------------------------------------------------

    def init_state(self) -> Trajectory:
        return Trajectory()

    async def take(self, state: Trajectory, action: Action, ctx: RunContext) -> tuple[str, Trajectory]:
        """Take `action` in the world after `state`: (the step as the trajectory shows it, the state reached)."""
        outcome, episode = await self.world.step(state.episode, action, ctx)
        kept = self.world.record(action)
        line = step_text(action, outcome)
        return line, Trajectory(
            text=state.text + line + "\n",
            actions=state.actions if kept is None else (*state.actions, kept),
            steps=state.steps + 1,
            reward=outcome.reward,
            done=outcome.done,
            failed=outcome.failed,
            observation=outcome.observation,
            episode=episode,
        )

    async def step(self, state: Trajectory, action: Action, ctx: RunContext) -> Trajectory:
        return (await self.take(state, action, ctx))[1]

    def is_terminal(self, state: Trajectory) -> bool:
        return state.done or state.steps >= self.max_depth

    def answer(self, state: Trajectory) -> str | None:
        return self.world.answer(list(state.actions))

    def describe(self, state: Trajectory) -> str:
        return state.text

    def success(self, state: Trajectory) -> bool:
        return state.done and state.reward is not None and state.reward >= 1.0

    def judged(self, state: Trajectory) -> bool:
        """Whether the env can tell how good `state` is (not a finished trajectory whose answer it cannot judge)."""
        return not (state.done and state.reward is None)

    def failure(self, state: Trajectory) -> str | None:
        """Why `state` is a failed trajectory: `failure` (an action failed, or it ended without success),
        `depth` (it is too long), or None when it is not one."""
        if self.success(state):
            return None
        if state.failed or (state.done and state.reward is not None):
            return "failure"
        if not state.done and state.steps >= self.max_depth:
            return "depth"
        return None

    # -- prompts ---------------------------------------------------------------------

    def _reflections(self) -> str:
        items = "\n".join(f"- {r}" for r in self.reflections[-5:])
        return LATS_REFLECTIONS.substitute(items=items) if items else ""

    def messages(self, text: str) -> list[Message]:
        """The ReAct-style prompt that asks for the next Thought and Action after the trajectory `text`."""
        system = LATS_SYSTEM.substitute(actions=self.world.instructions(), examples=self.world.examples())
        task = LATS_TASK.substitute(reflections=self._reflections(), intro=self.world.intro(), trajectory=text)
        return [Message.system(system), Message.user(task.rstrip())]

    def value_messages(self, text: str) -> list[Message]:
        """The prompt asking the model to score the trajectory `text`."""
        prompt = VALUE_PROMPT.substitute(reflections=self._reflections(), intro=self.world.intro(), trajectory=text)
        return [Message.system(VALUE_SYSTEM), Message.user(prompt)]

    def reflect_messages(self, text: str, outcome: str) -> list[Message]:
        """The prompt asking for a reflection on the failed trajectory `text`."""
        prompt = REFLECT_PROMPT.substitute(intro=self.world.intro(), trajectory=text.strip(), outcome=outcome)
        return [Message.system(REFLECT_SYSTEM), Message.user(prompt)]


def step_text(act: Action, outcome: Outcome | None = None) -> str:
    """One trajectory step as the prompts show it."""
    if act.error is not None:
        shown = " ".join(act.text.split())[:160]
        return f"Thought: {act.thought}\nAction: (invalid) {shown}"
    action = f"Action: submit\n```python\n{act.arg}\n```" if act.name == "submit" else f"Action: {act.name}[{act.arg}]"
    obs = f"\nObservation: {outcome.observation}" if outcome is not None else ""
    return f"Thought: {act.thought}\n{action}{obs}"
