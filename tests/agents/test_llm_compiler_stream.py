"""LLMCompiler's streamed plan: each tool call starts as soon as its line and its inputs are there, while
the planner is still writing; what is recorded is the same whether the plan streamed or came whole."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import BaseModel

from ponder.agents.llm_compiler.agent import LLMCompiler
from ponder.backends.base import BaseBackend, TextSink
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import BackendError
from ponder.replay.compare import assert_same_events
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.tools.base import FunctionTool
from ponder.traces.store import TraceStore
from ponder.types import Completion, CompletionRequest, Task

QUESTION = Task(id="three", input="Which is highest, K2, Lhotse or Makalu?", expected="K2")
PLAN = 'Thought: one search each.\n1. slow("K2")\n2. slow("Lhotse")\n3. slow("Makalu")\nThought: now join.\n4. join()'
LINE = 0.1  # seconds between the plan's lines


class Arg(BaseModel):
    text: str


class Clock:
    """A tool `slow` that notes when each call starts and takes `took` seconds."""

    def __init__(self, took: float = 0.05) -> None:
        self.took = took
        self.started: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def tools(self) -> dict[str, Any]:
        async def slow(text: str) -> str:
            self.started[text] = time.perf_counter() - self.t0
            await asyncio.sleep(self.took)
            return f"{text}: 8,000 metres"

        return {"slow": FunctionTool(slow, name="slow", description="a slow search", args_model=Arg)}


def model(req: CompletionRequest) -> str:
    return PLAN if "create a plan" in req.messages[0].content else "Action: Finish(K2)"


async def _run(stream: bool, store: TraceStore, clock: Clock) -> Any:
    backend = ScriptedBackend(model, chunks="line", chunk_latency=LINE)
    return await run_agent(LLMCompiler(stream=stream), QUESTION, backend=backend, store=store, tools=clock.tools())


async def test_calls_start_while_the_plan_is_still_streaming() -> None:
    store = TraceStore(":memory:")
    clock = Clock()
    result = await _run(True, store, clock)
    assert result.answer == "K2"
    plan_ends = 6 * LINE  # six lines, one every LINE seconds
    first, last = clock.started["K2"], clock.started["Makalu"]
    assert first < plan_ends - 2 * LINE, f"the first call started at {first:.2f} s: with its line (the 2nd)"
    assert first < last < plan_ends, "each call started with its own line"

    waited = Clock()
    await _run(False, store, waited)
    assert min(waited.started.values()) >= plan_ends * 0.9, "stream=False waits for the whole plan"


async def test_the_recorded_run_does_not_depend_on_streaming_and_replays() -> None:
    store = TraceStore(":memory:")
    streamed = await _run(True, store, Clock())
    whole = await _run(False, store, Clock())
    assert_same_events(store, whole.run_id, store, streamed.run_id)
    report = await areplay(store, streamed.run_id, agent=LLMCompiler(), task=QUESTION, tools=Clock().tools())
    assert report.identical, report.render()


async def test_a_call_still_waits_for_the_input_it_names() -> None:
    plan = '1. slow("K2")\n2. slow("$1 and Lhotse")\n3. join()'
    clock = Clock(took=0.3)

    def fn(req: CompletionRequest) -> str:
        return plan if "create a plan" in req.messages[0].content else "Action: Finish(K2)"

    backend = ScriptedBackend(fn, chunks="line", chunk_latency=LINE)
    store = TraceStore(":memory:")
    result = await run_agent(LLMCompiler(), QUESTION, backend=backend, store=store, tools=clock.tools())
    assert result.answer == "K2"
    assert clock.started["K2: 8,000 metres and Lhotse"] >= clock.started["K2"] + 0.3
    assert {c.branch: c.args for c in store.tool_calls(result.run_id)}["r0t2"] == "K2: 8,000 metres and Lhotse"


class BreaksMidPlan(BaseBackend):
    """Streams two lines of a plan, then fails."""

    name, model, free = "breaks", "b", True

    async def complete(self, req: CompletionRequest) -> Completion:
        raise AssertionError("the planner streams")

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        on_text('1. slow("K2")\n')
        await asyncio.sleep(0.05)
        on_text('2. slow("Lhotse")\n')
        await asyncio.sleep(0.05)
        raise BackendError("the connection broke mid-plan")


async def test_a_plan_that_breaks_mid_stream_stops_the_calls_it_started() -> None:
    clock = Clock(took=5.0)
    store = TraceStore(":memory:")
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match="broke mid-plan"):
        await run_agent(LLMCompiler(), QUESTION, backend=BreaksMidPlan(), store=store, tools=clock.tools())
    assert time.perf_counter() - t0 < 2.0, "the 5 s calls were cancelled, not waited for"
    (run,) = store.list_runs()
    assert run.status == "error" and "broke mid-plan" in (run.error or "")
    assert sorted(clock.started) == ["K2", "Lhotse"]
    calls = store.tool_calls(run.id)
    assert len(calls) == 2 and all("cancelled" in (c.error or "") for c in calls)
