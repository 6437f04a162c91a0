"""`ponder run` with self-consistency and Tree-of-Thoughts (the issue's two commands)."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.envs.game24 import propose_steps, solve, verify
from ponder.envs.game24.puzzles import _paths
from ponder.types import CompletionRequest
from tests._game24_model import gpt4_like

runner = CliRunner()


def _respond(req: CompletionRequest) -> str:
    p = req.messages[-1].content
    if p.rstrip().endswith("Possible next steps:"):
        nums = p.rstrip().split("\n")[-2].removeprefix("Input: ").strip()
        return "\n".join(propose_steps(nums, limit=40))
    if "Evaluate if given numbers can reach 24" in p:
        nums = tuple(sorted(Fraction(t) for t in p.rstrip().split("\n")[-1].split()))
        return "sure" if _paths(nums) else "impossible"
    if p.rstrip().endswith("Judge:"):
        return "sure"
    if "Steps:" in p:
        x = re.findall(r"Input: (.*)\n", p)[-1]
        return f"Answer: {solve([int(t) for t in x.split()])} = 24"
    return "17 * 23 = 391. The answer is 391."


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[ScriptedBackend]:
    made: list[ScriptedBackend] = []

    def factory(model: str = "fake-model") -> ScriptedBackend:
        made.append(ScriptedBackend(_respond, model=model))
        return made[-1]

    monkeypatch.setitem(registry._extra["backends"], "fake", factory)
    return made


def test_tot_game24_from_the_command_line(tmp_path: Path, fake: list[ScriptedBackend]) -> None:
    db = str(tmp_path / "t.db")
    args = ["run", "4 9 10 13", "--agent", "tot", "--set", "env=game24", "--backend", "fake", "--db", db, "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert verify((4, 9, 10, 13), out["answer"])
    shown = json.loads(runner.invoke(app, ["show", out["run_id"], "--db", db, "--format", "json"]).stdout)
    kinds = {e["kind"] for e in shown["events"]}
    assert {"node", "evaluation", "llm_call", "answer"} <= kinds
    assert any(e["kind"] == "node" and e["status"] == "chosen" for e in shown["events"])


def test_tot_bad_puzzle_is_one_line_error(tmp_path: Path, fake: list[ScriptedBackend]) -> None:
    args = ["run", "4 9 10 99", "--agent", "tot", "--set", "env=game24", "--backend", "fake"]
    res = runner.invoke(app, [*args, "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 2
    assert "four whole numbers in 1–13" in res.output


def test_self_consistency_k8_from_the_command_line(tmp_path: Path, fake: list[ScriptedBackend]) -> None:
    db = str(tmp_path / "t.db")
    args = ["run", "What is 17 * 23?", "--agent", "self_consistency", "--set", "k=8", "--backend", "fake"]
    res = runner.invoke(app, [*args, "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["answer"] == "391"
    assert [r.n for r in fake[-1].requests] == [8]
    shown = json.loads(runner.invoke(app, ["show", out["run_id"], "--db", db, "--format", "json"]).stdout)
    vote = [e for e in shown["events"] if e["kind"] == "vote"]
    assert len(vote) == 1 and vote[0]["data"]["tally"] == {"391": 8}
    assert sum(1 for e in shown["events"] if e["kind"] == "path") == 8


def test_unknown_option_names_the_agent_options(tmp_path: Path, fake: list[ScriptedBackend]) -> None:
    args = ["run", "q", "--agent", "tot", "--set", "width=3", "--backend", "fake", "--db", str(tmp_path / "t.db")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "breadth" in res.output


def test_bench_game24_shows_top1_and_any_of_b(tmp_path: Path, fake: list[ScriptedBackend]) -> None:
    args = ["bench", "--env", "game24", "--env-set", "n=1", "--agent", "tot", "--set", "faithful=true",
            "--set", "breadth=2", "--backend", "fake", "--db", str(tmp_path / "t.db")]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "accuracy (top-1 / majority)" in res.stdout and "any of b (oracle)" in res.stdout


def test_mcts_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a model that proposes some promising steps first, as a strong model does
    monkeypatch.setitem(registry._extra["backends"], "gpt4like", lambda model="m": ScriptedBackend(gpt4_like))
    db = str(tmp_path / "t.db")
    args = ["run", "4 9 10 13", "--agent", "mcts", "--set", "env=game24", "--set", "n_iterations=8",
            "--set", "parallel=2", "--backend", "gpt4like", "--db", db, "--json"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert verify((4, 9, 10, 13), json.loads(res.stdout)["answer"])
    bad = ["run", "q", "--agent", "mcts", "--set", "n_iterations=0", "--backend", "gpt4like", "--db", db]
    out = runner.invoke(app, bad)
    assert out.exit_code == 2 and "n_iterations" in out.output and "Traceback" not in out.output
