"""Compute-matched comparisons (issue 20, item 5): every strategy benched on sorting records the official
error count (the tree searches too), a run that reaches its budget counts at what no answer scores,
and `ponder plot --metric errors` charts that figure against tokens, lower being better."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.experiments.plot import Point, label_offsets, pareto_front, shared_token_budget
from ponder.types import CompletionRequest
from tests.agents._got_sorter import sorter

runner = CliRunner()


def _sorts(req: CompletionRequest) -> str:
    """The official sorting prompts (one number short), and the generic tree-search ones (a right answer; the
    search's last step asks in the official CoT prompt's words: right too)."""
    p = req.messages[-1].content
    if "\n\nReasoning so far:\n" in p:
        nums = json.loads(p.split("\n\nReasoning so far:")[0].rsplit("Input: ", 1)[1])
        return f"Output: {sorted(nums)}"
    if p.startswith("Question: Sort the following list"):
        if "Evaluate whether" in p:
            return "sure"
        nums = json.loads(re.search(r"(\[[\d, ]*\])", p).group(1))  # type: ignore[union-attr]
        return f"Answer: {sorted(nums)}"
    return str(sorter()(req))


@pytest.fixture(autouse=True)
def _registered() -> None:
    registry.register("backends", "sorts", lambda **kw: ScriptedBackend(_sorts))


def _bench(db: Path, *args: str) -> dict[str, Any]:
    res = runner.invoke(
        app, ["bench", "--env", "sorting", "--backend", "sorts", "--n", "2", "--db", str(db), "--json", *args]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _pt(name: str, tokens: float, value: float) -> Point:
    return Point(
        experiment_id=name, label=name, tokens_per_task=tokens, value=value, metric="errors", higher_is_better=False
    )


@pytest.mark.parametrize(
    ("points", "front"),
    [
        # fewer errors is better: c (dear, no errors), b (cheaper, some) and a (cheapest, most) are optimal
        ([("a", 100, 9.0), ("b", 200, 3.0), ("c", 400, 0.0), ("d", 300, 5.0)], ["a", "b", "c"]),
        ([("e", 100, 2.0), ("f", 100, 1.0), ("g", 150, 1.0)], ["f"]),
    ],
)
def test_pareto_front_of_an_error_count(points: list[tuple[str, float, float]], front: list[str]) -> None:
    pts = [_pt(*p) for p in points]
    assert [pts[i].experiment_id for i in pareto_front(pts)] == front


def test_labels_of_points_close_together_are_stacked() -> None:
    pts = [_pt("a", 1000, 0.0), _pt("b", 1010, 0.0), _pt("c", 5000, 3.0), _pt("d", 1005, 0.01)]
    assert label_offsets(pts) == [0.0, 10.0, 0.0, 20.0]
    top = [_pt("a", 1000, 1.0), _pt("b", 1010, 1.0), _pt("c", 5000, 0.0)]
    assert label_offsets(top) == [0.0, -10.0, 0.0]  # at the top of the chart the labels stack downwards


def test_the_chart_marks_the_budget_the_experiments_share() -> None:
    class Exp:
        def __init__(self, budget: dict[str, Any] | None) -> None:
            self.config = {"budget": budget}

    same = [Exp({"max_tokens": 3000, "max_calls": None}), Exp({"max_tokens": 3000})]
    assert shared_token_budget(same) == 3000
    assert shared_token_budget([*same, Exp({"max_tokens": 4000})]) is None
    assert shared_token_budget([Exp(None), Exp(None)]) is None


def test_every_strategy_on_sorting_records_the_error_count(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    for agent, sets in [("got", ["--set", "graph=got"]), ("tot", ["--set", "breadth=1"]), ("cot", [])]:
        exp = _bench(db, "--agent", agent, *sets)
        errors = exp["summary"]["metrics"]["errors"]
        # got's improve step and the tree search's answer sort right; CoT's reply is one number short
        assert errors == {"mean": 0.0 if agent != "cot" else 1.0, "median": errors["median"], "n": 2}, agent


def test_a_run_out_of_budget_counts_as_no_answer_and_the_chart_says_so(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason='matplotlib is not installed (pip install -e ".[plot]")')
    db = tmp_path / "t.db"
    fits = _bench(db, "--agent", "cot", "--max-tokens", "5000")
    cut = _bench(db, "--agent", "got", "--set", "graph=got", "--max-tokens", "400")
    s = cut["summary"]
    assert s["errors"] == 2 and all("--max-tokens" in r for r in s["error_reasons"])
    # both runs stopped before an answer: each counts what no answer scores, and the summary says how many
    assert s["metrics"]["errors"] == {"mean": 300.0, "median": 300.0, "n": 2, "failed": 2}
    table = json.loads(runner.invoke(app, ["compare", fits["id"], cut["id"], "--db", str(db), "--json"]).stdout)
    row = next(r for r in table["rows"] if r["key"] == "metric:errors")
    assert row["values"] == ["1.000 / 1.000", "300.000 / 300.000 (2 failed runs as no answer)"]

    out = tmp_path / "errors.png"
    res = runner.invoke(app, ["plot", fits["id"], cut["id"], "-o", str(out), "--db", str(db), "--metric", "errors"])
    assert res.exit_code == 0, res.output
    data = json.loads(
        runner.invoke(
            app, ["plot", fits["id"], cut["id"], "-o", str(out), "--db", str(db), "--metric", "errors", "--json"]
        ).stdout
    )
    by_id = {p["experiment_id"]: p for p in data["points"]}
    assert by_id[fits["id"]]["value"] == 1.0 and by_id[cut["id"]]["value"] == 300.0
    assert by_id[cut["id"]]["higher_is_better"] is False and by_id[cut["id"]]["failed"] == 2
    assert "(2/2 failed)" in by_id[cut["id"]]["label"]
    # the cut runs spent fewer tokens (400 a task) than CoT for far more errors: both are on the front
    assert by_id[cut["id"]]["tokens_per_task"] < by_id[fits["id"]]["tokens_per_task"]
    assert [p["pareto"] for p in data["points"]] == [True, True]
    # the accuracy chart places an experiment whose every task failed at 0, not nowhere
    acc = runner.invoke(app, ["plot", fits["id"], cut["id"], "-o", str(out), "--db", str(db), "--json"])
    assert acc.exit_code == 0, acc.output
    assert {p["experiment_id"]: p["value"] for p in json.loads(acc.stdout)["points"]}[cut["id"]] == 0.0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_plot_metric_bad_input_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    exp = _bench(db, "--agent", "cot")
    out = str(tmp_path / "c.png")
    bad = runner.invoke(app, ["plot", exp["id"], "-o", out, "--db", str(db), "--metric", "nosuch"])
    assert bad.exit_code == 2 and "has no metric 'nosuch' (it has: accuracy, errors)" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    worse = runner.invoke(app, ["plot", exp["id"], "-o", out, "--db", str(db), "--better", "sideways"])
    assert worse.exit_code == 2 and "--better 'sideways': say higher or lower" in worse.stderr
