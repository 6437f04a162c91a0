"""Fork a recorded run: re-run it from any model call or tool result, with a change there.

A fork is a new run of the same agent, task and seed, recorded with `forked_from = (run,
seq, edit)`. Its backend serves every request the recording answered at the same call site
(request key, branch, occurrence) — so everything before the fork point, and every
concurrent branch that does not depend on it, is served from the recording with no live
call — returns the edited text at the fork point (or, with no edit, makes that call live),
and calls the live backend for every request the recording never saw (everything the
change touched). Tool results are served the same way. The origin is only read.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ponder import registry
from ponder.backends.base import Backend
from ponder.backends.replay import ReplayBackend
from ponder.errors import ConfigError
from ponder.replay.rerun import run_setup
from ponder.replay.serving import ToolReplay
from ponder.runtime.context import Agent
from ponder.runtime.runner import env_evaluator, env_tools, exact_match, run_agent
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore
from ponder.types import Result, Task


class ForkPoint(BaseModel):
    """Where a fork changes its origin: one model call or one tool result, at its call site.

    run_id / seq: the (child) run and event holding it; branch, sample_index: its call site;
    request_key for a model call, tool and args for a tool result.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    seq: int
    what: Literal["llm_call", "tool"]
    branch: str
    sample_index: int
    request_key: str | None = None
    tool: str | None = None
    args: Any = None


def _root(store: TraceStore, run: RunRecord) -> RunRecord:
    while run.parent_id is not None:
        run = store.get_run(run.parent_id)
    return run


def fork_point(store: TraceStore, run_id: str, seq: int) -> tuple[RunRecord, ForkPoint]:
    """The top-level run to fork and the fork point at event `seq` of run `run_id`; `ConfigError` if unusable."""
    run = store.get_run(run_id)
    origin = _root(store, run)
    for r in (run, origin):
        if r.status in ("running", "interrupted"):
            raise ConfigError(f"run {r.id} did not finish (status {r.status}); fork a finished run")
    try:
        event = store.event(run.id, seq)
    except Exception:
        raise ConfigError(f"run {run.id} has no event {seq} (its events are numbered 1..{run.last_seq})") from None
    call = store.llm_call_for_event(run.id, seq)
    if call is not None:
        return origin, ForkPoint(
            run_id=run.id,
            seq=seq,
            what="llm_call",
            branch=call.branch,
            sample_index=call.sample_index,
            request_key=call.request_key,
        )
    tools = store.tool_calls_for_event(run.id, seq)
    if tools:
        t = tools[0]
        return origin, ForkPoint(
            run_id=run.id, seq=seq, what="tool", branch=t.branch, sample_index=t.sample_index, tool=t.tool, args=t.args
        )
    raise ConfigError(
        f"event {seq} of run {run.id} is a {event.kind!r} event, not a model call or a tool result; "
        "fork at an llm_call event or at an action whose tool ran"
    )


async def afork(
    store: TraceStore,
    run_id: str,
    *,
    at: int,
    edit: str | None = None,
    backend: Backend | None = None,
    settings: dict[str, Any] | None = None,
) -> Result:
    """Fork run `run_id` of `store` at event `at`; the fork is recorded in `store` and its `Result` returned.

    edit: the text the model call (or tool) at `at` returns instead (None: that call is made live).
    backend: the live backend (None: the origin's backend and model, as configured here).
    settings: agent options changed for the fork (`--set`).
    `result.metadata["fork"]` says how many calls were live and how many were served.
    """
    origin, point = fork_point(store, run_id, at)
    ids = store.descendant_run_ids(origin.id)
    if origin.agent not in registry.names("agents"):
        raise ConfigError(f"run {origin.id} was made by agent {origin.agent!r}, which is not registered here")
    agent: Agent = registry.build("agents", origin.agent, {**origin.config, **(settings or {})}, "agent")
    task = Task.model_validate(origin.task)
    env, budget = run_setup(store, origin, [])
    if origin.budget:
        from ponder.runtime.budget import Budget

        budget = Budget.model_validate(origin.budget)
    if backend is None:
        from ponder.backends.config import resolve_backend

        backend = resolve_backend(backend=origin.backend, model=origin.model)
    # the fork point is a miss by design: answered with the edit (or made live); every other miss goes live
    at_call, at_tool = point.what == "llm_call", point.what == "tool"
    source = store if store.llm_calls(ids) else TraceStore(":memory:")
    fb = ReplayBackend(
        source,
        origin.id if source is store else None,
        on_miss="edit" if at_call and edit is not None else "live",
        live=backend,
        fork_at=(point.request_key or "", point.branch, point.sample_index) if at_call else None,
        edit=edit if at_call else None,
    )
    result = await run_agent(
        agent,
        task,
        backend=fb,
        store=store,
        tools=env_tools(env, task) if env is not None else None,
        seed=origin.seed or 0,
        budget=budget,
        evaluator=env_evaluator(env) if env is not None else exact_match,
        tool_replay=ToolReplay(
            store.tool_calls(ids),
            on_miss="edit" if at_tool and edit is not None else "live",
            fork_at=(point.tool or "", point.args, point.branch, point.sample_index) if at_tool else None,
            edit=edit if at_tool else None,
        ),
        experiment_id=None,
        forked_from={"run_id": origin.id, "seq": at, "event_run_id": point.run_id, "edit": edit},
        env=env,
    )
    meta = {**result.metadata, "fork": {"live_calls": fb.live_calls, "served": fb.served, "of": origin.id, "at": at}}
    return result.model_copy(update={"metadata": meta})


def fork(
    run_id: str,
    *,
    at: int,
    edit: str | None = None,
    backend: Backend | None = None,
    settings: dict[str, Any] | None = None,
    store: TraceStore | None = None,
) -> Result:
    """Fork recorded run `run_id` at event `at` (sync; the default trace database unless `store`). See `afork`."""
    if store is None:
        from ponder.traces.store import default_db_path

        store = TraceStore(default_db_path())
    return asyncio.run(afork(store, run_id, at=at, edit=edit, backend=backend, settings=settings))
