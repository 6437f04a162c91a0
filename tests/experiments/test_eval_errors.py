"""A check that cannot run is never a wrong answer: a bench whose env cannot run its tests does not
start (one line saying how to fix it), and an evaluation that could not run is an evaluation error,
counted apart from wrong answers in the run row, the summary and `ponder compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from ponder import Experiment, abench, registry
from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.envs.base import Evaluation
from ponder.envs.code import CodeEnv
from ponder.errors import ConfigError, ToolError
from ponder.experiments.comparison import compare
from ponder.runtime.runner import run_agent
from ponder.tools.sandbox import ExecResult
from ponder.traces.store import TraceStore
from ponder.types import Task
from tests._toys import ToyEnv, adder

runner = CliRunner()
ADD = "```python\ndef add(a, b):\n    return a + b\n```"


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without bubblewrap, where nobody chose the rlimits sandbox."""
    monkeypatch.setattr("ponder.tools.sandbox.bwrap_path", lambda: None)
    monkeypatch.delenv("PONDER_SANDBOX", raising=False)


def test_a_bench_whose_env_cannot_run_its_tests_does_not_start(no_bwrap: None, tmp_path: Path) -> None:
    model = ScriptedBackend(lambda req: ADD)
    registry.register("backends", "eval-errors-model", lambda **kw: model)
    db = str(tmp_path / "t.db")
    args = ["bench", "--env", "code", "--agent", "cot", "--backend", "eval-errors-model", "--n", "1", "--db", db]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "cannot run its tests" in lines[0] and "bubblewrap" in lines[0], lines[0]
    assert "PONDER_SANDBOX=rlimits" in lines[0] and "--env-set sandbox=rlimits" in lines[0], lines[0]
    assert model.requests == [], "no model call before the env is known to work"
    assert TraceStore(db).list_experiments() == []
    # the weaker sandbox chosen by name: the bench runs and judges the code
    ok = runner.invoke(app, [*args, "--env-set", "sandbox=rlimits", "--json"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)["summary"]
    assert (summary["correct"], summary["eval_errors"]) == (1, 0)


async def test_abench_refuses_it_too(no_bwrap: None, store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="cannot run its tests"):
        await abench(CoT(), CodeEnv(), backend=ScriptedBackend([ADD]), store=store, n=1)


async def test_a_sandbox_that_is_installed_but_broken_is_refused(
    monkeypatch: pytest.MonkeyPatch, store: TraceStore
) -> None:
    broken = ExecResult(returncode=1, stderr="bwrap: No permissions to create new namespace\n", sandbox="bwrap")
    monkeypatch.setattr("ponder.envs.code.run_python", lambda code, limits: broken)
    with pytest.raises(ConfigError, match="bwrap: No permissions to create new namespace"):
        await abench(CoT(), CodeEnv(), backend=ScriptedBackend([ADD]), store=store, n=1)


class Unjudgeable(ToyEnv):
    """Its check of task t1 cannot run (as a code env's tests without a sandbox)."""

    name: ClassVar[str] = "eval_errors_toy"

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        if task.id == "t1":
            raise ToolError("cannot run the tests: the sandbox is gone")
        return super().evaluate(task, answer)


async def test_an_evaluation_that_could_not_run_is_counted_apart(store: TraceStore) -> None:
    registry.register("envs", "eval_errors_toy", Unjudgeable)
    exp = await abench(CoT(), Unjudgeable(), backend=adder(wrong={2}), store=store)
    s = exp.summary
    assert (s.n, s.ok, s.correct, s.errors, s.eval_errors) == (4, 4, 2, 0, 1)
    assert s.eval_error_reasons == {"ToolError: cannot run the tests: the sandbox is gone": 1}
    t1 = next(r for r in exp.results if r.task_id == "t1")
    assert t1.correct is None and t1.score is None and "sandbox is gone" in (t1.eval_error or "")
    run = store.get_run(t1.run_id)
    assert run.status == "ok" and run.correct is None and "sandbox is gone" in (run.eval_error or "")
    answer = next(e for e in store.iter_events(t1.run_id, with_data=True) if e.kind == "answer")
    assert answer.data is not None and "sandbox is gone" in answer.data["eval_error"]
    assert Experiment.load(store, exp.id).summary == s
    assert "| evaluation errors | 1 (ToolError: cannot run the tests: the sandbox is gone) |" in exp.to_markdown()
    plain = await abench(CoT(), ToyEnv(), backend=adder(), store=store)
    both = compare([exp, plain])
    assert both.row("eval_errors").values == ("1 (ToolError: cannot run the tests: the sandbox is gone)", "0")
    data = both.to_dict()
    assert [e["summary"]["eval_errors"] for e in data["experiments"]] == [1, 0]
    assert any(r["key"] == "eval_errors" for r in data["rows"])


async def test_a_single_run_records_its_evaluation_error(store: TraceStore) -> None:
    task = next(t for t in Unjudgeable().tasks() if t.id == "t1")
    result = await run_agent(CoT(), task, backend=adder(), store=store, env=Unjudgeable())
    assert result.correct is None and result.status == "ok"
    assert "sandbox is gone" in (store.get_run(result.run_id).eval_error or "")


class NeverJudged(ToyEnv):
    """No answer can be judged here."""

    name: ClassVar[str] = "eval_errors_never"

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        raise ToolError("cannot run the tests: the sandbox is gone")


def test_ponder_run_says_its_answer_was_not_judged(tmp_path: Path) -> None:
    registry.register("envs", "eval_errors_never", NeverJudged)
    registry.register("backends", "eval-errors-adder", lambda **kw: adder())
    args = ["run", "What is 1 + 1?", "--env", "eval_errors_never", "--backend", "eval-errors-adder"]
    args += ["--db", str(tmp_path / "t.db")]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["correct"] is None and out["eval_error"] == "ToolError: cannot run the tests: the sandbox is gone"
    text = runner.invoke(app, args)
    assert "not judged: ToolError: cannot run the tests" in " ".join(text.stdout.split()), text.stdout
