"""A completion cut off at max_tokens is judged as it stands, and the experiment says how many were:
the summary's `cut at max_tokens` row (calls, tasks, how many of those were still right), counted
through child runs (Reflexion's trials), and a line from `ponder bench` saying how to give more."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ponder import Experiment, abench, registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.experiments.labels import summary_rows
from ponder.traces.store import TraceStore
from ponder.types import Choice, CompletionRequest
from tests._toys import ToyEnv, question_number


def _cutting_model(cut: set[int]) -> ScriptedBackend:
    """Answers `i + i`; for `cut` questions the reply stops at the token limit (question 1 after its answer)."""

    def answer(req: CompletionRequest) -> Choice:
        i = question_number(req)
        if i not in cut:
            return Choice(text=f"The answer is {2 * i}.", finish_reason="stop")
        text = f"The answer is {2 * i}. Let me check: {i} + {i}" if i == 1 else f"First, {i} plus"
        return Choice(text=text, finish_reason="length")

    return ScriptedBackend(answer)


async def test_the_summary_counts_the_calls_cut_at_max_tokens(store: TraceStore) -> None:
    exp = await abench("cot", ToyEnv(count=4), backend=_cutting_model({1, 2}), store=store)
    s = exp.summary
    assert (s.correct, s.cut_calls, s.cut_tasks, s.cut_correct) == (3, 2, 2, 1)
    assert [r.cut_calls for r in exp.results] == [0, 1, 1, 0]
    row = next(r for r in summary_rows(exp) if r.key == "cut")
    assert (row.label, row.text) == ("cut at max_tokens", "2 calls in 2 tasks (1 of them right)")
    assert "| cut at max_tokens | 2 calls in 2 tasks (1 of them right) |" in exp.to_markdown()
    again = Experiment.load(store, exp.id)  # read back from the store: the same figures
    assert (again.summary.cut_calls, again.summary.cut_tasks, again.summary.cut_correct) == (2, 2, 1)
    clean = await abench("cot", ToyEnv(count=2), backend=_cutting_model(set()), store=store)
    assert clean.summary.cut_text() == "0"


async def test_calls_cut_in_child_runs_count_for_their_task(store: TraceStore) -> None:
    # Reflexion's trials are child runs: the cut first trial of question 2 counts for task t2
    model = _cutting_model({2})
    exp = await abench(
        "reflexion",
        ToyEnv(count=3),
        backend=model,
        store=store,
        config={"inner": "cot", "evaluator": "env", "max_trials": 2},
    )
    t2 = next(r for r in exp.results if r.task_id == "t2")
    assert store.child_runs(t2.run_id), "the trials are child runs"
    assert t2.cut_calls >= 1 and t2.correct is False
    assert exp.summary.cut_tasks == 1


def test_bench_says_how_to_give_the_agent_more(tmp_path: Path) -> None:
    # arithmetic's questions are not `i + i` ones (question -1): every reply is cut
    registry.register("backends", "cutting-model", lambda **kw: _cutting_model({-1}))
    db = str(tmp_path / "t.db")
    res = CliRunner().invoke(
        app, ["bench", "--env", "arithmetic", "--agent", "cot", "--backend", "cutting-model", "--n", "2", "--db", db]
    )
    assert res.exit_code == 0, res.output
    assert "cut at max_tokens" in res.output
    assert "2 tasks had a completion cut at max_tokens" in res.output and "--set max_tokens=N" in res.output
    as_json = CliRunner().invoke(app, ["experiments", "--db", db, "--json"])
    assert as_json.exit_code == 0, as_json.output
    exp_id = json.loads(as_json.stdout)[0]["id"]
    assert Experiment.load(TraceStore(db), exp_id).summary.cut_tasks == 2
