"""Re-execute a recorded run against its own recording and compare the event streams.

The agent is rebuilt from the run's registered name and config, the task and seed come
from the run row, every completion is served by a `ReplayBackend` and every tool result
from the recorded tool calls (no side effect repeats). The re-run is written to a scratch
in-memory store, never to the recording.

Events are compared in a canonical order: by (branch, seq) within each run. Concurrent
branches interleave differently from one execution to the next, but the branch path an
event was written from is deterministic, and so is the order within one branch.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from ponder import registry
from ponder.agents.budget import Budget
from ponder.agents.context import Agent
from ponder.agents.runner import Evaluator, env_evaluator, env_tools, exact_match, run_agent
from ponder.backends.base import Capabilities, current_call_site
from ponder.backends.replay import ReplayBackend
from ponder.envs.base import Env
from ponder.errors import BackendError, ConfigError, PonderError, ReplayMiss, StoreError, ToolError
from ponder.tools.base import Tool
from ponder.traces.cassette import memory_before
from ponder.traces.events import LLMCallRecord, RunRecord, ToolCallRecord
from ponder.traces.store import TraceStore, new_id
from ponder.types import Completion, CompletionRequest, Result, Task, ToolSpec

COMPARED = ("kind", "label", "status", "summary", "score", "parent", "data")
# event data that differs from one execution to the next by nature (timings, ids of rows and runs)
VOLATILE_DATA = frozenset(
    {"latency_ms", "duration_ms", "elapsed_ms", "elapsed_s", "run_id", "ids", "started_at", "ended_at"}
)


def _stable(data: dict[str, Any] | None) -> str | None:
    if not data:
        return None
    kept = {k: v for k, v in data.items() if k not in VOLATILE_DATA}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str) if kept else None


@dataclass(frozen=True)
class EventView:
    """One event as replay compares it: `parent` is the parent's position in canonical order."""

    index: int
    seq: int
    branch: str
    kind: str
    label: str
    summary: str
    status: str
    score: float | None
    parent: int | None
    data: str | None = None

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in COMPARED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seq": self.seq,
            "branch": self.branch,
            "kind": self.kind,
            "label": self.label,
            "summary": self.summary,
            "status": self.status,
            "score": self.score,
            "parent": self.parent,
            "data": None if self.data is None else json.loads(self.data),
        }

    def describe(self) -> str:
        score = f" score={self.score:g}" if self.score is not None else ""
        parent = f" under #{self.parent}" if self.parent is not None else ""
        branch = f" branch {self.branch!r}" if self.branch else ""
        text = self.summary if len(self.summary) <= 120 else self.summary[:119] + "…"
        return f"{self.kind} {self.label!r} [{self.status}]{score}{parent}{branch}: {text!r}"


def canonical_events(store: TraceStore, run_id: str) -> list[EventView]:
    """A run's events sorted by (branch, seq), numbered from 1, parents given by position."""
    events = sorted(store.iter_events(run_id, with_data=True), key=lambda e: (e.branch, e.seq))
    position = {e.seq: i for i, e in enumerate(events, 1)}
    return [
        EventView(
            index=i,
            seq=e.seq,
            branch=e.branch,
            kind=e.kind,
            label=e.label,
            summary=e.summary,
            status=e.status,
            score=e.score,
            parent=None if e.parent_seq is None else position.get(e.parent_seq, -e.parent_seq),
            data=_stable(e.data),
        )
        for i, e in enumerate(events, 1)
    ]


@dataclass
class Divergence:
    """Where a re-run first differs from its recording.

    index: the 1-based position of the first differing event in canonical order
        (None when the events agree and the run's outcome or child runs differ).
    miss: when the re-run asked for a completion that was never recorded, the miss
        message with the diff of the request against the closest recorded one.
    """

    run_id: str
    new_run_id: str
    what: str
    index: int | None = None
    field: str | None = None
    recorded: Any = None
    new: Any = None
    path: str = ""
    miss: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.to_dict() if isinstance(v, EventView) else v

        return {
            "run_id": self.run_id,
            "new_run_id": self.new_run_id,
            "path": self.path,
            "what": self.what,
            "index": self.index,
            "field": self.field,
            "recorded": plain(self.recorded),
            "new": plain(self.new),
            "miss": self.miss,
            "error": self.error,
        }

    def render(self) -> str:
        where = f" in child run {self.path!r} ({self.run_id})" if self.path else ""
        if self.index is not None:
            head = f"divergence at event {self.index}{where}: {self.what}"
            if self.field:
                head += f" ({self.field} differs)"
        else:
            head = f"divergence{where}: {self.what}"
        lines = [head]

        def show(v: Any) -> str:
            if isinstance(v, EventView):
                return f"{v.describe()} (seq {v.seq})"
            return "(none)" if v is None else repr(v)

        lines.append(f"  recorded: {show(self.recorded)}")
        lines.append(f"  new:      {show(self.new)}")
        if self.field == "data" and isinstance(self.recorded, EventView) and isinstance(self.new, EventView):
            lines.append(f"  recorded data: {self.recorded.data}")
            lines.append(f"  new data:      {self.new.data}")
        if self.miss:
            lines.append("cause: the re-run asked for a completion that was never recorded (ReplayMiss)")
            lines.extend("  " + line for line in self.miss.splitlines())
        elif self.error:
            lines.append(f"the re-run failed: {self.error}")
        return "\n".join(lines)


def outcome_status(run: RunRecord) -> str:
    """The run's status as replay compares it: a run that finished `ok` with no answer is `error`.

    Older ponder recorded a run that ended without an answer (a ReAct run out of steps)
    as `ok`; it now records it as `error` ("no answer: ..."). Its events are the same either
    way (the `answer` event was already an error), so a recording made before the change is
    read as what ponder records for it now, and still replays identical.
    """
    return "error" if run.status == "ok" and run.answer is None else run.status


def _legacy_no_answer(run: RunRecord) -> bool:
    return run.status == "ok" and run.answer is None


def _first_difference(a: EventView, b: EventView) -> str:
    return next(f for f in COMPARED if getattr(a, f) != getattr(b, f))


def compare_runs(
    rec_store: TraceStore, rec_id: str, new_store: TraceStore, new_id: str, *, path: str = ""
) -> Divergence | None:
    """The first difference between two runs (events, then outcome, then child runs), or None."""
    old, new = canonical_events(rec_store, rec_id), canonical_events(new_store, new_id)
    for a, b in zip(old, new, strict=False):
        if a.key() != b.key():
            field_ = _first_difference(a, b)
            return Divergence(rec_id, new_id, "events differ", a.index, field_, a, b, path)
    if len(old) != len(new):
        i = min(len(old), len(new))
        if len(old) > len(new):
            return Divergence(rec_id, new_id, "the re-run stopped early", i + 1, None, old[i], None, path)
        return Divergence(rec_id, new_id, "the re-run wrote more events", i + 1, None, None, new[i], path)
    r_old, r_new = rec_store.get_run(rec_id), new_store.get_run(new_id)
    if outcome_status(r_old) != outcome_status(r_new):
        return Divergence(rec_id, new_id, "the run's status differs", None, "status", r_old.status, r_new.status, path)
    for f in ("answer", "correct", "score"):
        if getattr(r_old, f) != getattr(r_new, f):
            return Divergence(
                rec_id, new_id, f"the run's {f} differs", None, f, getattr(r_old, f), getattr(r_new, f), path
            )
    kids_old = sorted(rec_store.child_runs(rec_id), key=lambda r: (r.branch, r.started_at))
    kids_new = sorted(new_store.child_runs(new_id), key=lambda r: (r.branch, r.started_at))
    if [k.branch for k in kids_old] != [k.branch for k in kids_new]:
        return Divergence(
            rec_id,
            new_id,
            "child runs differ",
            None,
            "child runs",
            [k.branch for k in kids_old],
            [k.branch for k in kids_new],
            path,
        )
    for ko, kn in zip(kids_old, kids_new, strict=True):
        if ko.agent != kn.agent:
            return Divergence(ko.id, kn.id, "child run agent differs", None, "agent", ko.agent, kn.agent, ko.branch)
        d = compare_runs(rec_store, ko.id, new_store, kn.id, path=ko.branch)
        if d is not None:
            return d
    return None


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


class ToolReplay:
    """Recorded tool results, served to a re-run so that no side effect repeats (by tool, args, branch, occurrence)."""

    def __init__(self, records: list[ToolCallRecord]) -> None:
        self._by_site: dict[tuple[str, str, str, int], ToolCallRecord] = {}
        for r in records:
            self._by_site[(r.tool, _args_key(r.args), r.branch, r.sample_index)] = r

    def get(self, tool: str, args: Any, branch: str, index: int) -> ToolCallRecord | None:
        """The recorded call of `tool` with `args` at this branch and occurrence, if there is one."""
        return self._by_site.get((tool, _args_key(args), branch, index))


def _args_key(args: Any) -> str:
    return json.dumps(args, sort_keys=True, ensure_ascii=False)


class _ReplayOnlyTool:
    """Stands in for a real tool during replay: same name and schema, never runs anything."""

    def __init__(self, tool: Tool) -> None:
        self.name = tool.name
        self.description = tool.description
        self._spec = tool.spec()

    def spec(self) -> ToolSpec:
        return self._spec

    async def acall(self, args: Any) -> str:
        raise ToolError(f"replay: {self.name}({args!r}) was never called in the recording; a replay runs no real tool")


class _ObservedReplay:
    """A `ReplayBackend` that remembers its misses (an agent may swallow the error), claims the
    capabilities the recording shows were used (so the agent takes the same code path), and
    fails again where the recorded call failed (a recorded backend error is part of the run)."""

    def __init__(self, inner: ReplayBackend, failed: list[LLMCallRecord] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.free = inner.free
        requests = [c.request for c in inner.calls]
        self.capabilities = Capabilities(
            n=any(int(r.get("n", 1)) > 1 for r in requests),
            tools=any(r.get("tools") for r in requests),
        )
        self._failed = {(c.request_key, c.branch, c.sample_index): c.error or "failed" for c in failed or []}
        self.misses: list[str] = []

    async def complete(self, req: CompletionRequest) -> Completion:
        try:
            return await self.inner.complete(req)
        except ReplayMiss as e:
            site = current_call_site.get()
            where = (req.key(), site.branch, site.sample_index) if site is not None else None
            if where in self._failed:
                raise BackendError(self._failed[where]) from None
            self.misses.append(str(e))
            raise


def _replayable_run(store: TraceStore, run_id: str) -> tuple[RunRecord, list[str]]:
    run = store.get_run(run_id)
    if run.parent_id is not None:
        raise ConfigError(f"run {run.id} is a child run of {run.parent_id}; replay the top-level run {run.parent_id}")
    if run.status in ("running", "interrupted"):
        raise ConfigError(f"run {run.id} did not finish (status {run.status}); there is nothing complete to replay")
    ids = store.descendant_run_ids(run.id)
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
    if run.agent not in registry.names("agents"):
        raise ConfigError(
            f"run {run.id} was made by agent {run.agent!r}, which is not registered here "
            f"(known agents: {', '.join(registry.names('agents'))}); install or register the plugin that provides it"
        )
    try:
        agent: Agent = registry.build("agents", run.agent, run.config, "agent")
        return agent
    except ConfigError as e:
        raise ConfigError(f"run {run.id}: cannot rebuild agent {run.agent!r} from its recorded config: {e}") from None


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
    inner = ReplayBackend(store, run.id) if store.llm_calls(ids) else ReplayBackend(TraceStore(":memory:"))
    failed = [c for c in store.llm_calls(ids) if c.response is None]
    backend = _ObservedReplay(inner, failed)
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


def assert_same_events(rec_store: TraceStore, rec_id: str, new_store: TraceStore, new_id: str) -> None:
    """Assert that run `new_id` did exactly what recorded run `rec_id` did (events, outcome, child runs)."""
    d = compare_runs(rec_store, rec_id, new_store, new_id)
    if d is not None:
        raise AssertionError(d.render())


def replay(store: TraceStore, run_id: str, **kw: Any) -> ReplayReport:
    """Sync wrapper of `areplay`."""
    return asyncio.run(areplay(store, run_id, **kw))
