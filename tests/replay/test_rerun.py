"""Replay: identical re-runs (concurrent branches included), divergences with the diff, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from ponder import registry
from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError, StoreError
from ponder.experiments.bench import abench
from ponder.replay.compare import canonical_events
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE
from ponder.traces.store import TraceStore
from ponder.types import Task
from tests._toys import Counter, FanOut, ToyEnv, adder, shuffled_backend

COT_TEXT = "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391. The answer is 391."


@pytest.fixture(autouse=True)
def _registered() -> None:
    registry.register("agents", "fanout", FanOut)
    registry.register("envs", "toy", ToyEnv)


async def record_cot(store: TraceStore) -> str:
    result = await run_agent(CoT(), "What is 17 * 23?", backend=ScriptedBackend([COT_TEXT]), store=store)
    return result.run_id


async def test_cot_replay_is_identical(store: TraceStore) -> None:
    run_id = await record_cot(store)
    report = await areplay(store, run_id)
    assert report.identical, report.render()
    assert report.render() == "identical"
    assert report.answer == "391" and report.events == 3
    assert report.to_dict()["identical"] is True
    # the re-run went to a scratch store, not into the recording
    assert store.count_runs() == 1
    assert report.store is not None and report.store.get_run(report.replay_run_id).answer == "391"


async def test_concurrent_branches_replay_identically_whatever_the_interleaving(store: TraceStore) -> None:
    counter = Counter()
    result = await run_agent(
        FanOut(),
        Task(id="q", input="What is 2 + 2?"),
        backend=shuffled_backend(),
        store=store,
        tools={"counter": counter},
    )
    assert counter.calls == 4
    recorded_order = [e.branch for e in store.events(result.run_id) if e.kind == "evaluation"]
    report = await areplay(store, result.run_id, tools={"counter": Counter()})
    assert report.identical, report.render()
    assert report.store is not None
    replayed_order = [e.branch for e in report.store.events(report.replay_run_id) if e.kind == "evaluation"]
    # the recording finished its branches out of order, the replay (no delays) in order: seqs differ
    assert recorded_order != replayed_order
    assert sorted(recorded_order) == sorted(replayed_order)
    assert counter.calls == 4  # the replay served recorded tool results; the tool was not called
    # the child run (the CoT trial) was compared too
    assert len(report.store.child_runs(report.replay_run_id)) == 1


async def test_canonical_order_maps_parents_to_positions(store: TraceStore) -> None:
    result = await run_agent(
        FanOut(trial=False), "q", backend=shuffled_backend(), store=store, tools={"counter": Counter()}
    )
    events = canonical_events(store, result.run_id)
    for e in events:
        if e.parent is not None:
            parent = events[e.parent - 1]
            assert parent.kind == "node" and e.branch.startswith(parent.label.split()[-1])


async def test_edited_prompt_diverges_with_the_diff(store: TraceStore) -> None:
    run_id = await record_cot(store)
    edited = CoT(system="You are a sloppy reasoner. Guess.")
    report = await areplay(store, run_id, agent=edited)
    assert not report.identical
    d = report.divergence
    assert d is not None and d.index == 1 and d.field == "status"
    assert d.miss is not None and "first differing message: #0" in d.miss
    text = report.render()
    assert "-[system] You are a careful reasoner" in text
    assert "+[system] You are a sloppy reasoner. Guess." in text
    assert "ReplayMiss" in text


async def test_a_different_answer_is_a_divergence(store: TraceStore) -> None:
    run_id = await record_cot(store)

    class Contrarian(CoT):
        name = "cot"

        def result_from_text(self, text, ctx, **kw):  # type: ignore[no-untyped-def]
            return super().result_from_text(text.replace("391", "392"), ctx, **kw)

    report = await areplay(store, run_id, agent=Contrarian())
    d = report.divergence
    assert d is not None and d.index == 2 and d.field == "summary"
    assert d.recorded.kind == "thought" and "391" in d.recorded.summary and "392" in d.new.summary


async def test_replay_of_deleted_calls_says_so(store: TraceStore) -> None:
    run_id = await record_cot(store)
    with store.conn:
        store.conn.execute("delete from llm_calls where run_id = ?", (run_id,))
    with pytest.raises(StoreError, match=r"made 1 llm calls but only 0 are recorded .*deleted"):
        await areplay(store, run_id)


async def test_unknown_agent_and_child_run_are_refused(store: TraceStore) -> None:
    result = await run_agent(FanOut(), "q", backend=shuffled_backend(), store=store, tools={"counter": Counter()})
    child = store.child_runs(result.run_id)[0]
    with pytest.raises(ConfigError, match="child run"):
        await areplay(store, child.id)
    with store.conn:
        store.conn.execute("update runs set agent = 'gone' where id = ?", (child.id,))
    with pytest.raises(ConfigError, match=r"ran agent 'gone' \(its child run 'trial-1'\), which is not registered"):
        await areplay(store, result.run_id)  # refused before it runs, not a divergence
    with store.conn:
        store.conn.execute("update runs set agent = 'cot' where id = ?", (child.id,))
        store.conn.execute("update runs set agent = 'vanished' where id = ?", (result.run_id,))
    with pytest.raises(ConfigError, match="agent 'vanished', which is not registered"):
        await areplay(store, result.run_id)


async def test_replay_of_an_experiment_run_uses_the_env_scoring(store: TraceStore) -> None:
    exp = await abench("cot", "toy", backend=adder(wrong={1}), store=store, n=2)
    for r in exp.results:
        report = await areplay(store, r.run_id)
        assert report.identical, report.render()
        assert report.store is not None
        assert report.store.get_run(report.replay_run_id).correct == r.correct


def _old_schema_copy(src: TraceStore, path: Path) -> None:
    """A database as the first schema version wrote it, holding `src`'s runs."""
    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)
    db[SCHEMA_VERSION_TABLE].insert({"name": MIGRATIONS[0].__name__, "applied_at": 0.0})
    for table in ("runs", "events", "llm_calls", "tool_calls", "memory", "experiments"):
        cols = [c.name for c in db[table].columns]  # type: ignore[union-attr]
        rows = src.db.query(f"select {', '.join(cols)} from {table}")
        db[table].insert_all(rows)  # type: ignore[union-attr]
    db.close()


async def test_recording_with_an_older_schema_is_migrated_and_replays(store: TraceStore, tmp_path: Path) -> None:
    run_id = await record_cot(store)
    old = tmp_path / "old.db"
    _old_schema_copy(store, old)
    migrated = TraceStore(old)
    applied = {r["name"] for r in migrated.db.query(f"select name from {SCHEMA_VERSION_TABLE}")}
    assert applied == {fn.__name__ for fn in MIGRATIONS}
    report = await areplay(migrated, run_id)
    assert report.identical, report.render()


async def test_recording_from_a_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "future.db")
    await record_cot(store)
    with store.conn:
        store.conn.execute(f"insert into {SCHEMA_VERSION_TABLE} values ('m999_future', 0)")
    store.close()
    with pytest.raises(StoreError, match="newer ponder"):
        TraceStore(store.path)


async def test_memory_written_by_earlier_runs_is_replayed(store: TraceStore) -> None:
    from tests._toys import Remembering

    registry.register("agents", "remembering", Remembering)
    backend = ScriptedBackend(lambda req: f"answer {len(req.messages[0].content.splitlines())}")
    task = Task(id="same-task", input="What now?")
    first = await run_agent(Remembering(), task, backend=backend, store=store)
    second = await run_agent(Remembering(), task, backend=backend, store=store)
    assert (first.answer, second.answer) == ("answer 1", "answer 2")  # the second saw the first's note
    for run_id in (first.run_id, second.run_id):
        report = await areplay(store, run_id)
        assert report.identical, report.render()
    assert len(store.recent_memory("same-task", 10)) == 2  # replays wrote to their scratch stores only


async def test_experiment_run_with_env_tools_replays_without_calling_them(store: TraceStore) -> None:
    from tests._toys import COUNTER, ToolEnv, ToolUser

    registry.register("agents", "tooluser", ToolUser)
    registry.register("envs", "toolenv", ToolEnv)
    exp = await abench("tooluser", "toolenv", backend=adder(), store=store, n=2)
    assert exp.summary.accuracy == 1.0
    calls = COUNTER.calls
    for r in exp.results:
        report = await areplay(store, r.run_id)
        assert report.identical, report.render()
    assert COUNTER.calls == calls  # served from the recorded tool calls
    with store.conn:
        store.conn.execute("delete from tool_calls")
    report = await areplay(store, exp.results[0].run_id)
    assert not report.identical and COUNTER.calls == calls  # a replay never runs the real tool
    assert report.divergence is not None and "never called in the recording" in str(report.divergence.new)


async def test_recorded_backend_errors_and_budgets_replay_identically(store: TraceStore) -> None:
    from ponder.runtime.budget import Budget

    exp = await abench("cot", "toy", backend=adder(fail={1}), store=store, n=2)
    failed = next(r for r in exp.results if r.status == "error")
    report = await areplay(store, failed.run_id)
    assert report.identical, report.render()  # the recorded 503 is served again as a BackendError

    capped = await abench(
        FanOut(width=1), ToyEnv(count=1), backend=shuffled_backend(), store=store, budget=Budget(max_calls=1)
    )
    assert capped.results[0].status == "error" and "1 calls" in (capped.results[0].error or "")
    report = await areplay(store, capped.results[0].run_id)
    assert report.identical, report.render()  # the experiment's budget is applied again


async def test_a_different_vote_tally_in_event_data_is_a_divergence(store: TraceStore) -> None:
    from typing import ClassVar

    from ponder.runtime.base import BaseAgent
    from ponder.runtime.context import RunContext
    from ponder.types import CompletionRequest, Message, Result

    class Tally(BaseAgent):
        name: ClassVar[str] = "tally"
        flip: bool = False

        async def solve(self, task: Task, ctx: RunContext) -> Result:
            await ctx.complete(CompletionRequest(messages=(Message.user(task.input),)))
            tally = {"a": 1, "b": 2} if self.flip else {"a": 2, "b": 1}
            ctx.event("info", "tally", "winner a", data={"tally": tally, "latency_ms": 3.0 if self.flip else 9.0})
            return Result(answer="a")

    run = await run_agent(Tally(), "q", backend=ScriptedBackend(["x"]), store=store)
    same = await areplay(store, run.run_id, agent=Tally())
    assert same.identical, same.render()
    flipped = await areplay(store, run.run_id, agent=Tally(flip=True))
    d = flipped.divergence
    assert d is not None and d.index == 2 and d.field == "data"
    assert d.to_dict()["recorded"]["data"] == {"tally": {"a": 2, "b": 1}}  # timings are not compared
    assert 'new data:      {"tally": {"a": 1, "b": 2}}' in flipped.render()


async def test_a_run_given_a_budget_replays_under_the_same_budget(store: TraceStore) -> None:
    from ponder.agents.self_consistency import SelfConsistency
    from ponder.errors import BudgetExceeded
    from ponder.runtime.budget import Budget

    backend = ScriptedBackend(lambda req: "The answer is 1.", supports_n=False)
    with pytest.raises(BudgetExceeded):
        await run_agent(SelfConsistency(k=3), "x", backend=backend, store=store, budget=Budget(max_calls=2))
    run = store.list_runs(limit=1)[0]
    assert run.budget == {"max_calls": 2}
    report = await areplay(store, run.id)
    assert report.identical, report.render()


@pytest.mark.parametrize("composite", ["self_consistency", "reflexion", "best_of_n", "plan_execute"])
def test_replay_of_a_composite_whose_inner_agent_is_not_installed_is_one_line(
    composite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import json

    from typer.testing import CliRunner

    from ponder.cli import app

    class Plugin(CoT):
        name = "replay_test_plugin"

    registry.register("agents", "replay_test_plugin", Plugin)
    inner = {"executor": "replay_test_plugin"} if composite == "plan_execute" else {"inner": "replay_test_plugin"}
    extra = {"select": "self_score"} if composite == "best_of_n" else {}
    agent = registry.build("agents", composite, {**inner, **extra})
    plan = "1. Work it out."
    backend = ScriptedBackend(lambda req: plan if "plan" in req.messages[0].content else "Score: 7. The answer is 4.")
    store = TraceStore(tmp_path / "t.db")
    result = asyncio.run(run_agent(agent, "What is 2 + 2?", backend=backend, store=store))
    store.close()
    args = ["replay", str(result.run_id), "--db", str(tmp_path / "t.db")]
    assert CliRunner().invoke(app, args).exit_code == 0  # the plugin installed: identical
    monkeypatch.delitem(registry._extra["agents"], "replay_test_plugin")  # uninstalled
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "'replay_test_plugin'" in lines[0], res.stderr
    assert "install or register the plugin that provides it" in lines[0], res.stderr
    assert res.stdout == "" or json.loads(res.stdout) is None
