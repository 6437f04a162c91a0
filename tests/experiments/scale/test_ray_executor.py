"""The Ray executor on a local Ray cluster (`ray.init(num_cpus=2)`) over a local fake OpenAI server.

Skipped without the ray extra. Checks the merged result equals the single-process sweep, that a
killed worker's shard runs again without the tasks that had arrived, and that an interrupted
driver resumes without redoing finished tasks.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from ponder.backends.config import make_backend
from ponder.errors import PonderError
from ponder.experiments.bench import Progress, abench
from ponder.experiments.results import Experiment
from ponder.experiments.scale.ray_executor import RayExecutor, RaySettings
from ponder.experiments.scale.shard_job import ShardJob
from ponder.traces.store import TraceStore
from tests.experiments.scale.conftest import KEY, TASKS, Server, numbers, outcomes, requests_by_task

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
pytestmark = pytest.mark.ray


def _shard_workers(index: int) -> list[int]:
    """The pids of the Ray worker processes running shard `index` (Ray titles them `ray::NAME`)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.split(b"\0")[0].strip() == f"ray::ponder-shard-{index}".encode():
                pids.append(int(entry))
    return pids


def _runs_by_task(store: TraceStore, exp_id: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in store.list_runs(experiment_id=exp_id, limit=1000):
        out.setdefault(str(r.task["id"]), []).append(r.id)
    return out


async def test_a_ray_sweep_equals_the_single_process_sweep(cluster: None, job: ShardJob, tmp_path: Path) -> None:
    with TraceStore(tmp_path / "single.db") as s:
        whole = await abench("cot", "arithmetic", backend=make_backend(job.backend), env_config=job.env_config, store=s)
        want = requests_by_task(s, whole)
    seen: list[Progress] = []
    with RayExecutor(RaySettings(shards=3)) as ex, TraceStore(tmp_path / "ray.db") as store:
        exp = ex.run(job, store, progress=seen.append)
        assert outcomes(exp) == outcomes(whole)
        assert requests_by_task(store, exp) == want
        assert exp.summary.correct == TASKS - 1 and exp.config["shards"] == 3
    # one progress over all shards: from 0 to every task, each task once
    assert [p.done for p in seen] == list(range(TASKS + 1)) and {p.total for p in seen} == {TASKS}
    assert sorted(p.last.task_id for p in seen if p.last) == sorted(f"p{i}" for i in range(TASKS))
    assert KEY.encode() not in (tmp_path / "ray.db").read_bytes()


async def test_a_killed_worker_s_shard_runs_again_without_the_tasks_that_arrived(
    cluster: None, job: ShardJob, server: Server, tmp_path: Path
) -> None:
    # shard 1 of 3 is p0, p3, p6 (one at a time): when p3 is asked, wait until p0 has been
    # merged by the driver, then kill shard 1's worker
    merged_p0, killed = threading.Event(), []

    def kill_at_p3(body: dict[str, Any]) -> None:
        if numbers(body)[0] == 3 and not killed:
            assert merged_p0.wait(30)
            killed.extend(_shard_workers(1))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    def progress(p: Progress) -> None:
        if p.last is not None and p.last.task_id == "p0":
            merged_p0.set()

    server.before = kill_at_p3
    notices: list[str] = []
    with RayExecutor(RaySettings(shards=3), notice=notices.append) as ex, TraceStore(tmp_path / "ray.db") as store:
        exp = ex.run(job, store, progress=progress)
        assert killed, "the test did not find shard 1's worker"
        assert any("shard 1/3 was lost" in n and "2 unfinished tasks" in n for n in notices), notices
        assert exp.summary.n == TASKS and exp.summary.errors == 0
        # every task has one run: p0, merged before the crash, was not run again
        assert all(len(ids) == 1 for ids in _runs_by_task(store, exp.id).values())
    assert server.asked(0) == 1 and server.asked(3) == 2  # p3 was in flight when its worker died


async def test_an_interrupted_driver_resumes_without_redoing_finished_tasks(
    cluster: None, job: ShardJob, server: Server, tmp_path: Path
) -> None:
    def stop_after_three(p: Progress) -> None:
        if p.done == 3:
            raise KeyboardInterrupt

    db = tmp_path / "ray.db"
    with RayExecutor(RaySettings(shards=2)) as ex, TraceStore(db) as store:
        with pytest.raises(KeyboardInterrupt):
            ex.run(job, store, progress=stop_after_three)
        (row,) = store.list_experiments()
        before = _runs_by_task(store, row["id"])
        assert len(before) == 3
        asked_before = {i: server.asked(i) for i in range(TASKS)}
        seen: list[Progress] = []
        exp = ex.run(job, store, resume=row["id"], progress=seen.append)
        after = _runs_by_task(store, exp.id)
    assert exp.summary.n == TASKS and exp.summary.errors == 0
    assert seen[-1].total == TASKS - 3  # only what was not finished was sent to the workers
    for task_id, run_ids in before.items():
        assert after[task_id] == run_ids  # finished tasks kept their run; none was run again
        assert server.asked(int(task_id[1:])) == asked_before[int(task_id[1:])]


def test_resuming_another_experiment_is_refused(cluster: None, job: ShardJob, tmp_path: Path) -> None:
    with RayExecutor(RaySettings(shards=2)) as ex, TraceStore(tmp_path / "ray.db") as store:
        with pytest.raises(PonderError, match="not this sweep"):
            ex.run(job, store, resume="e-someone-else")
        assert store.list_experiments() == []


def test_an_error_in_the_sweep_stops_it_with_one_line(cluster: None, job: ShardJob, tmp_path: Path) -> None:
    bad = job.model_copy(update={"backend": job.backend.model_copy(update={"api_key_env": "PONDER_NOT_SET_ANYWHERE"})})
    with RayExecutor(RaySettings(shards=2)) as ex, TraceStore(tmp_path / "ray.db") as store:
        with pytest.raises(PonderError, match="no environment variable PONDER_NOT_SET_ANYWHERE") as info:
            ex.run(bad, store)
        assert "\n" not in str(info.value)
        assert store.count_runs() == 0


def test_experiment_is_loaded_from_the_driver_s_store(cluster: None, job: ShardJob, tmp_path: Path) -> None:
    with RayExecutor(RaySettings(shards=2)) as ex, TraceStore(tmp_path / "ray.db") as store:
        exp = ex.run(job, store)
        assert Experiment.load(store, exp.id).to_dict() == exp.to_dict()
