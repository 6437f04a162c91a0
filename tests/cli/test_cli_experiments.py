"""`ponder bench`, `ponder compare` and `ponder replay` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.agents import cot as cot_module
from ponder.cli import app
from tests._toys import ToyEnv, adder

runner = CliRunner()
WRONG: set[int] = set()


@pytest.fixture(autouse=True)
def _registered() -> None:
    WRONG.clear()
    registry.register("envs", "toy", ToyEnv)
    registry.register("backends", "adder", lambda **kw: adder(wrong=WRONG))


def bench_json(db: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(
        app, ["bench", "--env", "toy", "--agent", "cot", "--backend", "adder", "--db", str(db), "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bench_json(tmp_path: Path) -> None:
    WRONG.add(1)
    data = bench_json(tmp_path / "t.db", "--n", "3", "--set", "max_tokens=100", "--env-set", "count=5", "--seed", "4")
    s = data["summary"]
    assert (s["n"], s["correct"], s["errors"], s["metric"]) == (3, 2, 0, "accuracy")
    assert abs(s["accuracy"] - 2 / 3) < 1e-9
    assert data["config"]["agent_config"]["max_tokens"] == 100 and data["config"]["env_config"]["count"] == 5
    assert data["config"]["seed"] == 4
    assert [r["task_id"] for r in data["results"]] == ["t0", "t1", "t2"]


def test_bench_table(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bench", "--env", "toy", "--agent", "cot", "--backend", "adder", "--db", str(tmp_path / "t.db")]
    )
    assert result.exit_code == 0, result.output
    assert "experiment " in result.stdout and "accuracy" in result.stdout and "1.000" in result.stdout
    assert "t3" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be at least 1"),
        (["--env", "nope"], "unknown env 'nope'; known envs:"),
        (["--agent", "nope"], "unknown agent 'nope'; known agents:"),
        (["--set", "k=3"], "agent 'cot' has no option 'k'"),
        (["--resume", "feedface"], "no experiment 'feedface'"),
    ],
)
def test_bench_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--env": "toy", "--agent": "cot"}
    for i in range(0, len(args) - 1, 2):
        base.pop(args[i], None)
    flat = [x for kv in base.items() for x in kv]
    result = runner.invoke(app, ["bench", *flat, "--backend", "adder", "--db", str(tmp_path / "t.db"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bench_resume_from_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    first = bench_json(db, "--n", "2")
    again = runner.invoke(app, ["bench", "--resume", first["id"], "--db", str(db), "--json"])
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["id"] == first["id"] and data["summary"]["n"] == 2
    assert [r["run_id"] for r in data["results"]] == [r["run_id"] for r in first["results"]]  # nothing redone


def test_compare_two_experiments(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    WRONG.add(2)
    a = bench_json(db)
    WRONG.clear()
    WRONG.add(0)
    b = bench_json(db, "--set", "temperature=0.5")
    result = runner.invoke(app, ["compare", a["id"], b["id"], "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert a["id"] in result.stdout and b["id"] in result.stdout
    assert "agent.temperature" in result.stdout and "0.5" in result.stdout
    assert f"solved by {a['id']}, not by {b['id']} (1): t0" in result.stdout
    assert f"solved by {b['id']}, not by {a['id']} (1): t2" in result.stdout
    js = runner.invoke(app, ["compare", a["id"], b["id"], "--db", str(db), "--json"])
    assert js.exit_code == 0
    assert len(json.loads(js.stdout)["experiments"]) == 2
    one = runner.invoke(app, ["compare", a["id"], "--db", str(db)])
    assert one.exit_code == 2 and "at least two" in one.stderr


def test_replay_identical_then_divergent_after_a_prompt_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from string import Template

    db = tmp_path / "t.db"
    data = bench_json(db, "--n", "1")
    run_id = data["results"][0]["run_id"]
    ok = runner.invoke(app, ["replay", run_id, "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("identical")
    js = runner.invoke(app, ["replay", run_id[:8], "--db", str(db), "--json"])
    assert js.exit_code == 0 and json.loads(js.stdout)["identical"] is True

    edited = Template(cot_module.COT_ZERO_SHOT.template.replace("Q:", "Question:"))
    monkeypatch.setattr(cot_module, "COT_ZERO_SHOT", edited)
    bad = runner.invoke(app, ["replay", run_id, "--db", str(db)])
    assert bad.exit_code == 1, bad.output
    assert "divergence at event 1" in bad.stdout
    assert "+[user] Question:" in bad.stdout
    js = runner.invoke(app, ["replay", run_id, "--db", str(db), "--json"])
    assert js.exit_code == 1
    d = json.loads(js.stdout)["divergence"]
    assert d["index"] == 1 and "first differing message: #1" in d["miss"]


def test_replay_bad_input_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    data = bench_json(db, "--n", "1")
    run_id = data["results"][0]["run_id"]
    unknown = runner.invoke(app, ["replay", "nosuchrun", "--db", str(db)])
    assert unknown.exit_code == 2 and "no run 'nosuchrun'" in unknown.stderr
    missing_db = runner.invoke(app, ["replay", run_id, "--db", str(tmp_path / "absent.db")])
    assert missing_db.exit_code == 2 and "does not exist" in missing_db.stderr
    from ponder.traces.store import TraceStore

    store = TraceStore(db)
    with store.conn:
        store.conn.execute("delete from llm_calls")
    store.close()
    deleted = runner.invoke(app, ["replay", run_id, "--db", str(db)])
    assert deleted.exit_code == 2 and "were they deleted?" in deleted.stderr


def test_interrupted_bench_says_how_to_resume(tmp_path: Path) -> None:
    from ponder.backends.scripted import ScriptedBackend
    from tests._toys import question_number

    def flaky(req):  # type: ignore[no-untyped-def]
        if question_number(req) == 2:
            raise KeyboardInterrupt
        return f"The answer is {2 * question_number(req)}."

    registry.register("backends", "flaky", lambda **kw: ScriptedBackend(flaky))
    db = tmp_path / "t.db"
    args = ["bench", "--env", "toy", "--agent", "cot", "--db", str(db), "--concurrency", "1"]
    stopped = runner.invoke(app, [*args, "--backend", "flaky"])
    assert stopped.exit_code == 130
    assert "interrupted; finish it with: ponder bench --resume " in stopped.stderr
    exp_id = stopped.stderr.split("--resume ")[1].split()[0]
    done = runner.invoke(app, ["bench", "--resume", exp_id, "--backend", "adder", "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["id"] == exp_id and data["summary"]["n"] == 4 and data["summary"]["accuracy"] == 1.0


def test_replay_a_jsonl_recording(tmp_path: Path) -> None:
    from ponder.replay.cassette import dump_jsonl
    from ponder.traces.store import TraceStore

    db = tmp_path / "t.db"
    run_id = bench_json(db, "--n", "1")["results"][0]["run_id"]
    store = TraceStore(db)
    path = dump_jsonl(store, tmp_path / "rec.jsonl")
    store.close()
    result = runner.invoke(app, ["replay", run_id, "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("identical")


def test_bench_table_says_why_tasks_failed(tmp_path: Path) -> None:
    from ponder.backends.scripted import ScriptedBackend
    from ponder.errors import BackendError
    from tests._toys import question_number

    def failing(req):  # type: ignore[no-untyped-def]
        if question_number(req) in (1, 3):
            raise BackendError("server said 500")
        return f"The answer is {2 * question_number(req)}."

    registry.register("backends", "failing", lambda **kw: ScriptedBackend(failing))
    args = ["bench", "--env", "toy", "--agent", "cot", "--backend", "failing", "--db", str(tmp_path / "t.db")]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("server said 500") == 3  # the two failed task rows and the summary
    assert "2 (server said 500 ×2)" in result.stdout
    data = json.loads(runner.invoke(app, [*args[:-2], "--db", str(tmp_path / "u.db"), "--json"]).stdout)
    assert data["summary"]["error_reasons"] == {"server said 500": 2}
