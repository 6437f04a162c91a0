"""LATS's problem on the search layer (Zhou et al. 2024): trajectories in a world, their prompts,
and the score a value reply gives. The generator and the evaluator are in `ponder.agents.lats_search`.

A state `y` is the trajectory text (`Thought: … / Action: … / Observation: …` per step); what a
state is in the world (its actions, reward, whether it ended) is kept beside it in `LatsProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from string import Template

from pydantic import BaseModel, Field

from ponder.agents.lats_world import Outcome, World
from ponder.agents.react import Action
from ponder.types import Message

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


class TrajectoryInfo(BaseModel):
    """What a state is in the world: the actions taken, the last reward, and how the trajectory stands."""

    actions: list[str] = Field(default_factory=list)
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
    """Trajectories in a world, as the search layer's problem (states `y`, terminal test, answer).

    max_depth: a trajectory that takes this many actions without success ends (a failure).
    reflections: lessons from failed trajectories, shown to later expansions and valuations.
    """

    def __init__(self, world: World, *, max_depth: int, reflections: Sequence[str] = ()) -> None:
        self.world = world
        self.max_depth = max_depth
        self.reflections: list[str] = list(reflections)
        self.info: dict[str, TrajectoryInfo] = {"": TrajectoryInfo()}
        self.solved = False  # a trajectory reached the goal: with `stop_at_success`, nothing more is expanded

    def state(self, y: str) -> TrajectoryInfo:
        """The world state of `y` (the root's for an unknown text)."""
        return self.info.get(y) or TrajectoryInfo()

    def record(self, y: str, info: TrajectoryInfo) -> None:
        """Remember what state `y` is in the world."""
        self.info[y] = info

    def success(self, y: str) -> bool:
        info = self.state(y)
        return info.done and info.reward is not None and info.reward >= 1.0

    def judged(self, y: str) -> bool:
        """Whether the env can tell how good `y` is (not a finished trajectory whose answer it cannot judge)."""
        info = self.state(y)
        return not (info.done and info.reward is None)

    def failure(self, y: str) -> str | None:
        """Why `y` is a failed trajectory: `failure` (an action failed, or it ended without success), `depth`
        (it is too long), or None when it is not one."""
        info = self.state(y)
        if self.success(y):
            return None
        if info.failed or (info.done and info.reward is not None):
            return "failure"
        if not info.done and info.steps >= self.max_depth:
            return "depth"
        return None

    # -- prompts ---------------------------------------------------------------------

    def _reflections(self) -> str:
        items = "\n".join(f"- {r}" for r in self.reflections[-5:])
        return LATS_REFLECTIONS.substitute(items=items) if items else ""

    def messages(self, y: str) -> list[Message]:
        """The ReAct-style prompt that asks for the next Thought and Action after trajectory `y`."""
        system = LATS_SYSTEM.substitute(actions=self.world.instructions(), examples=self.world.examples())
        task = LATS_TASK.substitute(reflections=self._reflections(), intro=self.world.intro(), trajectory=y)
        return [Message.system(system), Message.user(task.rstrip())]

    def value_messages(self, y: str) -> list[Message]:
        """The prompt asking the model to score trajectory `y`."""
        text = VALUE_PROMPT.substitute(reflections=self._reflections(), intro=self.world.intro(), trajectory=y)
        return [Message.system(VALUE_SYSTEM), Message.user(text)]

    def reflect_messages(self, y: str, outcome: str) -> list[Message]:
        """The prompt asking for a reflection on the failed trajectory `y`."""
        text = REFLECT_PROMPT.substitute(intro=self.world.intro(), trajectory=y.strip(), outcome=outcome)
        return [Message.system(REFLECT_SYSTEM), Message.user(text)]

    # -- the search layer's problem protocol ------------------------------------------

    def propose_prompt(self, y: str) -> str:
        return self.messages(y)[-1].content

    def sample_prompt(self, y: str) -> str:
        return self.messages(y)[-1].content

    def is_terminal(self, y: str) -> bool:
        info = self.state(y)
        return info.done or info.steps >= self.max_depth

    def parse_steps(self, y: str, reply: str, *, first_only: bool = False) -> list[tuple[str, str | None]]:
        act = self.world.parse(reply)
        return [(step_text(act), act.error)]

    def value_prompt(self, y: str) -> str | None:
        return None if self.is_terminal(y) else self.value_messages(y)[-1].content

    def rule_value(self, y: str) -> float:
        return 1.0 if self.success(y) else 0.0

    def parse_value(self, reply: str) -> float | None:
        return parse_score(reply)

    def combine_values(self, y: str, values: Sequence[float | None]) -> float:
        return sum(v or 0.0 for v in values) / max(len(values), 1)

    def vote_prompt(self, ys: Sequence[str]) -> str:
        return "\n\n".join(f"Choice {i}:\n{y.strip()}" for i, y in enumerate(ys, 1))

    def answer(self, y: str) -> str | None:
        return self.world.answer(self.state(y).actions)

    def answer_source(self, y: str) -> str:
        return "trajectory" if self.answer(y) is not None else ""

    def final_prompt(self, y: str) -> str | None:
        return None


def step_text(act: Action, outcome: Outcome | None = None) -> str:
    """One trajectory step as the prompts show it."""
    if act.error is not None:
        shown = " ".join(act.text.split())[:160]
        return f"Thought: {act.thought}\nAction: (invalid) {shown}"
    action = f"Action: submit\n```python\n{act.arg}\n```" if act.name == "submit" else f"Action: {act.name}[{act.arg}]"
    obs = f"\nObservation: {outcome.observation}" if outcome is not None else ""
    return f"Thought: {act.thought}\n{action}{obs}"
