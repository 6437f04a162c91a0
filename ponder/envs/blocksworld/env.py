"""`blocksworld`: plan in the 4-operator Blocksworld; the plan is checked by a pure-Python validator.

Instances and gold plans: the step splits llm-reasoners evaluates RAP on (`split_v1_step_N`, N = 2..12
actions; Apache-2.0), over the PDDL instances of karthikv792/LLMs-Planning (MIT); both notices ship in
`data/`. The task text and prompts are llm-reasoners' (`examples/CoT/blocksworld/prompts/prompt.json`,
commit f94e5ac2): the 4-shot plan prompt for CoT, and RAP's world-update and self-evaluation prompts.
A reply is correct when the plan it gives is valid — every action applicable in turn, the goal true
at the end — whatever its length (`metrics.plan_length`, `metrics.goals_met` recorded with the run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.envs.blocksworld.domain import (
    LETTERS,
    Fact,
    State,
    describe,
    parse_plan,
    validate,
)
from ponder.errors import ConfigError
from ponder.types import Task

SOURCE_COMMIT = "f94e5ac2cb9788c3d7d7dbf2173884ed4088e4b2"


@cache
def _rows() -> list[dict[str, Any]]:
    path = resources.files("ponder.envs.blocksworld").joinpath("data/blocksworld.jsonl")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@cache
def prompts() -> dict[str, str]:
    """llm-reasoners' Blocksworld prompts: `icl` (4-shot plans), `world_update_*`, `self-eval`."""
    path = resources.files("ponder.envs.blocksworld").joinpath("data/rap_prompts.json")
    with path.open(encoding="utf-8") as f:
        data: dict[str, str] = json.load(f)
    return data


_FACTS = [
    (re.compile(r"the (\w+) block is on top of the (\w+) block"), "on"),
    (re.compile(r"the (\w+) block is on the table"), "ontable"),
    (re.compile(r"the (\w+) block is clear"), "clear"),
    (re.compile(r"the hand is holding the (\w+) block"), "holding"),
    (re.compile(r"the hand is (empty)"), "handempty"),
]


def facts_of(text: str) -> list[Fact]:
    """The facts an English statement names (`the red block is on the table`, ...), in the order named."""
    found: list[tuple[int, Fact]] = []
    for rx, pred in _FACTS:
        for m in rx.finditer(text.lower()):
            if pred == "handempty":
                found.append((m.start(), ("handempty",)))
                continue
            letters = [LETTERS.get(c) for c in m.groups()]
            if any(x is None for x in letters):
                raise ConfigError(f"unknown block color in {m.group(0)!r}; the colors are {', '.join(LETTERS)}")
            found.append((m.start(), (pred, *(x for x in letters if x is not None))))
    return [f for _, f in sorted(found)]


def _from_text(text: str) -> tuple[State, list[Fact], list[str]]:
    low = text.lower()
    if "my goal is to" not in low:
        raise ConfigError(
            "a blocksworld task states 'As initial conditions I have that, ... My goal is to have that ...' "
            "(or comes from the env's tasks)"
        )
    init_text, goal_text = low.split("my goal is to", 1)
    init, goal = facts_of(init_text), [f for f in facts_of(goal_text) if f[0] == "on"]
    if not init or not goal:
        raise ConfigError("the blocksworld statement names no initial facts or no 'on top of' goal")
    blocks = sorted({x for f in (*init, *goal) for x in f[1:]})
    return frozenset(init), goal, blocks


def problem_of(task: Task) -> tuple[State, list[Fact], list[str]]:
    """A task's initial state, goal and blocks: from its metadata (the env's tasks), else read from its
    English statement (`ponder run "As initial conditions I have that, ..." --env blocksworld`)."""
    md = task.metadata
    if "init" not in md:
        return _from_text(str(task.input))
    try:
        init = frozenset(tuple(str(x) for x in f) for f in md["init"])
        goal = [tuple(str(x) for x in f) for f in md["goal"]]
        blocks = [str(b) for b in md["objects"]]
    except (KeyError, TypeError) as e:
        raise ConfigError(f"a blocksworld task carries init, goal and objects in its metadata ({e})") from None
    return init, goal, blocks


def statement(init: State, goal: list[Fact]) -> tuple[str, str]:
    """The initial conditions and the goal as the prompts write them (`<init_state>`, `<goals>`)."""
    return describe(init) + ".", "have that " + describe(goal) + "."


class BlocksworldEnv(Env, BaseModel):
    """Blocksworld planning: `steps` picks the split (instances whose gold plan has that many actions).

    steps: 2, 4, 6, 8, 10 or 12. start/end: a slice of the split.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "blocksworld"
    answer_format: ClassVar[bool] = True
    verifies: ClassVar[bool] = True

    steps: Literal[2, 4, 6, 8, 10, 12] = 4
    start: int = Field(default=0, ge=0)
    end: int | None = Field(default=None, ge=0)

    def tasks(self) -> Iterator[Task]:
        rows = [r for r in _rows() if r["steps"] == self.steps][self.start : self.end]
        for r in rows:
            init = frozenset(tuple(f) for f in r["init"])
            goal = [tuple(f) for f in r["goal"]]
            init_text, goal_text = statement(init, goal)
            yield Task(
                id=r["id"],
                input=f"As initial conditions I have that, {init_text}\nMy goal is to {goal_text}",
                expected="\n".join(f"({a})" for a in r["gold_plan"]),
                metadata={
                    "env": "blocksworld",
                    "steps": r["steps"],
                    "init": r["init"],
                    "goal": r["goal"],
                    "objects": r["objects"],
                },
            )

    def cot_prompt(self, task: Task) -> str:
        init, goal, _ = problem_of(task)
        init_text, goal_text = statement(init, goal)
        return prompts()["icl"].replace("<init_state>", init_text).replace("<goals>", goal_text).replace("<action>", "")

    def extract_answer(self, text: str) -> str | None:
        plan = parse_plan(text)
        return "\n".join(a.text() for a in plan) if plan else None

    def _check(self, task: Task, answer: str | None) -> tuple[bool, str, int, float]:
        init, goal, _ = problem_of(task)
        plan = parse_plan(answer or "")
        if not plan:
            return False, "no plan in the answer", 0, 0.0
        v = validate(init, goal, plan)
        return v.valid, v.reason, len(plan), v.goals_met

    def verify(self, task: Task, answer: str) -> float | None:
        """1 when the plan is valid (the validator needs the instance, never the gold plan), else 0."""
        return 1.0 if self._check(task, answer)[0] else 0.0

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when the answer's plan is valid; `metrics`: its length and the share of goals met."""
        ok, reason, length, met = self._check(task, answer)
        return Evaluation(
            correct=ok,
            score=1.0 if ok else 0.0,
            detail=reason or f"valid plan of {length} actions",
            metrics={"plan_length": float(length), "goals_met": met},
        )
