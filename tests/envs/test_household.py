"""household: deterministic seeded worlds, the action rules, graded goals, reward and evaluation."""

from __future__ import annotations

import pytest

from ponder.envs.household import NOTHING, HouseholdEnv, generate, make_task
from ponder.errors import ConfigError
from ponder.types import Task


def test_same_seed_same_world_and_tasks() -> None:
    a = [t.model_dump() for t in HouseholdEnv(n_tasks=9, seed=3).tasks()]
    b = [t.model_dump() for t in HouseholdEnv(n_tasks=9, seed=3).tasks()]
    assert a == b
    assert [t["metadata"]["difficulty"] for t in a] == [1, 2, 3] * 3
    assert generate(5, 2) == generate(5, 2)


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_oracle_plan_reaches_every_goal(difficulty: int) -> None:
    env = HouseholdEnv(n_tasks=15, difficulty=difficulty)
    for task in env.tasks():
        plan = env.solve(task)
        ev = env.evaluate(task, "\n".join(plan))
        assert ev.correct is True and ev.score == 1.0, (task.metadata["goal"], plan)
        assert env.evaluate(task, "look\ninventory").correct is False


def test_difficulty_grades_the_goal() -> None:
    goals = {d: [make_task(s, d).metadata["goal"] for s in range(10)] for d in (1, 2, 3)}
    assert not any(g.startswith(("put a clean", "put a hot", "put a cool", "put two")) for g in goals[1])
    assert all(g.startswith(("put a clean", "put a hot", "put a cool")) for g in goals[2])
    assert all(g.startswith("put two") for g in goals[3])


def test_rules_step_by_step() -> None:
    env = HouseholdEnv()
    task = make_task(0, 2)  # a goal that needs a property
    env.reset(task)
    w = env.world
    assert w is not None
    g = w.goal
    where = next(p for p, objs in w.contents.items() if any(o.startswith(g.kind + " ") for o in objs))
    obj = next(o for o in w.contents[where] if o.startswith(g.kind + " "))
    # you cannot take what is not where you are
    assert env.step(f"take {obj} from {where}") == (NOTHING, 0.0, False)
    obs, _, _ = env.step(f"go to {where}")
    assert obs.startswith(f"You arrive at {where}.")
    if w.openable(where):
        assert "closed" in obs
        assert env.step(f"take {obj} from {where}")[0] == NOTHING  # closed
        assert env.step(f"open {where}")[0].startswith(f"You open the {where}.")
        assert env.step(f"open {where}")[0] == NOTHING  # already open
    assert env.step(f"take the {obj} from {where}.")[0] == f"You pick up the {obj} from the {where}."
    assert env.step("inventory")[0] == f"You are carrying: a {obj}."
    assert env.step(f"take {obj} from {where}")[0] == NOTHING  # hands full
    # the property only with the right appliance, when there
    verb = {"clean": "clean", "hot": "heat", "cool": "cool"}[g.prop or "clean"]
    tool = {"clean": "sinkbasin 1", "hot": "microwave 1", "cool": "fridge 1"}[g.prop or "clean"]
    assert env.step(f"{verb} {obj} with {tool}")[0] == NOTHING  # not there yet
    env.step(f"go to {tool}")
    assert env.step(f"{verb} {obj} with {tool}")[0] == f"You {verb} the {obj} using the {tool}."
    assert g.prop in env.step(f"examine {obj}")[0]
    env.step(f"go to {g.target}")
    if w.openable(g.target):
        env.step(f"open {g.target}")
    obs, reward, done = env.step(f"put {obj} in/on {g.target}")
    assert obs.startswith(f"You put the {obj}") and (reward, done) == (1.0, True)
    assert env.step("look") == ("The task is already done.", 1.0, True)


@pytest.mark.parametrize("nonsense", ["dance", "", "go to the moon", "take everything", "open sesame", "🙂" * 50])
def test_nonsense_actions_answer_nothing_happens(nonsense: str) -> None:
    env = HouseholdEnv()
    env.reset(make_task(1, 1))
    assert env.step(nonsense) == (NOTHING, 0.0, False)


def test_misuse_gives_config_errors() -> None:
    env = HouseholdEnv()
    with pytest.raises(ConfigError, match="reset"):
        env.step("look")
    with pytest.raises(ConfigError, match="not a household task"):
        env.reset(Task(id="x", input="hi"))
    with pytest.raises(ConfigError, match="difficulty"):
        generate(1, 7)
