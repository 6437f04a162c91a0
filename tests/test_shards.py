"""Sharded sweeps and `ponder merge`: a merged N-shard sweep equals the single-process sweep."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.agents.cot import CoT
from ponder.cli import app
from ponder.experiments import Experiment, abench, shard_slice
from ponder.traces.migrations import SCHEMA_VERSION_TABLE
from ponder.traces.store import TraceStore
from tests._toys import ToyEnv, adder

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
    assert res.exit_code == 2 and "differs between" in res.output, res.output
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
