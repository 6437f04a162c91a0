"""Strategies compared at equal cost (issue 11): a per-task budget in `ponder bench`, accuracy
per 1k tokens in `ponder compare`, the accuracy-vs-tokens chart of `ponder plot` with its
Pareto front; and the runs/bench tables at 80 columns (issue 12)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from ponder import registry
from ponder.cli import app
from ponder.experiments.plot import Point, pareto_front
from tests._toys import ToyEnv, adder

runner = CliRunner()


@pytest.fixture(autouse=True)
def _registered() -> None:
    registry.register("envs", "toy", ToyEnv)
    registry.register("backends", "adder", lambda **kw: adder(wrong={1}))


def _bench(db: Path, *args: str) -> dict[str, Any]:
    res = runner.invoke(app, ["bench", "--env", "toy", "--backend", "adder", "--db", str(db), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _pt(name: str, tokens: float, value: float) -> Point:
    return Point(experiment_id=name, label=name, tokens_per_task=tokens, value=value, metric="accuracy")


# -- the Pareto front ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "front"),
    [
        # cheap-and-weak, mid, and strong-but-dear are all optimal; d is beaten by b (cheaper and better)
        ([("a", 100, 0.2), ("b", 200, 0.5), ("c", 400, 0.9), ("d", 300, 0.4)], ["a", "b", "c"]),
        # e costs as much as f for less accuracy; g is as accurate as f for more tokens
        ([("e", 100, 0.3), ("f", 100, 0.6), ("g", 150, 0.6)], ["f"]),
        # identical points dominate neither each other
        ([("h", 50, 0.5), ("i", 50, 0.5)], ["h", "i"]),
        ([("only", 10, 0.0)], ["only"]),
        # one point beats all the others on both axes
        ([("x", 500, 0.1), ("y", 10, 1.0), ("z", 40, 0.7)], ["y"]),
    ],
)
def test_pareto_front(points: list[tuple[str, float, float]], front: list[str]) -> None:
    pts = [_pt(*p) for p in points]
    assert [pts[i].experiment_id for i in pareto_front(pts)] == front


# -- a per-task budget ----------------------------------------------------------------------------


def test_bench_budget_is_per_task_and_recorded(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    # one call per task: every CoT task fits (a budget shared by the experiment would stop the second)
    data = _bench(db, "--agent", "cot", "--n", "3", "--max-calls", "1", "--max-tokens", "10000")
    s = data["summary"]
    assert (s["n"], s["errors"]) == (3, 0)
    assert data["config"]["budget"] == {"max_calls": 1, "max_tokens": 10000, "timeout_s": None}
    # self-consistency with k=3 needs 3 calls a task (one request per sample): a 2-call budget stops each
    sc = _bench(
        db, "--agent", "self_consistency", "--n", "2", "--set", "k=3", "--set", "use_n=false", "--max-calls", "2"
    )
    assert sc["summary"]["errors"] == 2
    assert all(r["calls"] <= 2 for r in sc["results"])
    assert any("max-calls" in reason or "calls" in reason for reason in sc["summary"]["error_reasons"])


def test_bench_table_shows_the_budget(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "bench",
            "--env",
            "toy",
            "--agent",
            "cot",
            "--backend",
            "adder",
            "--db",
            str(tmp_path / "t.db"),
            "--n",
            "2",
            "--max-tokens",
            "500",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "budget / task" in res.stdout and "500 tokens" in res.stdout
    assert "accuracy / 1k tokens" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-calls", "-1"], "Invalid value for '--max-calls'"),
        (["--max-tokens", "-3"], "Invalid value for '--max-tokens'"),
        (["--timeout", "nan"], "--timeout nan"),
    ],
)
def test_bench_bad_budget(tmp_path: Path, args: list[str], message: str) -> None:
    res = runner.invoke(
        app, ["bench", "--env", "toy", "--agent", "cot", "--backend", "adder", "--db", str(tmp_path / "t.db"), *args]
    )
    assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_resume_keeps_the_budget(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    first = _bench(db, "--agent", "cot", "--n", "2", "--max-calls", "1")
    again = _bench(db, "--resume", first["id"])
    assert again["config"]["budget"]["max_calls"] == 1


# -- accuracy per 1k tokens -----------------------------------------------------------------------


def test_compare_gives_accuracy_per_1k_tokens(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    a = _bench(db, "--agent", "cot", "--n", "4")
    b = _bench(db, "--agent", "self_consistency", "--n", "4", "--set", "k=3")
    res = runner.invoke(app, ["compare", a["id"], b["id"], "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    for e in json.loads(res.stdout)["experiments"]:
        s = e["summary"]
        tokens = s["prompt_tokens"] + s["completion_tokens"]
        assert s["per_1k_tokens"] == pytest.approx(s["correct"] * 1000 / tokens)
    table = runner.invoke(app, ["compare", a["id"], b["id"], "--db", str(db)])
    assert "accuracy / 1k tokens" in table.stdout


# -- the chart ------------------------------------------------------------------------------------


def _three_experiments(db: Path) -> list[str]:
    return [
        _bench(db, "--agent", "cot", "--n", "4")["id"],
        _bench(db, "--agent", "self_consistency", "--n", "4", "--set", "k=3")["id"],
        _bench(db, "--agent", "self_consistency", "--n", "4", "--set", "k=5")["id"],
    ]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_the_chart_with_its_pareto_front(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib", reason='matplotlib is not installed (pip install -e ".[plot]")')
    db = tmp_path / "t.db"
    ids = _three_experiments(db)
    out = tmp_path / "charts" / f"acc{suffix}"
    res = runner.invoke(app, ["plot", *ids, "-o", str(out), "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    head = out.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in out.read_bytes()[:2000] or b"<?xml" in head
    points = data["points"]
    assert [p["experiment_id"] for p in points] == ids
    # the same scripted model answers every sample alike: SC buys no accuracy for 3x and 5x the tokens
    by_id = {p["experiment_id"]: p for p in points}
    assert by_id[ids[0]]["value"] == by_id[ids[1]]["value"] == by_id[ids[2]]["value"] == 0.75
    assert by_id[ids[0]]["tokens_per_task"] < by_id[ids[1]]["tokens_per_task"] < by_id[ids[2]]["tokens_per_task"]
    assert [p["pareto"] for p in points] == [True, False, False]
    text = runner.invoke(app, ["plot", *ids, "-o", str(out), "--db", str(db)])
    assert text.exit_code == 0 and f"Pareto front: {ids[0]}" in text.stdout


def test_plot_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "t.db"
    ids = _three_experiments(db)[:2]
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # what an import finds when the extra is not installed
    res = runner.invoke(app, ["plot", *ids, "-o", str(tmp_path / "c.png"), "--db", str(db)])
    assert res.exit_code == 2
    assert res.stderr.strip() == 'ponder: ponder plot needs matplotlib: pip install -e ".[plot]"'
    assert not (tmp_path / "c.png").exists()


def test_plot_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    ids = _three_experiments(db)[:1]
    bad = runner.invoke(app, ["plot", *ids, "-o", str(tmp_path / "c.pdf"), "--db", str(db)])
    assert bad.exit_code == 2 and "end the file name with .png or .svg" in bad.stderr
    missing = runner.invoke(app, ["plot", "nosuch", "-o", str(tmp_path / "c.png"), "--db", str(db)])
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1
    no_output = runner.invoke(app, ["plot", *ids, "--db", str(db)])
    assert no_output.exit_code == 2 and "Missing option '--output'" in no_output.stderr


# -- tables that fit 80 columns -------------------------------------------------------------------


def _widths(text: str) -> list[int]:
    return [cell_len(line) for line in text.splitlines()]


def test_runs_table_fits_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    db = tmp_path / "t.db"
    registry.register(
        "backends", "wordy", lambda **kw: adder().__class__(["I reason at length. " * 5 + "The answer is 42"] * 9)
    )
    question = "A long question that goes on and on about many things, more than any terminal row holds " * 2
    ran = runner.invoke(app, ["run", question, "--backend", "wordy", "--db", str(db), "--json"])
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]
    res = runner.invoke(app, ["runs", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert max(_widths(res.stdout)) <= 80, res.stdout
    header, row = res.stdout.splitlines()[:2]
    for col in ("id", "status", "answer", "question"):
        assert col in header
    assert row.startswith(run_id[:8]) and " ok " in row and "42" in row and "A long question" in row
    wide = runner.invoke(app, ["runs", "--db", str(db)], env={"COLUMNS": "200"})
    assert "model" in wide.stdout.splitlines()[0] and max(_widths(wide.stdout)) <= 200


def test_bench_table_fits_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    res = runner.invoke(
        app, ["bench", "--env", "toy", "--agent", "cot", "--backend", "adder", "--db", str(tmp_path / "t.db")]
    )
    assert res.exit_code == 0, res.output
    assert max(_widths(res.stdout)) <= 80, res.stdout
    lines = res.stdout.splitlines()
    header = next(line for line in lines if line.startswith("task") or " task " in line)
    for col in ("task", "status", "answer", "ok"):
        assert col in header
    assert any("✗" in line and "t1" in line for line in lines)  # the wrong answer is marked, not pushed off
