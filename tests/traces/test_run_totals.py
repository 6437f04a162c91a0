"""A run's totals include its child runs' (Reflexion's trials), everywhere: store, CLI, experiments."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ponder.agents.reflexion import Reflexion
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.traces.migrations import SCHEMA_VERSION_TABLE
from ponder.traces.store import TraceStore
from ponder.types import Task


def _family(store: TraceStore) -> tuple[str, str, str]:
    root = store.create_run(agent="reflexion", run_id="root")
    trial = store.create_run(agent="react", parent_id=root, run_id="trial")
    grandchild = store.create_run(agent="cot", parent_id=trial, run_id="inner")
    store.add_usage(root, 10, 1, 1, 0.25)
    store.add_usage(trial, 100, 20, 3, 0.5)
    store.add_usage(grandchild, 1000, 300, 2, None)
    return root, trial, grandchild


def test_totals_roll_up_to_every_ancestor(store: TraceStore) -> None:
    root, trial, grandchild = _family(store)
    assert store.run_totals(root).model_dump() == {
        "calls": 6,
        "prompt_tokens": 1110,
        "completion_tokens": 321,
        "cost_usd": 0.75,
    }
    assert store.own_usage(root).calls == 1
    assert store.get_run(trial).calls == 5
    assert store.get_run(grandchild).calls == 2
    top = store.list_runs()
    assert [(r.id, r.calls, r.prompt_tokens) for r in top] == [("root", 6, 1110)]
    # sorting by calls sorts by the totals
    other = store.create_run(agent="cot", run_id="other")
    store.add_usage(other, 1, 1, 4, None)
    assert [r.id for r in store.list_runs(sort="calls")] == ["root", "other"]


def test_an_old_store_gets_its_totals_when_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with TraceStore(db) as s:
        _family(s)
        with s.lock:
            for col in ("total_calls", "total_prompt_tokens", "total_completion_tokens", "total_cost_usd"):
                s.conn.execute(f"alter table runs drop column {col}")
            s.conn.execute(f"delete from {SCHEMA_VERSION_TABLE} where name = 'm005_run_totals'")
    with TraceStore(db) as s:
        assert s.run_totals("root").calls == 6 and s.run_totals("trial").calls == 5


def test_reflexion_solved_in_its_first_trial_counts_the_trials_calls(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    backend = ScriptedBackend(lambda req: "Thought: easy.\nAction: finish[4]", supports_tools=False)
    task = Task(id="add", input="What is 2 + 2?", expected="4")
    with TraceStore(db) as store:
        result = Reflexion(inner_config={"mode": "text"}).run(task, backend=backend, store=store)
        assert result.correct is True
        assert result.calls == len(backend.requests) >= 1  # was 0: only the reflections were counted
        assert store.own_usage(result.run_id).calls == 0
    runner = CliRunner()
    res = runner.invoke(app, ["runs", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["calls"] == result.calls
    res = runner.invoke(app, ["show", result.run_id, "--db", str(db)])
    assert f"- calls: {result.calls} ·" in res.stdout
