"""Sharded sweeps and `ponder merge`: a merged N-shard sweep equals the single-process sweep."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.experiments.bench import abench
from ponder.experiments.results import Experiment
from ponder.experiments.sharding import shard_slice
from ponder.traces.migrations import SCHEMA_VERSION_TABLE
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._toys import ToyEnv, adder, question_number

runner = CliRunner()
TASKS = 7


def _requests_by_task(store: TraceStore, exp: Experiment) -> dict[str, list[str]]:
    out = {}
    for r in exp.results:
        ids = store.descendant_run_ids(r.run_id)
        out[r.task_id] = [c.request_key for c in store.llm_calls(ids)]
    return out


def _outcomes(exp: Experiment) -> dict[str, tuple[str | None, bool | None, str]]:
    return {r.task_id: (r.answer, r.correct, r.status) for r in exp.results}


async def _shards(tmp_path: Path, n: int, *, fail: set[int] = frozenset()) -> list[Path]:  # type: ignore[assignment]
    paths = []
    for i in range(1, n + 1):
        p = tmp_path / f"shard{i}.db"
        with TraceStore(p) as s:
            await abench(CoT(), ToyEnv(count=TASKS), backend=adder(wrong={3}, fail=fail), store=s, shard=(i, n))
        paths.append(p)
    return paths


def test_shards_are_fixed_slices_that_cover_the_tasks() -> None:
    tasks = list(ToyEnv(count=TASKS).tasks())
    slices = [shard_slice(tasks, (i, 3)) for i in (1, 2, 3)]
    assert [[t.id for t in s] for s in slices] == [["t0", "t3", "t6"], ["t1", "t4"], ["t2", "t5"]]


async def test_a_merged_sharded_sweep_equals_the_single_process_sweep(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "single.db") as single:
        whole = await abench(CoT(), ToyEnv(count=TASKS), backend=adder(wrong={3}), store=single)
        want_requests = _requests_by_task(single, whole)
    shards = await _shards(tmp_path, 3)
    merged = tmp_path / "merged.db"
    res = runner.invoke(app, ["merge", *map(str, shards), "-o", str(merged), "--json"])
    assert res.exit_code == 0, res.output
    with TraceStore(merged, readonly=True) as s:
        (exp_row,) = s.list_experiments()
        exp = Experiment.load(s, exp_row["id"])
        assert sorted(_outcomes(exp).items()) == sorted(_outcomes(whole).items())
        assert _requests_by_task(s, exp) == want_requests
        assert exp.summary.correct == whole.summary.correct == TASKS - 1
        before = (s.count_runs(), len(s.all_llm_calls()))
    # merging the same shards again changes nothing
    res = runner.invoke(app, ["merge", str(shards[0]), str(shards[2]), "-o", str(merged), "--json"])
    assert res.exit_code == 0 and '"runs": 0' in res.stdout, res.output
    with TraceStore(merged, readonly=True) as s:
        assert (s.count_runs(), len(s.all_llm_calls())) == before


async def test_resume_works_on_a_merged_store(tmp_path: Path) -> None:
    shards = await _shards(tmp_path, 2, fail={2})
    merged = tmp_path / "merged.db"
    assert runner.invoke(app, ["merge", *map(str, shards), "-o", str(merged)]).exit_code == 0
    with TraceStore(merged) as s:
        exp_id = s.list_experiments()[0]["id"]
        runs_before = s.count_runs()
        again = await abench(CoT(), ToyEnv(count=TASKS), backend=adder(wrong={3}), store=s, resume=exp_id)
        assert s.count_runs() == runs_before + 1  # only the failed task ran again
    assert again.summary.errors == 0 and again.summary.n == TASKS


async def test_conflicting_runs_are_refused_and_nothing_is_half_merged(tmp_path: Path) -> None:
    shards = await _shards(tmp_path, 2)
    merged = tmp_path / "merged.db"
    assert runner.invoke(app, ["merge", str(shards[0]), "-o", str(merged)]).exit_code == 0
    raw = sqlite3.connect(shards[0])
    raw.execute("update runs set answer = 'tampered' where id = (select min(id) from runs)")
    raw.commit()
    raw.close()
    with TraceStore(merged, readonly=True) as s:
        before = s.count_runs()
    res = runner.invoke(app, ["merge", str(shards[1]), str(shards[0]), "-o", str(merged)])
    assert res.exit_code == 2 and "finished on both sides with other results (answer)" in res.output, res.output
    assert "-o NEW.db" in res.output and "nothing was merged" in res.output
    with TraceStore(merged, readonly=True) as s:
        assert s.count_runs() == before


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    future = tmp_path / "future.db"
    with TraceStore(future) as s:
        s.create_run(agent="cot", run_id="r1")
        with s.lock:
            s.conn.execute(f"insert into {SCHEMA_VERSION_TABLE} values ('m999_future', 0)")
    res = runner.invoke(app, ["merge", str(future), "-o", str(tmp_path / "out.db")])
    assert res.exit_code == 2 and "newer ponder" in res.output


@pytest.mark.parametrize(
    ("shard", "message"),
    [("3/2", "between 1 and 2"), ("0/0", "at least 1"), ("0/3", "between 1 and 3"), ("two", "I/N")],
)
def test_bad_shards_are_one_line_exit_2(tmp_path: Path, shard: str, message: str) -> None:
    res = runner.invoke(app, ["bench", "--env", "arithmetic", "--agent", "cot", "--shard", shard])
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1


def test_merging_chosen_runs_takes_them_with_their_child_runs_rows_and_experiment(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "src.db") as src:
        exp = src.create_experiment("e", {"agent": "reflexion"})
        other_exp = src.create_experiment("other", {"agent": "cot"})
        top = src.create_run(agent="reflexion", experiment_id=exp, run_id="top")
        src.create_run(agent="cot", parent_id=top, run_id="trial1")
        src.create_run(agent="cot", parent_id="trial1", run_id="grandchild")
        src.create_run(agent="cot", experiment_id=other_exp, run_id="unrelated")
        src.add_memory("ns", "kept", run_id="trial1")
        src.add_memory("ns", "left out", run_id="unrelated")
        with TraceStore(tmp_path / "out.db") as out:
            report = out.merge_from(src, runs=["top"])
            assert (report.runs, report.experiments, report.memory) == (3, 1, 1)
            assert sorted(r.id for r in out.list_runs(limit=10, top_level=False)) == ["grandchild", "top", "trial1"]
            assert [e["id"] for e in out.list_experiments()] == [exp]
            # the same runs again add nothing; the rest of the store can follow
            assert out.merge_from(src, runs=["top"]).runs == 0
            assert out.merge_from(src).runs == 1


async def test_a_shard_merged_while_its_bench_runs_merges_again_once_finished(tmp_path: Path) -> None:
    shard, merged = tmp_path / "shard.db", tmp_path / "merged.db"
    gate = asyncio.Event()
    reached: list[int] = []

    async def answer(req: CompletionRequest) -> str:
        i = question_number(req)
        if i >= 4:  # the last tasks wait, in flight, until the first merge is done
            reached.append(i)
            await gate.wait()
        return f"The answer is {2 * i}."

    with TraceStore(shard) as s:
        bench = asyncio.create_task(
            abench(CoT(), ToyEnv(count=TASKS), backend=ScriptedBackend(answer), store=s, concurrency=TASKS)
        )
        while len(reached) < 3:
            await asyncio.sleep(0.01)
        s.flush()
        res = runner.invoke(app, ["merge", str(shard), "-o", str(merged), "--json"])
        assert res.exit_code == 0, res.output
        with TraceStore(merged, readonly=True) as m:
            assert sorted(r.status for r in m.list_runs(limit=100)).count("running") == 3
        snapshot = tmp_path / "snapshot.db"  # the shard as the first merge saw it
        s.backup_to(snapshot)
        gate.set()
        await bench
    res = runner.invoke(app, ["merge", str(shard), "-o", str(merged), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert (report["replaced_runs"], report["runs"], report["skipped_runs"]) == (3, 3, 4)
    with TraceStore(merged, readonly=True) as m, TraceStore(shard, readonly=True) as s:
        assert {r.status for r in m.list_runs(limit=100)} == {"ok"} and m.count_runs() == TASKS
        for table in ("events", "llm_calls"):
            q = f"select run_id, count(*) from {table} group by run_id order by run_id"
            assert m.conn.execute(q).fetchall() == s.conn.execute(q).fetchall()
    # the unfinished snapshot merged after the finished rows changes nothing: no regression
    res = runner.invoke(app, ["merge", str(snapshot), "-o", str(merged), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["replaced_runs"] == 0, res.output
    with TraceStore(merged, readonly=True) as m:
        assert {r.status for r in m.list_runs(limit=100)} == {"ok"}


async def test_a_failed_merge_into_a_new_path_leaves_nothing_behind(tmp_path: Path) -> None:
    shards = await _shards(tmp_path, 2)
    first = tmp_path / "first.db"
    assert runner.invoke(app, ["merge", str(shards[0]), "-o", str(first)]).exit_code == 0
    raw = sqlite3.connect(first)
    raw.execute("update runs set answer = 'tampered' where id = (select min(id) from runs)")
    raw.commit()
    raw.close()
    out = tmp_path / "new" / "deeper" / "out.db"
    res = runner.invoke(app, ["merge", str(shards[1]), str(shards[0]), str(first), "-o", str(out)])
    assert res.exit_code == 2 and "nothing was merged" in res.output, res.output
    assert not (tmp_path / "new").exists()
    before = sorted(p.name for p in tmp_path.iterdir())
    res = runner.invoke(app, ["merge", str(first), str(shards[0]), "-o", str(tmp_path / "out.db")])
    assert res.exit_code == 2, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
