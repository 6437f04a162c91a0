"""Ray executor benchmark: a sweep on a local Ray cluster against the same sweep in one process.

A local OpenAI-compatible server (benchmarks/_fake_openai.py, a process of its own) answers
every request after a fixed latency. The sweep is CoT over T sums (one call per task). In one
process it runs S × c tasks at once; on Ray, S shards of c tasks at once each, so both have the
same requests in flight and the same critical path: ceil(T / (S × c)) × latency.

Printed (JSON):
- single / ray: wall seconds, wall ÷ critical path;
- ray_overhead_s: Ray wall − single wall (workers starting, deltas shipped and merged);
- ray_init_s: starting the local cluster (not in the walls above);
- merge_ms_per_task: the driver's cost per task (decompress, write, merge) measured apart, over
  deltas that `run_shard` made without Ray; delta_kb: a task's delta raw and as shipped (zlib).

    python benchmarks/ray_sweep.py [--tasks 48] [--shards 2] [--concurrency 4] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from _fake_openai import FakeOpenAIServer

from ponder.backends.config import BackendConfig, make_backend
from ponder.experiments.bench import abench
from ponder.experiments.scale import RayExecutor, RaySettings, ShardJob, run_shard
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest


def answer(req: CompletionRequest) -> str:
    """The sum the question asks for (module level: the server process unpickles it)."""
    a, b = re.findall(r"What is (\d+) \+ (\d+)", req.messages[-1].content)[-1]
    return f"{a} plus {b} makes {int(a) + int(b)}.\nAnswer: {int(a) + int(b)}"


def problems(folder: Path, tasks: int) -> Path:
    path = folder / "sums.jsonl"
    rows = [{"id": f"p{i}", "question": f"What is {i} + {2 * i}?", "answer": f"#### {3 * i}"} for i in range(tasks)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def merge_cost(job: ShardJob, folder: Path) -> tuple[float, float, float]:
    """ms per task to merge a shard's deltas into a store, and a delta's size raw / shipped (KB)."""
    deltas = list(run_shard(job.model_copy(update={"shard": 1, "shards": 1})))
    t0 = time.perf_counter()
    with TraceStore(folder / "merged.db") as store:
        for d in deltas:
            data = d.database()
            assert data is not None
            path = folder / f"{d.run_id}.db"
            path.write_bytes(data)
            with TraceStore(path, readonly=True) as src:
                store.merge_from(src)
            path.unlink()
    ms = (time.perf_counter() - t0) * 1000 / len(deltas)
    raw = statistics.mean(len(d.database() or b"") for d in deltas) / 1024
    shipped = statistics.mean(len(d.store or b"") for d in deltas) / 1024
    return ms, raw, shipped


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=48)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=4, help="tasks at once per shard")
    p.add_argument("--latency", type=float, default=0.2)
    a = p.parse_args()
    import ray

    critical = math.ceil(a.tasks / (a.shards * a.concurrency)) * a.latency
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(answer, latency=a.latency) as server:
        folder = Path(tmp)
        cfg = BackendConfig(backend="openai", base_url=server.base_url, model="fake-model", concurrency=64)
        env_config = {"path": str(problems(folder, a.tasks))}
        job = ShardJob(agent="cot", env="arithmetic", env_config=env_config, backend=cfg, concurrency=a.concurrency)

        with TraceStore(folder / "single.db") as s:
            t0 = time.perf_counter()
            single = asyncio.run(
                abench("cot", "arithmetic", backend=make_backend(cfg), env_config=env_config, store=s,
                       concurrency=a.shards * a.concurrency)
            )  # fmt: skip
            single_wall = time.perf_counter() - t0

        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=a.shards, include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - t0
        try:
            with RayExecutor(RaySettings(shards=a.shards)) as ex, TraceStore(folder / "ray.db") as s:
                t0 = time.perf_counter()
                on_ray = ex.run(job, s)
                ray_wall = time.perf_counter() - t0
        finally:
            ray.shutdown()
        assert on_ray.summary.correct == single.summary.correct == a.tasks, (on_ray.summary, single.summary)
        ms, raw_kb, shipped_kb = merge_cost(job, folder)
    print(
        json.dumps(
            {
                "tasks": a.tasks,
                "shards": a.shards,
                "concurrency_per_shard": a.concurrency,
                "latency_s": a.latency,
                "critical_path_s": round(critical, 3),
                "single": {"wall_s": round(single_wall, 3), "wall_over_critical": round(single_wall / critical, 2)},
                "ray": {"wall_s": round(ray_wall, 3), "wall_over_critical": round(ray_wall / critical, 2)},
                "ray_over_single": round(ray_wall / single_wall, 2),
                "ray_overhead_s": round(ray_wall - single_wall, 2),
                "ray_init_s": round(init_s, 2),
                "merge_ms_per_task": round(ms, 1),
                "delta_kb": {"raw": round(raw_kb, 1), "shipped": round(shipped_kb, 1)},
                "load_avg_1m": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
