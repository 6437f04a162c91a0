"""`RunContext`: everything a strategy touches while it runs, and the `Agent` contract it serves.

An agent implements `solve(task, ctx) -> Result` and works only through `ctx`:

- model calls: `complete`; tool calls: `call_tool` (both recorded, budgeted, replayable);
- events: `event` writes one, `update` changes one written earlier, `events` reads this
  run's (or one of its child runs') events back;
- structure: `branch(name)` is a concurrent branch (its own branch path, so replay serves
  each branch its own recorded answers), `within(seq)` nests the next events under an
  event, `run_child(agent, task, name)` runs another agent as a child run (a Reflexion trial);
- resources: `env` is the env the run was started on (None when there is none),
  `resource(name)` finds a file that lives beside the trace (ReAct's `corpus.db`),
  `memory` is the episodic memory shared across runs; `with_tools` / `with_env` give a
  context with other tools / another env.

Agents never see the recorder or the store: the context is the only writer they have.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from ponder.backends.base import (
    Attempt,
    Backend,
    CallSite,
    TextSink,
    collect_attempts,
    current_call_site,
    stream_completion,
)
from ponder.backends.pricing import cost_usd
from ponder.backends.seeds import derive_seed
from ponder.envs.base import Env
from ponder.errors import ConfigError
from ponder.runtime.budget import Budget, Limits
from ponder.runtime.events import EventVerbs
from ponder.runtime.memory import Memory
from ponder.runtime.run_state import RunState as _RunState
from ponder.runtime.sampling import sample_choices
from ponder.runtime.tool_calls import RecordedTools, ToolOutcome, run_tool
from ponder.tools.base import Tool
from ponder.traces.recorder import Recorder
from ponder.types import Completion, CompletionRequest, Result, Task


@runtime_checkable
class Agent(Protocol):
    """A reasoning strategy: the runner calls `solve(task, ctx)`; it works through `ctx` and returns a `Result`.

    `name` is the name it is registered under (the key of its `ponder.agents` entry point).
    """

    name: ClassVar[str]

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """Work on `task` through `ctx` and return the result."""
        ...


async def _no_driver(agent: Agent, task: Task, ctx: RunContext, rec: Recorder) -> Result:
    raise ConfigError("this context was not made by run_agent, so it cannot run child runs")


def _config_of(agent: object) -> dict[str, Any]:
    return agent.model_dump(mode="json") if isinstance(agent, BaseModel) else {}


def _tool_calls_summary(c: Completion) -> str:
    calls = c.choices[0].tool_calls if c.choices else None
    return "; ".join(f"{t.name}({t.arguments})" for t in calls or ())


class RunContext(EventVerbs):
    """What an agent works through: backend, tools, events, budget, a seeded RNG and its place in the run.

    Every backend call goes through `complete`, every tool call through `call_tool`, every
    step through `event`: so everything is recorded, budgets hold, and replay can serve it.
    Built by the runner (`run_agent`); agents derive new ones with `branch`, `within`,
    `with_tools` and `run_child`. (A context built by hand on a recorder, as tool tests do,
    has every verb but `run_child`.)

    branch_path: the path of concurrent branches this context writes from ("" at the top).
    parent: the event new events nest under (None: the run's top level).
    env: the env the run was started on (`run_agent(env=...)`, a bench's env), shared by
        the run's branches and child runs, and by concurrent runs of one bench: an agent
        that steps an interactive env steps its own copy (`episode_env`).
    """

    def __init__(
        self,
        *,
        backend: Backend,
        recorder: Recorder,
        state: _RunState | None = None,
        tools: dict[str, Tool] | None = None,
        budget: Budget | None = None,
        seed: int = 0,
        branch_path: str = "",
        parent: int | None = None,
        tool_replay: RecordedTools | None = None,
        rng: random.Random | None = None,
        env: Env | None = None,
    ) -> None:
        self.backend = backend
        self.env = env
        self.tools: dict[str, Tool] = dict(tools or {})
        self.seed = seed
        self.branch_path = branch_path
        self.parent = parent
        self._recorder = recorder
        self._state = state = state if state is not None else _RunState(Limits(budget), _no_driver)
        self._tool_replay = tool_replay
        self.rng = rng if rng is not None else random.Random(f"{seed}:{branch_path}")
        state.runs.add(recorder.run_id)

    @property
    def budget(self) -> Budget:
        """The limits of the top-level run (shared by its branches and child runs)."""
        return self._state.limits.budget

    @property
    def memory(self) -> Memory:
        """Episodic memory, shared across runs (Reflexion's reflections); every read and write is recorded."""
        return Memory(self._recorder.store, self._recorder.run_id, self._recorded_call)

    def _derive(self, **changes: Any) -> RunContext:
        kw: dict[str, Any] = {
            "backend": self.backend,
            "recorder": self._recorder,
            "state": self._state,
            "tools": self.tools,
            "seed": self.seed,
            "branch_path": self.branch_path,
            "parent": self.parent,
            "tool_replay": self._tool_replay,
            "rng": self.rng,
            "env": self.env,
        }
        kw.update(changes)
        return RunContext(**kw)

    # -- structure -------------------------------------------------------------------

    def branch(self, name: str | int, *, parent: int | None = None) -> RunContext:
        """A context for one concurrent branch of this run: its own branch path (and RNG), events under `parent`.

        Give every branch started together its own `name` (its index, say): replay serves each
        branch the answers recorded for it, whatever order the branches ran in.
        """
        path = f"{self.branch_path}.{name}" if self.branch_path else str(name)
        return self._derive(
            branch_path=path,
            parent=self.parent if parent is None else parent,
            rng=random.Random(f"{self.seed}:{path}"),
        )

    def within(self, parent: int | None) -> RunContext:
        """The same branch (and RNG), with new events nested under event `parent` (None: the top level)."""
        return self._derive(parent=parent)

    def with_tools(self, tools: dict[str, Tool]) -> RunContext:
        """The same place in the run, offering `tools` instead of this context's."""
        return self._derive(tools=tools)

    def with_env(self, env: Env | None) -> RunContext:
        """The same place in the run, on `env` instead of this context's (None: no env)."""
        return self._derive(env=env)

    async def run_child(
        self,
        agent: Agent,
        task: Task,
        name: str,
        *,
        tools: dict[str, Tool] | None = None,
    ) -> Result:
        """Run `agent` on `task` as a child run of this one (a Reflexion trial, say), sharing the budget.

        name: the child's name within this run (`trial1`); it is also its branch path.
        The result carries the child's `run_id`, whose events `events(run_id)` reads.
        """
        path = f"{self.branch_path}/{name}" if self.branch_path else name
        rec = Recorder.start(
            self._recorder.store,
            agent=agent.name,
            config=_config_of(agent),
            task=task.model_dump(mode="json"),
            seed=self.seed,
            backend=self.backend.name,
            model=self.backend.model,
            parent_id=self.run_id,
            branch=path,
        )
        ctx = RunContext(
            backend=self.backend,
            recorder=rec,
            state=self._state,
            tools=self.tools if tools is None else tools,
            seed=self.seed,
            branch_path=path,
            tool_replay=self._tool_replay,
            env=self.env,
        )
        return await self._state.drive(agent, task, ctx, rec)

    def resource(self, name: str) -> Path | None:
        """The file `name` beside the trace database (ReAct's `corpus.db`), if there is one."""
        where = self._recorder.store.path
        if where == ":memory:":
            return None
        path = Path(where).parent / name
        return path if path.is_file() else None

    # -- calls -----------------------------------------------------------------------

    async def complete(
        self, req: CompletionRequest, *, label: str = "llm", parent: int | None = None, on_text: TextSink | None = None
    ) -> Completion:
        """Call the backend with `req`, recording the call as an `llm_call` event and an `llm_calls` row.

        Where the backend honours seeds, a request without one is sent (and recorded) with the seed
        `ponder.backends.seeds.derive_seed` gives this call site. on_text: receives the answer's text while it
        is written (the backend's `stream`; from a backend that does not stream, and from a replay, the
        whole text at once); the call is recorded exactly as without it.
        """
        state = self._state
        state.limits.check()
        index = state.next_index(state.counters, self.branch_path, req.key())
        if req.seed is None and self.backend.capabilities.seed:
            req = req.model_copy(update={"seed": derive_seed(self.seed, self.branch_path, req.identity(), index)})
        key = req.key()
        state.limits.charge_call()
        last = req.messages[-1].content if req.messages else ""
        parent = self.parent if parent is None else parent
        seq = self.event("llm_call", label, last, parent=parent, status="running", data={"request_key": key})
        self._recorder.flush()
        token = current_call_site.set(CallSite(branch=self.branch_path, sample_index=index))
        t0 = time.perf_counter()
        try:
            with collect_attempts() as attempts:
                if on_text is None:
                    completion = await self.backend.complete(req)
                else:
                    completion = await stream_completion(self.backend, req, on_text)
        except BaseException as e:
            msg = str(e) or type(e).__name__
            with self._recorder.atomic():  # the call's row, its event and the run's count land together
                self._call_row(seq, key, req, index, None, (time.perf_counter() - t0) * 1000, attempts, error=msg)
                self.update(seq, status="cancelled" if isinstance(e, asyncio.CancelledError) else "error", summary=msg)
                self._recorder.add_usage(0, 0, 1, None)
            raise
        finally:
            current_call_site.reset(token)
        latency = completion.latency_ms or (time.perf_counter() - t0) * 1000
        u = completion.usage
        state.limits.charge_tokens(u.total_tokens)
        cost = cost_usd(completion.model or self.backend.model, u, free=self.backend.free)
        # committed as one transaction the moment the call completes: a crash after this keeps all of it
        with self._recorder.atomic():
            self._call_row(seq, key, req, index, completion, latency, attempts)
            summary = completion.text or _tool_calls_summary(completion)
            data = {"request_key": key, "latency_ms": round(latency, 3), "n": len(completion.choices)}
            self.update(seq, status="ok", summary=summary, data=data)
            self._recorder.add_usage(u.prompt_tokens, u.completion_tokens, 1, cost)
        return completion

    def _call_row(
        self,
        seq: int,
        key: str,
        req: CompletionRequest,
        index: int,
        completion: Completion | None,
        latency_ms: float,
        attempts: list[Attempt],
        *,
        error: str | None = None,
    ) -> None:
        """The call's `llm_calls` row (a call that raised: no response, no tokens)."""
        usage = completion.usage if completion is not None else None
        self._recorder.llm_call(
            event_seq=seq,
            request_key=key,
            branch=self.branch_path,
            sample_index=index,
            request=req.canonical(),
            response=completion.model_dump(mode="json") if completion is not None else None,
            prompt_tokens=usage.prompt_tokens if usage is not None else None,
            completion_tokens=usage.completion_tokens if usage is not None else None,
            latency_ms=latency_ms,
            origin=completion.origin if completion is not None else "live",
            error=error,
            attempts=[a.model_dump() for a in attempts] or None,
        )

    async def sample(
        self,
        req: CompletionRequest,
        k: int,
        *,
        label: str = "llm",
        parent: int | None = None,
        sem: asyncio.Semaphore | None = None,
    ) -> list[str]:
        """`k` sampled texts of `req`, in a stable order: one `n=k` request where the backend can
        (`capabilities.n`), else `k` concurrent requests, each in its own branch (`s0`, `s1`, …).

        parent: the event the calls nest under (default: this context's); sem: limits how many
        of the requests run at once.
        """
        return [c.text for c in await sample_choices(self, req, k, label=label, parent=parent, sem=sem)]

    async def call_tool(self, name: str, args: Any, *, parent: int | None = None) -> ToolOutcome:
        """Call tool `name`; any failure becomes an outcome with an error message, never an exception.

        In a replayed run the recorded result is served and the tool is not called. A call
        cancelled while it runs (the run's timeout) is recorded as such before it is re-raised.
        """
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            missing = f"unknown tool {name!r}; available tools: {known}"
            return await self._recorded_call(name, args, None, parent=parent, missing=missing)
        return await self._recorded_call(name, args, lambda: run_tool(tool, name, args), parent=parent)

    async def _recorded_call(
        self,
        name: str,
        args: Any,
        run: Callable[[], Awaitable[tuple[str | None, str | None]]] | None,
        *,
        parent: int | None = None,
        missing: str = "",
    ) -> ToolOutcome:
        """Record one call of `name` with `args` as a tool call (served from the recording on replay).

        run: what makes the call, giving (result, None) or (None, why it failed); None: it cannot be
        made and `missing` says why. Tools and memory (`ctx.memory`) are recorded this one way.
        """
        state = self._state
        index = state.next_index(
            state.tool_counters,
            self.branch_path,
            f"{name}:{json.dumps(args, sort_keys=True, default=str)}",
        )
        replayed = self._tool_replay.get(name, args, self.branch_path, index) if self._tool_replay else None
        rec = self._recorder
        rec.flush()
        t0 = time.perf_counter()
        result: str | None = None
        error: str | None = None

        def record(duration: float) -> None:
            rec.tool_call(
                event_seq=self.parent if parent is None else parent,
                tool=name,
                args=args,
                branch=self.branch_path,
                sample_index=index,
                result=result,
                error=error,
                duration_ms=duration,
            )

        if replayed is not None:
            result, error = replayed.result, replayed.error
        elif run is None:
            error = missing
        else:
            try:
                result, error = await run()
            except asyncio.CancelledError:
                error = f"tool {name!r} was cancelled (the run stopped while it ran)"
                record((time.perf_counter() - t0) * 1000)
                raise
        duration = (time.perf_counter() - t0) * 1000 if replayed is None else (replayed.duration_ms or 0.0)
        record(duration)
        return ToolOutcome(result=result, error=error, duration_ms=duration)
