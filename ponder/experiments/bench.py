"""Experiments: run a strategy over an environment's tasks, summarize accuracy and cost, compare.

`bench(agent, env, ...)` runs every task (or the first `n`) concurrently, each as a recorded
run carrying the experiment's id, and returns an `Experiment` rebuilt from the trace store,
so what `bench` returns and what `Experiment.load` reads back later are the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ponder.backends.base import Backend
from ponder.envs.base import Env
from ponder.errors import ConfigError, PonderError
from ponder.experiments.results import Experiment
from ponder.experiments.sharding import check_shard
from ponder.experiments.sweeps import SweepPlan, plan_sweep
from ponder.experiments.task_results import (
    TaskResult,
    _result_of,
)
from ponder.runtime.budget import Budget
from ponder.runtime.context import Agent
from ponder.runtime.runner import Evaluator, env_evaluator, env_tools, run_agent
from ponder.traces.store import TraceStore, default_db_path, new_id
from ponder.types import Task

__all__ = ["Progress", "ProgressCallback", "abench", "bench"]


@dataclass(frozen=True)
class Progress:
    """What a `progress` callback of `bench` is told after each task finishes (and, with a
    `heartbeat_s`, every so often while tasks run: then `last` is None).

    running: tasks in flight now. calls: model calls made so far by this sweep's runs,
        the runs still in flight included (a slow model shows calls going up before any task ends).
    """

    done: int
    total: int
    correct: int
    errors: int
    tokens: int
    last: TaskResult | None = None
    experiment_id: str = ""
    running: int = 0
    calls: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.done if self.done else None


ProgressCallback = Callable[[Progress], None]


class _Tally:
    """The running counts of a sweep, told to its `progress` callback."""

    def __init__(self, store: TraceStore, exp_id: str, total: int, progress: ProgressCallback | None) -> None:
        self.store, self.exp_id, self.total, self.progress = store, exp_id, total, progress
        self.done = self.correct = self.errors = self.tokens = self.finished_calls = 0
        self.in_flight: dict[str, str] = {}  # run id → task id

    def finished(self, run_id: str, result: TaskResult) -> None:
        self.in_flight.pop(run_id, None)
        self.done += 1
        self.correct += bool(result.correct)
        self.errors += result.status != "ok"
        self.tokens += result.prompt_tokens + result.completion_tokens
        self.finished_calls += result.calls
        self.report(result)

    def _calls_in_flight(self) -> int:
        calls = 0
        for run_id in self.in_flight:
            with contextlib.suppress(PonderError):  # not started yet: no row
                calls += self.store.run_totals(run_id).calls
        return calls

    def report(self, last: TaskResult | None = None) -> None:
        if self.progress is None:
            return
        self.progress(
            Progress(
                done=self.done,
                total=self.total,
                correct=self.correct,
                errors=self.errors,
                tokens=self.tokens,
                last=last,
                experiment_id=self.exp_id,
                running=len(self.in_flight),
                calls=self.finished_calls + self._calls_in_flight(),
            )
        )

    async def heartbeat(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.report()


async def abench(
    agent: Any,
    env: Any,
    backend: Backend | None = None,
    n: int | None = None,
    concurrency: int = 8,
    store: TraceStore | None = None,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    resume: str | None = None,
    progress: ProgressCallback | None = None,
    *,
    env_config: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
    name: str | None = None,
    shard: tuple[int, int] | None = None,
    skip: Collection[str] = (),
    heartbeat_s: float | None = None,
) -> Experiment:
    """Run `agent` over the first `n` tasks of `env` (all if None), `concurrency` at a time.

    agent: an agent instance, or a registered name configured by `config`.
    env: an env instance, or a registered name configured by `env_config`.
    backend: None means the one flags/env/config select (`resolve_backend()`).
    store: where runs go (None: the default trace database).
    resume: an experiment id; its tasks that finished ok (and were judged) are skipped, the rest run again
        under the same id (same agent, options, env and seed; `n` defaults to the experiment's).
    progress: called after each task with a `Progress`.
    shard: (i, n): run only the i-th of n fixed slices of the task list (1-based; task k goes to
        slice k mod n, the same on every machine). The shards of one sweep share one experiment
        id (made from its config), so `ponder merge` unifies them.
    skip: ids of tasks not to run (finished elsewhere: the Ray executor's driver passes the
        tasks its store already has).
    heartbeat_s: also call `progress` every this many seconds while tasks run (tasks in flight,
        calls made), not only when a task finishes.
    A task that fails (a backend error, a budget, an agent bug) is an errored run, counted, not fatal;
    an answer whose evaluation could not run is an evaluation error, counted apart from wrong answers.
    An env that cannot judge answers here (`Env.check_ready`: a code env without a sandbox) stops the
    bench before it starts, with a `ConfigError` saying how to fix it.
    """
    _check_sweep_args(shard, concurrency, n)
    if store is None:
        store = TraceStore(default_db_path())
    previous: dict[str, Any] | None = None
    if resume is not None:
        row = store.get_experiment(resume)
        previous = {**row["config"], "id": row["id"]}
        if n is None:
            n = previous.get("n")
    if backend is None:
        from ponder.backends.config import resolve_backend

        backend = resolve_backend()
    plan = plan_sweep(
        agent,
        env,
        backend,
        n=n,
        seed=seed,
        concurrency=concurrency,
        config=config,
        env_config=env_config,
        budget=budget,
        shard=shard,
        previous=previous,
    )
    plan.env.check_ready()  # an env that cannot judge answers here (no sandbox) would score every one wrong
    exp_id, todo = _experiment_and_todo(store, plan, previous, shard=shard, name=name, skip=skip)
    sweep = _Sweep(
        plan.agent, plan.env, backend, store, seed, budget, exp_id, _Tally(store, exp_id, len(todo), progress)
    )
    await sweep.run(todo, concurrency, heartbeat_s if progress else None)
    return Experiment.load(store, exp_id)


def _check_sweep_args(shard: tuple[int, int] | None, concurrency: int, n: int | None) -> None:
    if shard is not None:
        check_shard(shard)
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1 (got {concurrency})")
    if n is not None and n <= 0:
        raise ConfigError(f"n must be at least 1 (got {n}); leave it out to run every task")


def _experiment_and_todo(
    store: TraceStore,
    plan: SweepPlan,
    previous: dict[str, Any] | None,
    *,
    shard: tuple[int, int] | None,
    name: str | None,
    skip: Collection[str],
) -> tuple[str, list[Task]]:
    """The experiment the sweep's runs belong to (made if new) and the tasks still to run: a resumed
    sweep or a shard (whose id all shards share) skips the tasks that finished ok and were judged."""
    if previous is None and shard is None:
        exp_id = store.create_experiment(name or plan.default_name, plan.config)
        return exp_id, [t for t in plan.tasks if t.id not in skip]
    exp_id = previous["id"] if previous is not None else plan.sweep_id
    if previous is None:
        try:
            store.get_experiment(exp_id)
        except PonderError:
            store.create_experiment(name or plan.default_name, plan.config, exp_id=exp_id)
    runs = store.list_runs(experiment_id=exp_id, limit=1_000_000, status="ok")
    finished = {str(r.task.get("id")) for r in runs if r.eval_error is None}  # not judged: judge again
    return exp_id, [t for t in plan.tasks if t.id not in finished and t.id not in skip]


@dataclass
class _Sweep:
    """A sweep's tasks run `concurrency` at a time, each a recorded run of experiment `exp_id`."""

    agent: Agent
    env: Env
    backend: Backend
    store: TraceStore
    seed: int
    budget: Budget | None
    exp_id: str
    tally: _Tally

    async def run(self, todo: list[Task], concurrency: int, heartbeat_s: float | None) -> None:
        evaluator = env_evaluator(self.env)
        queue: asyncio.Queue[Task] = asyncio.Queue()
        for t in todo:
            queue.put_nowait(t)
        self.tally.report()

        async def worker() -> None:
            while True:
                try:
                    task = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.run_task(task, evaluator)

        beat = asyncio.create_task(self.tally.heartbeat(heartbeat_s)) if heartbeat_s else None
        try:
            await asyncio.gather(*(worker() for _ in range(min(concurrency, max(self.tally.total, 1)))))
        finally:
            if beat is not None:
                beat.cancel()

    async def run_task(self, task: Task, evaluator: Evaluator) -> None:
        run_id = new_id()
        self.tally.in_flight[run_id] = task.id
        failure = "never started"
        try:
            await run_agent(
                self.agent,
                task,
                backend=self.backend,
                store=self.store,
                tools=env_tools(self.env, task),
                seed=self.seed,
                budget=self.budget,
                experiment_id=self.exp_id,
                evaluator=evaluator,
                run_id=run_id,
                env=self.env,
            )
        except Exception as e:  # recorded as an errored run by run_agent (or it never started)
            failure = f"{type(e).__name__}: {e}"
        try:
            run = self.store.get_run(run_id)
        except PonderError:
            run = None
        result = (
            _result_of(run, self.store, env=self.env)
            if run is not None
            else TaskResult(task_id=task.id, input=task.input, run_id=run_id, status="error", error=failure)
        )
        self.tally.finished(run_id, result)


def bench(
    agent: Any,
    env: Any,
    backend: Backend | None = None,
    n: int | None = None,
    concurrency: int = 8,
    store: TraceStore | None = None,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    resume: str | None = None,
    progress: ProgressCallback | None = None,
    **kw: Any,
) -> Experiment:
    """Sync wrapper of `abench` (for scripts and notebooks without a running event loop)."""
    return asyncio.run(
        abench(
            agent,
            env,
            backend=backend,
            n=n,
            concurrency=concurrency,
            store=store,
            seed=seed,
            config=config,
            resume=resume,
            progress=progress,
            **kw,
        )
    )
