"""Graph of Thoughts: the controller runs the paper's graphs, records every operation and thought, replays."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from ponder.agents.got.agent import GraphOfThoughts
from ponder.agents.got.operations import Aggregate, Generate, GraphOfOperations, KeepBestN, Score
from ponder.backends.base import BaseBackend, Capabilities
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.got_tasks.sorting_env import SortingEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import Choice, Completion, CompletionRequest, Task, Usage
from tests.agents._got_sorter import sorter


def _task(size: int = 32) -> tuple[SortingEnv, Task]:
    env = SortingEnv(size=size)  # type: ignore[arg-type]
    return env, next(env.tasks())


def _kinds(store: TraceStore, run_id: str) -> list[str]:
    return [e.kind for e in store.iter_events(run_id)]


@pytest.mark.parametrize("size", [32, 64, 128])
async def test_got_preset_sorts_by_splitting_and_merging(store: TraceStore, size: int) -> None:
    env, task = _task(size)
    result = await run_agent(
        GraphOfThoughts(graph="got"), task, backend=ScriptedBackend(sorter()), store=store, env=env
    )
    run = store.get_run(result.run_id)
    # sublists sorted one short, merges exact, then the final improve step fixes the rest
    assert result.correct is True and run.metrics == {"errors": 0.0}
    ops = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "got_op"]
    assert len(ops) == len(env.got_problem(task).graph("got").operations)
    merged = [
        e
        for e in store.iter_events(result.run_id, with_data=True)
        if e.kind == "got_thought" and len(e.data["parents"]) > 1
    ]
    assert merged, "an aggregated thought names all its parents"
    assert all(len(e.data["parents"]) == 2 for e in merged)


@pytest.mark.parametrize("preset", ["io", "cot", "tot", "tot2"])
async def test_every_preset_runs_and_records_the_official_error_count(store: TraceStore, preset: str) -> None:
    env, task = _task()
    result = await run_agent(
        GraphOfThoughts(graph=preset), task, backend=ScriptedBackend(sorter()), store=store, env=env
    )
    run = store.get_run(result.run_id)
    if preset in ("io", "cot"):  # one reply, one number short: one error (a missing digit)
        assert run.metrics == {"errors": 1.0} and result.correct is False
    else:  # tot's improve prompt fixes the list
        assert run.metrics == {"errors": 0.0} and result.correct is True


async def test_a_reply_without_a_list_scores_300_and_is_no_crash(store: TraceStore) -> None:
    env, task = _task()
    backend = ScriptedBackend(lambda req: "I cannot sort that, sorry.")
    result = await run_agent(GraphOfThoughts(graph="got"), task, backend=backend, store=store, env=env)
    assert result.status in ("ok", "error")
    run = store.get_run(result.run_id)
    assert run.metrics == {"errors": 300.0}


async def test_bad_settings_are_one_line(store: TraceStore) -> None:
    env, task = _task()
    with pytest.raises(ConfigError, match=r"unknown graph 'bogus'.*io, cot, tot, tot2, got"):
        await run_agent(GraphOfThoughts(graph="bogus"), task, backend=ScriptedBackend(sorter()), store=store, env=env)
    bare = task.model_copy(update={"metadata": {}})  # a task that names no env, given without one
    with pytest.raises(ConfigError, match="needs an env with Graph-of-Thoughts graphs"):
        await run_agent(GraphOfThoughts(), bare, backend=ScriptedBackend(sorter()), store=store)


async def test_got_run_replays_identically(store: TraceStore) -> None:
    env, task = _task(64)
    result = await run_agent(
        GraphOfThoughts(graph="got"), task, backend=ScriptedBackend(sorter()), store=store, env=env
    )
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


class _Gate(BaseBackend):
    """Answers only once `width` requests wait at once: proves independent operations run concurrently."""

    name = "gate"
    model = "gate"

    def __init__(self, width: int) -> None:
        self.capabilities = Capabilities(n=True)
        self.width = width
        self.waiting = 0
        self.peak = 0
        self.event = asyncio.Event()
        self.inner = sorter()

    async def complete(self, req: CompletionRequest) -> Completion:
        self.waiting += 1
        self.peak = max(self.peak, self.waiting)
        if self.waiting >= self.width:
            self.event.set()
        await asyncio.wait_for(self.event.wait(), 5)
        self.waiting -= 1
        text = self.inner(req)
        return Completion(choices=[Choice(text=str(text))] * req.n, usage=Usage(), model="gate")


async def test_independent_operations_run_concurrently(store: TraceStore) -> None:
    # sorting-64's GoT graph sorts 4 sublists after the split: 4 Generate operations at once
    env, task = _task(64)
    gate = _Gate(width=4)
    gate.event.set()  # the split goes alone; the gate then counts how many sublists wait together
    result = await run_agent(GraphOfThoughts(graph="got"), task, backend=gate, store=store, env=env)
    assert result.status == "ok"
    assert gate.peak >= 4


def test_graph_structure_matches_the_official_builders() -> None:
    env, task = _task(32)
    problem = env.got_problem(task)
    g = problem.graph("got")
    kinds = [op.kind for op in g.operations]
    # the official sorting_032.got(): Generate, (Selector, Generate, Score, KeepBestN) x 2, Aggregate, Score,
    # KeepBestN, Generate, Score, KeepBestN, GroundTruth
    assert kinds == [
        "Generate",
        *itertools.chain.from_iterable(["Selector", "Generate", "Score", "KeepBestN"] for _ in range(2)),
        "Aggregate",
        "Score",
        "KeepBestN",
        "Generate",
        "Score",
        "KeepBestN",
        "GroundTruth",
    ]
    final_score = g.operations[-3]
    assert [p.kind for p in final_score.predecessors] == ["KeepBestN", "Generate"]  # as the official order
    tot2_64 = SortingEnv(size=64).got_problem(next(SortingEnv(size=64).tasks())).graph("tot2")  # type: ignore[arg-type]
    assert sum(1 for op in tot2_64.operations if op.kind == "Generate") == 7
    assert len(tot2_64.operations) == 3 + 6 * 5 + 2


def test_graph_api_appends_and_adds() -> None:
    g = GraphOfOperations()
    a = g.append_operation(Generate(1, 2))
    s = g.append_operation(Score(scoring_function=lambda st: 0.0))
    k = KeepBestN(1, False)
    k.add_predecessor(s)
    g.add_operation(k)
    agg = Aggregate(1)
    agg.add_predecessor(k)
    agg.add_predecessor(a)
    g.add_operation(agg)
    assert g.roots == [a] and g.leaves == [agg]
    with pytest.raises(ValueError, match="at least one"):
        KeepBestN(0)
