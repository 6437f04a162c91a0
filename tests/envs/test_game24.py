"""Game of 24: the verifier, solver, generator, loader, step checker and env."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.envs.game24 import (
    Game24Env,
    Game24Thoughts,
    all_puzzles,
    check_step,
    count_solutions,
    load_puzzles,
    parse_expression,
    parse_puzzle,
    propose_steps,
    sample_puzzles,
    solve,
    verify,
)
from ponder.envs.game24.expressions import ExpressionError
from ponder.envs.game24.steps import Item
from ponder.errors import ConfigError
from ponder.types import Task


@pytest.mark.parametrize(
    ("numbers", "expression"),
    [
        ((3, 3, 8, 8), "8/(3-8/3)"),
        ((3, 3, 8, 8), "8 / (3 - 8 / 3) = 24"),
        ((1, 5, 5, 5), "5 * (5 - 1 / 5)"),
        ((4, 9, 10, 13), "Answer: (13 - 9) * (10 - 4) = 24"),
        ((1, 4, 8, 8), "(8 ÷ 4 + 1) × 8"),
        ((2, 9, 10, 12), "[2 * 12] * (10 - 9)."),
    ],
)
def test_verify_accepts_exact_solutions(numbers: tuple[int, ...], expression: str) -> None:
    assert verify(numbers, expression), expression


@pytest.mark.parametrize(
    ("numbers", "expression", "why"),
    [
        ((3, 3, 8, 8), "8/3-8/3", "wrong value"),
        ((4, 9, 10, 13), "(13 - 9) * (10 - 4) + 0", "extra number"),
        ((4, 9, 10, 13), "(13 - 9) * 6", "missing numbers"),
        ((4, 4, 6, 8), "(4 + 8) * (6 - 4) + 1", "25"),
        ((1, 1, 2, 8), "8 * (1 + 1 + 1)", "right value, uses 1 three times"),
        ((1, 2, 3, 4), "__import__('os').system('true')", "not an expression"),
        ((1, 2, 3, 4), "eval('24')", "not an expression"),
        ((1, 2, 3, 4), "", "empty"),
        ((1, 2, 3, 4), "(1 + 2) * (3 + 4", "unbalanced"),
        ((1, 2, 3, 4), "1 2 3 4", "no operators"),
        ((1, 2, 3, 4), "-1 + 2 * 3 * 4 + 1", "unary minus is not allowed"),
        ((1, 2, 3, 4), "1e1 + 2 + 3 + 4", "not integers"),
        ((4, 6, 1, 1), "4 * 6 / (1 - 1)", "division by zero"),
    ],
)
def test_verify_rejects(numbers: tuple[int, ...], expression: str, why: str) -> None:
    assert not verify(numbers, expression), why


def test_parse_expression_reports_what_is_wrong() -> None:
    with pytest.raises(ExpressionError, match="parenthesis"):
        parse_expression("(1 + 2")
    with pytest.raises(ExpressionError):
        parse_expression("1 + import")


@pytest.mark.parametrize("numbers", [(3, 3, 8, 8), (1, 5, 5, 5), (4, 9, 10, 13), (1, 1, 4, 6), (12, 12, 12, 12)])
def test_solve_finds_a_verified_solution(numbers: tuple[int, ...]) -> None:
    expr = solve(numbers)
    assert expr is not None
    assert verify(numbers, expr), expr


@pytest.mark.parametrize("numbers", [(1, 1, 1, 1), (1, 1, 1, 2), (13, 13, 13, 13)])
def test_solve_returns_none_when_unsolvable(numbers: tuple[int, ...]) -> None:
    assert solve(numbers) is None
    assert count_solutions(numbers) == 0


def test_generator_lists_every_solvable_puzzle_with_a_difficulty() -> None:
    puzzles = all_puzzles()
    # 1820 multisets of four numbers in 1–13, of which 1362 are solvable (the size of the 4nums list)
    assert len(puzzles) == 1362
    assert all(solve(p.numbers) is not None for p in puzzles[:40])
    hardest = puzzles[0]
    assert hardest.solutions == min(p.solutions for p in puzzles)
    assert 0.0 <= puzzles[-1].difficulty <= hardest.difficulty <= 1.0
    # 3 3 8 8 has a single way through (8 / (3 - 8/3)): among the hardest
    by_nums = {p.numbers: p for p in puzzles}
    assert by_nums[(3, 3, 8, 8)].difficulty > by_nums[(12, 12, 12, 12)].difficulty


def test_sampling_is_seeded() -> None:
    a = sample_puzzles(5, seed=1)
    assert a == sample_puzzles(5, seed=1)
    assert a != sample_puzzles(5, seed=2)
    hard = sample_puzzles(5, seed=0, min_difficulty=0.7)
    assert all(p.difficulty >= 0.7 for p in hard)


@pytest.mark.parametrize("bad", ["1 2 3", "1 2 3 4 5", "0 2 3 4", "1 2 3 14", "a b c d", "1.5 2 3 4", ""])
def test_bad_puzzle_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="four whole numbers in 1–13"):
        parse_puzzle(bad)


def test_load_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("Rank,Puzzles,AMT (s)\n1,1 1 4 6,4.4\n2,4 9 10 13,5.0\n", encoding="utf-8")
    assert load_puzzles(csv_path) == [(1, 1, 4, 6), (4, 9, 10, 13)]
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"puzzle": "3 3 8 8"}) + "\n\n" + json.dumps({"numbers": [1, 5, 5, 5]}) + "\n")
    assert load_puzzles(jl) == [(3, 3, 8, 8), (1, 5, 5, 5)]
    bad = tmp_path / "bad.csv"
    bad.write_text("Rank,Puzzles\n1,1 2 3 99\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_puzzles(bad)
    with pytest.raises(ConfigError, match="no puzzle file"):
        load_puzzles(tmp_path / "missing.csv")


def test_env_tasks_from_file_and_generated(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Rank,Puzzles\n1,1 1 4 6\n2,4 9 10 13\n3,3 3 8 8\n", encoding="utf-8")
    tasks = list(Game24Env(path=str(path), start=1).tasks())
    assert [t.input for t in tasks] == ["4 9 10 13", "3 3 8 8"]
    assert tasks[0].id == "game24-1"
    env = Game24Env(n=3, seed=7)
    gen = list(env.tasks())
    assert len(gen) == 3 and gen == list(Game24Env(n=3, seed=7).tasks())
    task = gen[0]
    assert env.evaluate(task, solve(task.metadata["numbers"])).correct is True
    assert env.evaluate(task, "1 + 1").correct is False
    env.reset(task)
    assert env.step("1 + 1") == ("incorrect", 0.0, True)


def _items(*nums: int) -> tuple[Item, ...]:
    from fractions import Fraction

    return tuple(Item(Fraction(n), str(n)) for n in nums)


def test_step_checker() -> None:
    avail = _items(4, 6, 8, 10)
    ok = check_step("4 + 8 = 12 (left: 6 10 12)", avail)
    assert ok.error is None and sorted(int(i.value) for i in ok.left) == [6, 10, 12]
    assert "is 12, not 13" in (check_step("4 + 8 = 13 (left: 6 10 13)", avail).error or "")
    assert "not left" in (check_step("4 + 5 = 9 (left: 6 8 9 10)", avail).error or "")
    assert "'left'" in (check_step("4 + 8 = 12 (left: 6 12)", avail).error or "")
    assert "not left" in (check_step("4 + 8 = 12 (left: 7 10 12)", avail).error or "")
    assert check_step("I think we should add 4 and 8", avail).error is not None
    assert check_step("1. 4 + 8 = 12 (left: 6 10 12)", avail).error is None  # a numbered line is fine


def test_thought_states_track_exact_values() -> None:
    g = Game24Thoughts((3, 3, 8, 8))
    y = "8 / 3 = 2.67 (left: 2.67 3 8)\n3 - 2.67 = 0.33 (left: 0.33 8)\n8 / 0.33 = 24 (left: 24)\n"
    assert g.answer(y) == "8 / (3 - (8 / 3))"
    assert verify((3, 3, 8, 8), g.answer(y))
    # once 24 is left, the paper asks for the answer with its CoT prompt
    assert g.propose_prompt(y).endswith("Steps:" + y)
    steps = g.parse_steps(y, "Answer: 8 / (3 - 8 / 3) = 24")
    assert steps == [("Answer: 8 / (3 - 8 / 3) = 24", None)]
    assert g.parse_steps(y, "Answer: 8 * 3 = 24")[0][1] is not None
    assert g.parse_steps(y, "I give up")[0][1] is not None


def test_value_prompts_and_dead_ends() -> None:
    g = Game24Thoughts((4, 9, 10, 13))
    assert "Evaluate if given numbers can reach 24" in (g.value_prompt("13 - 10 = 3 (left: 3 4 9)\n") or "")
    assert g.value_prompt("13 - 10 = 3 (left: 3 4 9)\n").rstrip().endswith("3 4 9")  # type: ignore[union-attr]
    dead = "13 - 10 = 3 (left: 3 4 9)\n9 - 3 = 6 (left: 4 6)\n4 + 6 = 10 (left: 10)\n"
    assert g.value_prompt(dead) is None and g.is_terminal(dead)
    assert "Judge:" in (g.value_prompt("Answer: (13 - 9) * (10 - 4) = 24\n") or "")
    assert g.parse_value("9 - 3 = 6\nsure") == 20.0
    assert g.parse_value("too big\nimpossible") == 0.001
    assert g.parse_value("hmm, hard to say") is None


def test_propose_steps_are_valid() -> None:
    lines = propose_steps("4 9 10 13", limit=50)
    assert lines
    avail = _items(4, 9, 10, 13)
    assert all(check_step(ln, avail).error is None for ln in lines)


def test_task_with_bad_puzzle_errors_clearly() -> None:
    with pytest.raises(ConfigError, match="four whole numbers"):
        Game24Env().thought_problem(Task.from_question("What is 17 * 23?"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/()[]×÷ .=xAnswer:", max_size=40))
def test_verify_never_raises_on_arbitrary_text(text: str) -> None:
    assert verify((1, 2, 3, 4), text) in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=13), min_size=4, max_size=4))
def test_solver_and_verifier_agree(numbers: list[int]) -> None:
    expr = solve(numbers)
    assert (expr is not None) == (count_solutions(numbers) > 0)
    if expr is not None:
        assert verify(numbers, expr)
        assert verify(list(reversed(numbers)), expr), "order of the numbers does not matter"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_step_checker_never_raises(line: str) -> None:
    chk = check_step(line, _items(4, 6, 8, 10))
    assert chk.error is not None or len(chk.left) == 3


async def test_cot_on_game24_uses_the_papers_prompt_and_checks_the_expression(store) -> None:
    from ponder.agents.cot import CoT
    from ponder.backends.scripted import ScriptedBackend
    from ponder.envs.game24 import Game24Env
    from ponder.runtime.runner import env_evaluator, run_agent
    from ponder.types import Task

    reply = "Steps:\n13 - 10 = 3 (left: 3 4 9)\n9 - 3 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\n"
    reply += "Answer: 4 * (9 - (13 - 10)) = 24\nInput: 1 1 1 1\nAnswer: 1 + 1 = 24"
    backend = ScriptedBackend([reply])
    task = Task(id="p", input="4 9 10 13")
    result = await run_agent(
        CoT(env="game24"), task, backend=backend, store=store, evaluator=env_evaluator(Game24Env())
    )
    prompt = backend.requests[0].messages
    assert len(prompt) == 1 and prompt[0].content.startswith("Use numbers and basic arithmetic operations")
    assert prompt[0].content.rstrip().endswith("Input: 4 9 10 13")
    assert result.answer == "4 * (9 - (13 - 10))" and result.correct is True


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        # real replies of Qwen2.5-Coder 0.5B / 1.5B to the paper's prompts (tests/fixtures/answers)
        ("Answer: (13 - 4) * (4 - (13 - 10)) = 24\nInput: 1 1 1 1\nAnswer: 1 + 1 = 2", "(13 - 4) * (4 - (13 - 10))"),
        ("(4 + 6) * (5 - 4) = 24", "(4 + 6) * (5 - 4)"),  # an IO reply without the label
        ("- 4 + 8 = 12\n- 6 - 4 = 2\n- 2 * 12 = 24\nTherefore, the answer is \\(\\boxed{24}\\).", "24"),
        ("5. **Answer**: The final answer is `1728`.", "1728"),  # wrong, but what it gave
        ("7 - 4 = 3 (left: 1 2 3)\n3 * 2 = 6 (left: 1 6)\n6 + 1 = 7 (left: 7)", None),  # steps, no answer
        ("2 * 12 = 24", None),  # one step is not an expression of the puzzle
    ],
)
def test_extract_answer_reads_what_a_reply_states(reply: str, answer: str | None) -> None:
    assert Game24Env().extract_answer(reply) == answer
