"""Blocksworld: every shipped gold plan validates; mutated plans are refused; any text parses without a crash."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ponder.envs.blocksworld.domain import Action, parse_action, parse_plan, validate
from ponder.envs.blocksworld.env import BlocksworldEnv, problem_of

ROWS = [
    json.loads(line)
    for line in resources.files("ponder.envs.blocksworld").joinpath("data/blocksworld.jsonl").read_text().splitlines()
]


def _plan(row: dict) -> list[Action]:
    plan = [parse_action(f"({p})") for p in row["gold_plan"]]
    assert all(plan)
    return [a for a in plan if a is not None]


def test_every_gold_plan_validates() -> None:
    assert len(ROWS) == 590
    for row in ROWS:
        init = frozenset(tuple(f) for f in row["init"])
        v = validate(init, [tuple(f) for f in row["goal"]], _plan(row))
        assert v.valid, (row["id"], v.reason)


@pytest.mark.parametrize("row", ROWS[::37], ids=lambda r: r["id"])
def test_mutated_plans_are_refused(row: dict) -> None:
    init = frozenset(tuple(f) for f in row["init"])
    goal = [tuple(f) for f in row["goal"]]
    plan = _plan(row)
    assert not validate(init, goal, plan[:-1]).valid  # the last action dropped: goal not reached
    if len(plan) > 1:
        swapped = [plan[1], plan[0], *plan[2:]]
        assert not validate(init, goal, swapped).valid  # the first two swapped: not applicable
    bad = Action("stack", (plan[0].args[0], plan[0].args[0] if len(plan[0].args) == 1 else plan[0].args[1]))
    assert not validate(init, goal, [bad, *plan]).valid


def test_env_reads_english_and_pddl_plans_and_scores_with_the_validator() -> None:
    env = BlocksworldEnv(steps=2)
    task = next(env.tasks())
    english = env.extract_answer(
        "My plan is as follows:\n[PLAN]\nunstack the blue block from on top of the orange block\n"
        "stack the blue block on top of the yellow block\n[PLAN END]"
    )
    assert english is not None
    ok = env.evaluate(task, english)
    assert ok.correct and ok.metrics == {"plan_length": 2.0, "goals_met": 1.0}
    assert env.evaluate(task, task.expected).correct  # the gold plan in PDDL
    wrong = env.evaluate(task, "stack the blue block on top of the yellow block")
    assert wrong.correct is False and "not applicable" in wrong.detail
    assert env.evaluate(task, None).correct is False
    assert env.verify(task, str(task.expected)) == 1.0
    _init, goal, blocks = problem_of(task)
    assert blocks == ["a", "b", "c", "d"] and goal


@given(st.text(max_size=200))
def test_any_reply_parses_without_a_crash(text: str) -> None:
    env = BlocksworldEnv(steps=2)
    task = next(env.tasks())
    plan = parse_plan(text)
    assert isinstance(plan, list)
    assert env.evaluate(task, text).correct in (True, False)


def test_a_task_given_as_text_is_read_from_its_statement() -> None:
    from ponder.types import Task

    for task in list(BlocksworldEnv(steps=6).tasks())[:20]:
        assert problem_of(Task.from_question(task.input)) == problem_of(task)
    with pytest.raises(Exception, match="My goal is to"):
        problem_of(Task.from_question("stack the blocks"))
