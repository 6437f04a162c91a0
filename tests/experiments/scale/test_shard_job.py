"""A shard job run as plain Python (what a Ray worker runs): each finished task comes back as a store."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from ponder.backends.config import make_backend
from ponder.errors import ConfigError
from ponder.experiments.bench import abench
from ponder.experiments.results import Experiment
from ponder.experiments.scale.shard_job import ShardJob, run_shard
from ponder.traces.store import TraceStore
from tests.experiments.scale.conftest import KEY, KEY_ENV, TASKS, Server, outcomes, requests_by_task


async def _single(job: ShardJob, path: Path) -> tuple[Experiment, dict[str, list[str]]]:
    with TraceStore(path) as s:
        exp = await abench(job.agent, job.env, backend=make_backend(job.backend), env_config=job.env_config, store=s)
        return exp, requests_by_task(s, exp)


async def test_the_shards_deltas_merged_equal_the_single_process_sweep(job: ShardJob, tmp_path: Path) -> None:
    whole, want_requests = await _single(job, tmp_path / "single.db")
    with TraceStore(tmp_path / "merged.db") as merged:
        for i in (1, 2, 3):
            deltas = list(run_shard(job.model_copy(update={"shard": i, "shards": 3})))
            assert [d.task_id for d in deltas] == [f"p{k}" for k in range(i - 1, TASKS, 3)]
            for d in deltas:
                data = d.database()
                assert data is not None and d.error is None
                src = tmp_path / f"{d.run_id}.db"
                src.write_bytes(data)
                with TraceStore(src, readonly=True) as one:
                    assert [r.id for r in one.list_runs(limit=10)] == [d.run_id]  # the task's run, nothing else
                    merged.merge_from(one)
        (row,) = merged.list_experiments()
        exp = Experiment.load(merged, row["id"])
        assert outcomes(exp) == outcomes(whole)
        assert requests_by_task(merged, exp) == want_requests
        assert exp.summary.correct == TASKS - 1


def test_finished_tasks_are_skipped(job: ShardJob, server: Server) -> None:
    deltas = list(run_shard(job.model_copy(update={"shard": 1, "shards": 2, "skip": ["p0", "p4"]})))
    assert [d.task_id for d in deltas] == ["p2", "p6"]
    assert (server.asked(0), server.asked(2)) == (0, 1)


def test_the_job_carries_the_key_s_name_never_its_value(job: ShardJob) -> None:
    assert job.backend.api_key_env == KEY_ENV
    assert KEY.encode() not in pickle.dumps(job)
    for d in run_shard(job.model_copy(update={"shard": 2, "shards": 4})):
        data = d.database()
        assert data is not None and KEY.encode() not in data


def test_a_worker_without_the_key_variable_refuses_to_start(job: ShardJob, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match=f"no environment variable {KEY_ENV}"):
        next(run_shard(job))


def test_an_error_that_stops_the_shard_reaches_the_caller(job: ShardJob) -> None:
    with pytest.raises(ConfigError, match="unknown env"):
        list(run_shard(job.model_copy(update={"env": "no-such-env"})))


def test_a_worker_without_the_key_its_driver_had_refuses(job: ShardJob, monkeypatch: pytest.MonkeyPatch) -> None:
    default = job.model_copy(update={"backend": job.backend.model_copy(update={"api_key_env": None})})
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert next(run_shard(default)).store is not None  # no key anywhere: a local server needs none
    with pytest.raises(ConfigError, match="no environment variable OPENAI_API_KEY"):
        next(run_shard(default.model_copy(update={"driver_has_key": True})))


def test_a_killed_worker_s_folder_is_removed_by_the_next_shard(job: ShardJob, tmp_path: Path) -> None:
    import subprocess
    import tempfile

    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = Path(tempfile.mkdtemp(prefix="ponder-shard-"))
    (orphan / "owner.pid").write_text(str(dead.pid))
    (orphan / "shard.db").write_bytes(b"left by a killed worker")
    alive = Path(tempfile.mkdtemp(prefix="ponder-shard-"))
    (alive / "owner.pid").write_text(str(os.getpid()))
    try:
        next(run_shard(job))
        assert not orphan.exists() and alive.exists()
    finally:
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(orphan, ignore_errors=True)
