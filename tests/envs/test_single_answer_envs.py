"""qa, arithmetic and code envs: loaders (bad lines counted), scoring, and the shipped example data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder import registry
from ponder.envs.arithmetic import ArithmeticEnv, gsm8k_answer
from ponder.envs.base import Env
from ponder.envs.code import CodeEnv, build_program, extract_code
from ponder.envs.qa import QAEnv, f1_score, normalize_squad
from ponder.errors import ConfigError
from ponder.tools.sandbox import SandboxLimits


@pytest.mark.parametrize("name", ["qa", "arithmetic", "code", "household"])
def test_registered_and_ships_example_tasks(name: str) -> None:
    env = registry.load("envs", name)()
    assert isinstance(env, Env)
    tasks = list(env.tasks())
    assert len(tasks) >= 4
    assert len({t.id for t in tasks}) == len(tasks)
    assert all(t.metadata["env"] == name for t in tasks)


def test_squad_normalization_and_f1() -> None:
    assert normalize_squad("The  Lord Byron!") == "lord byron"
    assert f1_score("Lord Byron", "lord byron") == 1.0
    assert f1_score("George Byron", "Lord Byron") == pytest.approx(0.5)
    assert f1_score("yes", "no") == 0.0
    assert f1_score("", "x") == 0.0


def test_qa_scoring() -> None:
    env = QAEnv()
    task = next(t for t in env.tasks() if t.id == "qa-1")
    assert task.expected == "Lord Byron"
    assert task.metadata["supporting_titles"] == ["Ada Lovelace", "Analytical Engine"]
    right = env.evaluate(task, "lord byron.")
    assert right.correct is True and right.score == 1.0
    partial = env.evaluate(task, "George Gordon Byron")
    assert partial.correct is False and 0 < (partial.score or 0) < 1
    assert env.evaluate(task, None).correct is False


def test_arithmetic_loader_and_numeric_scoring(tmp_path: Path) -> None:
    assert gsm8k_answer("so 3 + 4 = 7\n#### 1,007") == "1007"
    f = tmp_path / "g.jsonl"
    f.write_text(
        json.dumps({"question": "1+1?", "answer": "#### 2"})
        + "\nnot json\n"
        + json.dumps({"question": "no final"})
        + "\n"
        + json.dumps({"question": "q", "answer": "no hashes"})
        + "\n"
    )
    env = ArithmeticEnv(f)
    tasks = list(env.tasks())
    assert [t.expected for t in tasks] == ["2"]
    assert len(env.bad_lines) == 3 and "not JSON" in env.bad_lines[0] and "missing answer" in env.bad_lines[1]
    assert env.evaluate(tasks[0], "2.0").correct is True
    assert env.evaluate(tasks[0], "The answer is 2.").correct is True
    assert env.evaluate(tasks[0], "3").correct is False
    assert env.evaluate(tasks[0], "two").correct is False
    shipped = {t.input[:20]: t.expected for t in ArithmeticEnv().tasks()}
    assert "245" in shipped.values()  # "1,005" style numbers parsed


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        list(QAEnv(tmp_path / "nope.jsonl").tasks())


def test_code_canonical_solutions_pass_and_wrong_ones_fail() -> None:
    env = CodeEnv()
    for task in env.tasks():
        good = task.metadata["canonical_solution"]
        assert env.evaluate(task, good).correct is True, task.id
        wrong = env.evaluate(task, "    return None\n")
        assert wrong.correct is False and wrong.score == 0.0
        assert "tests failed" in wrong.detail


def test_code_accepts_a_whole_function_in_a_fence() -> None:
    env = CodeEnv()
    task = next(t for t in env.tasks() if t.metadata["entry_point"] == "running_max")
    answer = (
        "Here you go:\n```python\ndef running_max(xs: List[int]) -> List[int]:\n"
        "    out = []\n    for x in xs:\n        out.append(max(out[-1], x) if out else x)\n    return out\n```"
    )
    assert "from typing import List" in build_program(task, answer)
    assert env.evaluate(task, answer).correct is True
    assert extract_code("no fence") == "no fence"


def test_code_candidate_that_hangs_is_stopped() -> None:
    env = CodeEnv(limits=SandboxLimits(timeout_s=0.5))
    task = next(env.tasks())
    ev = env.evaluate(task, "    while True:\n        pass\n")
    assert ev.correct is False and "timed out" in ev.detail
    assert env.evaluate(task, "").detail == "no code in the answer"
