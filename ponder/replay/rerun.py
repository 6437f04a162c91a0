"""Re-execute a recorded run against its own recording and compare the event streams.

The agent is rebuilt from the run's registered name and config, the task and seed come
from the run row, every completion is served by a `ReplayBackend` and every tool result
from the recorded tool calls (no side effect repeats; `ponder.replay.serving`). The re-run is
written to a scratch in-memory store, never to the recording, and compared event by event in
canonical order (`ponder.replay.compare`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ponder import registry
from ponder.backends.replay import ReplayBackend
from ponder.envs.base import Env
from ponder.errors import ConfigError, PonderError, StoreError
from ponder.replay.cassette import memory_before
from ponder.replay.compare import (
    Divergence,
    _legacy_no_answer,
    canonical_events,
    compare_runs,
)
from ponder.replay.serving import ToolReplay, _ReplayOnlyTool
from ponder.runtime.budget import Budget
from ponder.runtime.context import Agent
from ponder.runtime.runner import Evaluator, env_evaluator, env_tools, exact_match, run_agent
from ponder.tools.base import Tool
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore, new_id
from ponder.types import Result, Task

__all__ = ["ReplayReport", "areplay", "experiment_setup", "rebuild_agent", "replay"]


@dataclass
class ReplayReport:
    """The outcome of a replay: identical, or the first divergence."""

    run_id: str
    replay_run_id: str
    events: int
    divergence: Divergence | None = None
    answer: str | None = None
    notes: list[str] = field(default_factory=list)
    store: TraceStore | None = None
    result: Result | None = None

    @property
    def identical(self) -> bool:
        return self.divergence is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "replay_run_id": self.replay_run_id,
            "identical": self.identical,
            "events": self.events,
            "answer": self.answer,
            "divergence": None if self.divergence is None else self.divergence.to_dict(),
            "notes": self.notes,
        }

    def render(self) -> str:
        if self.divergence is None:
            return "identical"
        text = f"run {self.run_id}: " + self.divergence.render()
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


def _replayable_run(store: TraceStore, run_id: str) -> tuple[RunRecord, list[str]]:
    run = store.get_run(run_id)
    if run.parent_id is not None:
        raise ConfigError(f"run {run.id} is a child run of {run.parent_id}; replay the top-level run {run.parent_id}")
    if run.status in ("running", "interrupted"):
        raise ConfigError(f"run {run.id} did not finish (status {run.status}); there is nothing complete to replay")
    ids = store.descendant_run_ids(run.id)
    for child in (store.get_run(i) for i in ids[1:]):
        if child.agent not in registry.names("agents"):
            raise ConfigError(
                f"run {run.id} ran agent {child.agent!r} (its child run {child.branch!r}), which is not registered"
                " here; install or register the plugin that provides it"
            )
    expected = store.run_totals(run.id).calls  # its own calls and every child run's
    present = len(store.llm_calls(ids))
    if present < expected:
        raise StoreError(
            f"run {run.id} made {expected} llm calls but only {present} are recorded in {store.path} "
            "(were they deleted?); it cannot be replayed — record it again"
        )
    return run, ids


def rebuild_agent(run: RunRecord) -> Agent:
    """The agent that made `run`, from the registry and its recorded config."""
    if run.agent == "proxy" and run.backend == "proxy":  # what `ponder proxy` records: another program's calls
        raise ConfigError(
            f"run {run.id} holds another program's calls, recorded by `ponder proxy`: there is no ponder agent to "
            "re-run; serve the recording with `ponder proxy --replay DB` and run that program against it"
        )
    if run.agent not in registry.names("agents"):
        raise ConfigError(
            f"run {run.id} was made by agent {run.agent!r}, which is not registered here "
            f"(known agents: {', '.join(registry.names('agents'))}); install or register the plugin that provides it"
        )
    try:
        agent: Agent = registry.build("agents", run.agent, run.config, "agent")
        return agent
    except ConfigError as e:
        raise ConfigError(
            f"run {run.id}: cannot rebuild agent {run.agent!r} from its recorded config: {e}"
            " (install or register the plugin that provides it)"
        ) from None


def recorded_env(run: RunRecord, notes: list[str]) -> Env | None:
    """The env a run was given (`run_agent(env=...)`, recorded on its row), rebuilt from the registry."""
    spec = run.env
    if not spec:
        return None
    name, config = spec.get("name"), spec.get("config") or {}
    if not isinstance(name, str) or name not in registry.names("envs"):
        notes.append(f"run {run.id} was given env {name!r}, which is not registered here; replayed without it")
        return None
    try:
        env: Env = registry.build("envs", name, config if isinstance(config, dict) else {}, "env")
        return env
    except PonderError as e:
        notes.append(f"cannot rebuild env {name!r} of run {run.id} ({e}); replayed without it")
        return None


def run_setup(store: TraceStore, run: RunRecord, notes: list[str]) -> tuple[Env | None, Budget | None]:
    """The env and budget a run is re-run with: its experiment's, else the env recorded with it."""
    env, budget = experiment_setup(store, run, notes)
    return (env if env is not None else recorded_env(run, notes)), budget


def experiment_setup(store: TraceStore, run: RunRecord, notes: list[str]) -> tuple[Env | None, Budget | None]:
    """The env (rebuilt from the registry) and the budget of the experiment a run belongs to."""
    if not run.experiment_id:
        return None, None
    try:
        cfg = store.get_experiment(run.experiment_id)["config"]
    except StoreError:
        notes.append(f"experiment {run.experiment_id} is not in the store; scored with exact match")
        return None, None
    budget = Budget.model_validate(cfg["budget"]) if cfg.get("budget") else None
    name = cfg.get("env")
    if not name or name not in registry.names("envs"):
        notes.append(f"env {name!r} of experiment {run.experiment_id} is not registered; scored with exact match")
        return None, budget
    try:
        env: Env = registry.build("envs", name, cfg.get("env_config") or {}, "env")
        return env, budget
    except PonderError as e:
        notes.append(f"cannot rebuild env {name!r} ({e}); scored with exact match")
        return None, budget


async def areplay(
    store: TraceStore,
    run_id: str,
    *,
    agent: Agent | None = None,
    task: Task | None = None,
    seed: int | None = None,
    tools: dict[str, Tool] | None = None,
    evaluator: Evaluator | None = None,
    budget: Budget | None = None,
    into: TraceStore | None = None,
    env: Env | None = None,
) -> ReplayReport:
    """Re-execute recorded run `run_id` of `store` on its recording and compare the events.

    agent, task, seed, tools, evaluator: override what is rebuilt from the run (a replay
        test passes the agent under test; the CLI rebuilds everything).
    into: where the re-run is recorded (a scratch in-memory store by default).
    env: the run's env (`ctx.env`); by default its experiment's env, else the env recorded with it,
        rebuilt from the registry.
    Raises a `PonderError` for bad input (unknown run, deleted calls, unknown agent).
    """
    run, ids = _replayable_run(store, run_id)
    notes: list[str] = []
    legacy = [r.id for r in map(store.get_run, ids) if _legacy_no_answer(r)]
    if legacy:
        notes.append(
            f"{len(legacy)} run(s) recorded by an older ponder ended without an answer with status ok; "
            "they are compared as status error, which ponder records for them now"
        )
    the_agent = agent if agent is not None else rebuild_agent(run)
    the_task = task if task is not None else Task.model_validate(run.task)
    run_env, exp_budget = run_setup(store, run, notes)
    env = env if env is not None else run_env
    if budget is None:
        budget = Budget.model_validate(run.budget) if run.budget else exp_budget
    if evaluator is None:
        evaluator = env_evaluator(env) if env is not None else exact_match
    if tools is None and env is not None:
        tools = env_tools(env, the_task)
    scratch = into if into is not None else TraceStore(":memory:")
    for m in memory_before(store, run.started_at):
        scratch.add_memory(m.namespace, m.content, kind=m.kind, score=m.score, run_id=m.run_id)
    # a run that made no call at all has nothing to serve; an empty recording misses on any call
    backend = ReplayBackend(store, run.id) if store.llm_calls(ids) else ReplayBackend(TraceStore(":memory:"))
    new_run = new_id()
    error: str | None = None
    result: Result | None = None
    try:
        result = await run_agent(
            the_agent,
            the_task,
            backend=backend,
            store=scratch,
            tools={k: _ReplayOnlyTool(t) for k, t in (tools or {}).items()},
            seed=(run.seed or 0) if seed is None else seed,
            evaluator=evaluator,
            budget=budget,
            tool_replay=ToolReplay(store.tool_calls(ids)),
            run_id=new_run,
            env=env,
        )
    except Exception as e:  # the re-run failing is a finding, recorded in the scratch run
        error = f"{type(e).__name__}: {e}"
    new = scratch.get_run(new_run)
    divergence = compare_runs(store, run.id, scratch, new_run)
    if divergence is not None:
        divergence.miss = backend.misses[0] if backend.misses else None
        divergence.error = error
    return ReplayReport(
        run_id=run.id,
        replay_run_id=new_run,
        events=len(canonical_events(store, run.id)),
        divergence=divergence,
        answer=new.answer,
        notes=notes,
        store=scratch,
        result=result,
    )


def replay(store: TraceStore, run_id: str, **kw: Any) -> ReplayReport:
    """Sync wrapper of `areplay`."""
    return asyncio.run(areplay(store, run_id, **kw))
