"""The `Agent` protocol, the `RunContext` every agent works through, and `run_agent`."""

from __future__ import annotations

import asyncio
import json
import random
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.base import Backend, CallSite, current_call_site
from ponder.errors import BudgetExceeded, PonderError, ToolError
from ponder.pricing import cost_usd
from ponder.tools.base import Tool
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.types import Completion, CompletionRequest, Result, Task, Usage


class Budget(BaseModel):
    """Limits on one run (shared by its branches and child runs); None means unlimited."""

    max_calls: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


@dataclass
class _Shared:
    """State shared by every context of one top-level run: budget counters and sample indexes."""

    budget: Budget
    started: float = field(default_factory=time.monotonic)
    calls: int = 0
    tokens: int = 0
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    tool_counters: dict[tuple[str, str], int] = field(default_factory=dict)

    def next_index(self, table: dict[tuple[str, str], int], branch: str, key: str) -> int:
        i = table.get((branch, key), 0)
        table[(branch, key)] = i + 1
        return i


class ToolReplay:
    """Serves recorded tool results so that a replayed run repeats no side effect."""

    def __init__(self, records: list[Any]) -> None:
        self._by_site: dict[tuple[str, str, str, int], Any] = {}
        for r in records:
            args = json.dumps(r.args, sort_keys=True, ensure_ascii=False)
            self._by_site[(r.tool, args, r.branch, r.sample_index)] = r

    def get(self, tool: str, args: Any, branch: str, index: int) -> Any | None:
        return self._by_site.get((tool, json.dumps(args, sort_keys=True, ensure_ascii=False), branch, index))


class ToolOutcome(BaseModel):
    """What a tool call gave: its text, or the error an agent shows as an observation."""

    model_config = ConfigDict(frozen=True)

    result: str | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def observation(self) -> str:
        return self.result or "" if self.error is None else f"Error: {self.error}"


class RunContext:
    """What an agent works through: backend, tools, recorder, budget, seeded RNG and its branch.

    Every backend call goes through `complete`, every tool call through `call_tool`, every
    step through `event`: so everything is recorded, budgets hold, and replay can serve it.
    """

    def __init__(
        self,
        *,
        backend: Backend,
        recorder: Recorder,
        tools: dict[str, Tool] | None = None,
        budget: Budget | None = None,
        seed: int = 0,
        branch: str = "",
        parent: int | None = None,
        tool_replay: ToolReplay | None = None,
        _shared: _Shared | None = None,
    ) -> None:
        self.backend = backend
        self.recorder = recorder
        self.tools: dict[str, Tool] = dict(tools or {})
        self.seed = seed
        self.branch = branch
        self.parent = parent
        self.tool_replay = tool_replay
        self._shared = _shared or _Shared(budget=budget or Budget())
        self.rng = random.Random(f"{seed}:{branch}")

    @property
    def store(self) -> TraceStore:
        return self.recorder.store

    @property
    def run_id(self) -> str:
        return self.recorder.run_id

    @property
    def budget(self) -> Budget:
        return self._shared.budget

    # -- structure -------------------------------------------------------------------

    def child(self, name: str | int, *, parent: int | None = None) -> RunContext:
        """A context for a concurrent branch of this run: its own branch path, events under `parent`."""
        branch = f"{self.branch}.{name}" if self.branch else str(name)
        return RunContext(
            backend=self.backend,
            recorder=self.recorder,
            tools=self.tools,
            seed=self.seed,
            branch=branch,
            parent=self.parent if parent is None else parent,
            tool_replay=self.tool_replay,
            _shared=self._shared,
        )

    def under(self, parent: int | None) -> RunContext:
        """The same branch, with new events nested under `parent`."""
        ctx = RunContext(
            backend=self.backend,
            recorder=self.recorder,
            tools=self.tools,
            seed=self.seed,
            branch=self.branch,
            parent=parent,
            tool_replay=self.tool_replay,
            _shared=self._shared,
        )
        ctx.rng = self.rng
        return ctx

    def event(
        self,
        kind: str,
        label: str = "",
        summary: str | None = None,
        *,
        parent: int | EllipsisType | None = ...,
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Record one step; nested under this context's parent unless `parent` is given."""
        return self.recorder.event(
            kind,
            label,
            summary,
            parent=self.parent if isinstance(parent, EllipsisType) else parent,
            branch=self.branch,
            status=status,
            score=score,
            data=data,
        )

    async def child_run(
        self,
        agent: Agent,
        task: Task,
        name: str,
        *,
        tools: dict[str, Tool] | None = None,
    ) -> Result:
        """Run `agent` as a child run of this one (a Reflexion trial, say), sharing the budget."""
        branch = f"{self.branch}/{name}" if self.branch else name
        rec = Recorder.start(
            self.store,
            agent=getattr(agent, "name", type(agent).__name__),
            config=_config_of(agent),
            task=task.model_dump(mode="json"),
            seed=self.seed,
            backend=self.backend.name,
            model=self.backend.model,
            parent_id=self.run_id,
            branch=branch,
        )
        ctx = RunContext(
            backend=self.backend,
            recorder=rec,
            tools=self.tools if tools is None else tools,
            seed=self.seed,
            branch=branch,
            tool_replay=self.tool_replay,
            _shared=self._shared,
        )
        return await _drive(agent, task, ctx, evaluator=None)

    # -- calls -----------------------------------------------------------------------

    def _check_budget(self) -> None:
        b, s = self._shared.budget, self._shared
        if b.max_calls is not None and s.calls >= b.max_calls:
            raise BudgetExceeded(f"the run used its {b.max_calls} calls (raise it with --max-calls)")
        if b.max_tokens is not None and s.tokens >= b.max_tokens:
            raise BudgetExceeded(f"the run used its {b.max_tokens} tokens (raise it with --max-tokens)")
        if b.timeout_s is not None and time.monotonic() - s.started > b.timeout_s:
            raise BudgetExceeded(f"the run passed its {b.timeout_s} s wall timeout")

    async def complete(self, req: CompletionRequest, *, label: str = "llm", parent: int | None = None) -> Completion:
        """Call the backend with `req`, recording the call as an `llm_call` event and an `llm_calls` row."""
        self._check_budget()
        key = req.key()
        index = self._shared.next_index(self._shared.counters, self.branch, key)
        self._shared.calls += 1
        last = req.messages[-1].content if req.messages else ""
        seq = self.event(
            "llm_call",
            label,
            last,
            parent=self.parent if parent is None else parent,
            status="running",
            data={"request_key": key},
        )
        self.recorder.flush()
        token = current_call_site.set(CallSite(branch=self.branch, sample_index=index))
        t0 = time.perf_counter()
        try:
            completion = await self.backend.complete(req)
        except BaseException as e:
            msg = str(e) or type(e).__name__
            self.recorder.llm_call(
                event_seq=seq,
                request_key=key,
                branch=self.branch,
                sample_index=index,
                request=req.canonical(),
                response=None,
                prompt_tokens=None,
                completion_tokens=None,
                latency_ms=(time.perf_counter() - t0) * 1000,
                origin="live",
                error=msg,
            )
            cancelled = isinstance(e, asyncio.CancelledError)
            self.recorder.update(seq, status="cancelled" if cancelled else "error", summary=msg)
            self.recorder.add_usage(0, 0, 1, None)
            raise
        finally:
            current_call_site.reset(token)
        latency = completion.latency_ms or (time.perf_counter() - t0) * 1000
        u = completion.usage
        self._shared.tokens += u.total_tokens
        cost = cost_usd(self.backend.name, completion.model or self.backend.model, u)
        self.recorder.llm_call(
            event_seq=seq,
            request_key=key,
            branch=self.branch,
            sample_index=index,
            request=req.canonical(),
            response=completion.model_dump(mode="json"),
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            latency_ms=latency,
            origin=completion.origin,
        )
        self.recorder.update(
            seq,
            status="ok",
            summary=completion.text or _tool_calls_summary(completion),
            data={
                "request_key": key,
                "latency_ms": round(latency, 3),
                "n": len(completion.choices),
            },
        )
        self.recorder.add_usage(u.prompt_tokens, u.completion_tokens, 1, cost)
        return completion

    async def call_tool(self, name: str, args: Any, *, parent: int | None = None) -> ToolOutcome:
        """Call tool `name`; any failure becomes an outcome with an error message, never an exception.

        In a replayed run the recorded result is served and the tool is not called.
        """
        tool = self.tools.get(name)
        known = ", ".join(sorted(self.tools)) or "none"
        index = self._shared.next_index(
            self._shared.tool_counters,
            self.branch,
            f"{name}:{json.dumps(args, sort_keys=True, default=str)}",
        )
        replayed = self.tool_replay.get(name, args, self.branch, index) if self.tool_replay else None
        self.recorder.flush()
        t0 = time.perf_counter()
        result: str | None = None
        error: str | None = None
        if replayed is not None:
            result, error = replayed.result, replayed.error
        elif tool is None:
            error = f"unknown tool {name!r}; available tools: {known}"
        else:
            try:
                timeout = getattr(tool, "timeout", None)
                out = await asyncio.wait_for(tool.acall(args), timeout)
                if not isinstance(out, str):
                    error = f"tool {name!r} returned {type(out).__name__}, not text"
                else:
                    result = out
            except TimeoutError:
                error = f"tool {name!r} timed out after {getattr(tool, 'timeout', None)} s"
            except ToolError as e:
                error = str(e)
            except PonderError as e:
                error = str(e)
            except Exception as e:  # a user's tool raising anything is an observation, not a crash
                error = f"tool {name!r} raised {type(e).__name__}: {e}"
        duration = (time.perf_counter() - t0) * 1000 if replayed is None else (replayed.duration_ms or 0.0)
        self.recorder.tool_call(
            event_seq=self.parent if parent is None else parent,
            tool=name,
            args=args,
            branch=self.branch,
            sample_index=index,
            result=result,
            error=error,
            duration_ms=duration,
        )
        return ToolOutcome(result=result, error=error, duration_ms=duration)


def _tool_calls_summary(c: Completion) -> str:
    calls = c.choices[0].tool_calls if c.choices else None
    return "; ".join(f"{t.name}({t.arguments})" for t in calls or ())


def _config_of(agent: Any) -> dict[str, Any]:
    if isinstance(agent, BaseModel):
        return agent.model_dump(mode="json")
    return {}


@runtime_checkable
class Agent(Protocol):
    """A reasoning strategy: `arun(task, ctx)` works through `ctx` and returns a `Result`."""

    name: ClassVar[str]

    async def arun(self, task: Task, ctx: RunContext) -> Result: ...


Evaluator = Callable[[Task, str | None], "tuple[bool | None, float | None]"]


def exact_match(task: Task, answer: str | None) -> tuple[bool | None, float | None]:
    """Correct when the normalized answer equals the normalized expected answer (None if none is known)."""
    from ponder.parsing import normalize_answer

    if task.expected is None:
        return None, None
    ok = answer is not None and normalize_answer(answer) == normalize_answer(task.expected)
    return ok, 1.0 if ok else 0.0


async def _drive(agent: Any, task: Task, ctx: RunContext, evaluator: Evaluator | None) -> Result:
    """Run `agent.solve` inside an open run, record the answer and close the run row."""
    rec = ctx.recorder
    try:
        result: Result = await agent.solve(task, ctx)
    except asyncio.CancelledError:
        rec.event("error", "cancelled", "the run was cancelled", branch=ctx.branch, status="error")
        rec.finish(status="cancelled", error="cancelled")
        raise
    except PonderError as e:
        rec.event("error", type(e).__name__, str(e), branch=ctx.branch, status="error")
        rec.finish(status="error", error=str(e))
        raise
    except Exception as e:
        rec.event("error", type(e).__name__, f"{type(e).__name__}: {e}", branch=ctx.branch, status="error")
        rec.finish(status="error", error=f"{type(e).__name__}: {e}")
        raise
    if result.correct is None and evaluator is not None:
        correct, score = evaluator(task, result.answer)
        result = result.model_copy(update={"correct": correct, "score": result.score if score is None else score})
    rec.event(
        "answer",
        "answer",
        result.answer if result.answer is not None else "(no answer)",
        branch=ctx.branch,
        status="ok" if result.answer is not None else "error",
        score=result.score,
        data={"answer": result.answer, "correct": result.correct},
    )
    rec.finish(status=result.status, answer=result.answer, correct=result.correct, score=result.score)
    run = ctx.store.get_run(rec.run_id)
    return result.model_copy(
        update={
            "run_id": rec.run_id,
            "usage": Usage(prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens),
            "calls": run.calls,
            "cost_usd": run.cost_usd,
        }
    )


async def run_agent(
    agent: Any,
    task: Task | str,
    *,
    backend: Backend,
    store: TraceStore | None = None,
    tools: dict[str, Tool] | None = None,
    seed: int = 0,
    budget: Budget | None = None,
    experiment_id: str | None = None,
    evaluator: Evaluator | None = exact_match,
    tool_replay: ToolReplay | None = None,
    run_id: str | None = None,
) -> Result:
    """Run `agent` on `task` as a new top-level run recorded in `store` (in memory if None)."""
    if isinstance(task, str):
        if not task.strip():
            from ponder.errors import ConfigError

            raise ConfigError("the question is empty; give the agent something to think about")
        task = Task.from_question(task)
    store = store if store is not None else TraceStore(":memory:")
    rec = Recorder.start(
        store,
        agent=getattr(agent, "name", type(agent).__name__),
        config=_config_of(agent),
        task=task.model_dump(mode="json"),
        seed=seed,
        backend=backend.name,
        model=backend.model,
        experiment_id=experiment_id,
        run_id=run_id,
        budget=None if budget is None else budget.model_dump(mode="json", exclude_none=True) or None,
    )
    ctx = RunContext(
        backend=backend,
        recorder=rec,
        tools=tools,
        budget=budget,
        seed=seed,
        tool_replay=tool_replay,
    )
    try:
        return await _drive(agent, task, ctx, evaluator)
    finally:
        store.optimize()


class BaseAgent(BaseModel):
    """Base of the built-in strategies: a pydantic config plus `solve(task, ctx)`.

    `arun(task, ctx)` runs inside an existing run (composition); `arun(task, backend=...)`
    starts a new recorded run. `run(...)` is the sync wrapper.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    name: ClassVar[str] = "agent"

    @abstractmethod
    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """The strategy itself: work on `task` through `ctx` and return the result."""

    async def arun(self, task: Task | str, ctx: RunContext | None = None, **kw: Any) -> Result:
        if ctx is not None:
            t = task if isinstance(task, Task) else Task.from_question(task)
            return await self.solve(t, ctx)
        if "backend" not in kw:
            from ponder.config import resolve_backend

            kw["backend"] = resolve_backend()
        return await run_agent(self, task, **kw)

    def run(self, task: Task | str, **kw: Any) -> Result:
        """Sync wrapper of `arun` for scripts and notebooks without an event loop."""
        return asyncio.run(self.arun(task, **kw))
