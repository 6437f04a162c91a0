"""The agent contract: `solve(task, ctx)` is what the runner calls, and `RunContext`'s verbs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest

from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.runtime.context import Agent, RunContext
from ponder.runtime.runner import run_agent
from ponder.traces.event_data import EventData
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, Result, Task

AGENTS_DIR = Path(__file__).resolve().parents[2] / "ponder" / "agents"


class PlainAgent:
    """Not a BaseAgent: only what the protocol asks for."""

    name: ClassVar[str] = "plain"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        seq = ctx.event("step", "one", status="running")
        c = await ctx.within(seq).complete(CompletionRequest(messages=(Message.user(task.input),)), label="ask")
        ctx.update(seq, status="ok", summary=c.text)
        return Result(answer=c.text)


async def test_an_object_with_solve_is_an_agent_and_runs(store: TraceStore) -> None:
    agent = PlainAgent()
    assert isinstance(agent, Agent)
    result = await run_agent(agent, "say 4", backend=ScriptedBackend(["4"]), store=store)
    assert result.answer == "4" and result.calls == 1
    events = list(store.iter_events(result.run_id))
    step = next(e for e in events if e.kind == "step")
    assert (step.status, step.summary) == ("ok", "4")  # updated through ctx.update
    assert next(e for e in events if e.kind == "llm_call").parent_seq == step.seq  # nested by ctx.within


class Parent:
    """Runs a child, then reads the child's events and its own; tries to read a stranger's."""

    name: ClassVar[str] = "parent"
    stranger: ClassVar[str] = ""

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        child = await ctx.run_child(PlainAgent(), task, "trial1")
        kinds = [e.kind for e in ctx.events(child.run_id)]
        own = [e.kind for e in ctx.events()]
        assert child.run_id is not None
        with pytest.raises(ConfigError, match="not this run"):
            list(ctx.events(self.stranger))
        return Result(answer=",".join(kinds) + "|" + ",".join(own))


async def test_events_reads_own_and_child_runs_only(store: TraceStore) -> None:
    other = await run_agent(PlainAgent(), "x", backend=ScriptedBackend(["x"]), store=store)
    Parent.stranger = other.run_id or ""
    result = await run_agent(Parent(), "q", backend=ScriptedBackend(["7"]), store=store)
    child_kinds, own_kinds = (result.answer or "").split("|")
    assert child_kinds.split(",") == ["step", "llm_call", "answer"]
    assert own_kinds == ""  # the parent wrote nothing before reading (its answer comes after)
    assert store.get_run(result.run_id or "").status == "ok"


def test_branch_and_within_say_which_is_which(store: TraceStore) -> None:
    from ponder.traces.recorder import Recorder

    ctx = RunContext(backend=ScriptedBackend([]), recorder=Recorder.start(store, agent="t"))
    b = ctx.branch(2, parent=5).branch("s0")
    assert (b.branch_path, b.parent) == ("2.s0", 5)
    w = b.within(9)
    assert (w.branch_path, w.parent, w.rng) == ("2.s0", 9, b.rng)  # same branch, same RNG stream
    assert ctx.branch(1).rng is not ctx.branch(1).rng


def test_resource_is_a_file_beside_the_trace(tmp_path: Path) -> None:
    from ponder.traces.recorder import Recorder

    store = TraceStore(tmp_path / "t.db")
    ctx = RunContext(backend=ScriptedBackend([]), recorder=Recorder.start(store, agent="t"))
    assert ctx.resource("corpus.db") is None
    (tmp_path / "corpus.db").write_bytes(b"")
    assert ctx.resource("corpus.db") == tmp_path / "corpus.db"
    mem = RunContext(backend=ScriptedBackend([]), recorder=Recorder.start(TraceStore(":memory:"), agent="t"))
    assert mem.resource("corpus.db") is None
    store.close()


def test_no_agent_reaches_past_the_context() -> None:
    """Strategies write and read through RunContext only: no recorder, no store, no SQL."""
    offenders = []
    for path in sorted(AGENTS_DIR.rglob("*.py")):
        if path.name in ("context.py", "runner.py"):
            continue
        text = path.read_text()
        for pattern in (r"\.recorder\.", r"\bctx\.store\b", r"\bTraceStore\b", r"\bselect \w", r"\binsert into\b"):
            if re.search(pattern, text):
                offenders.append(f"{path.name}: {pattern}")
    assert offenders == []


class Sampler:
    """Draws three samples of one request through `ctx.sample`."""

    name: ClassVar[str] = "sampler"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        texts = await ctx.sample(CompletionRequest(messages=(Message.user(task.input),)), 3, label="draw")
        return Result(answer=",".join(texts))


async def test_sample_draws_k_texts_in_one_n_request_or_k_branches(store: TraceStore) -> None:
    one = await run_agent(Sampler(), "pick", backend=ScriptedBackend(["a", "b", "c"]), store=store)
    assert one.answer == "a,b,c" and one.calls == 1  # the backend takes n=3
    backend = ScriptedBackend(["a", "b", "c"], supports_n=False)
    each = await run_agent(Sampler(), "pick", backend=backend, store=store)
    assert sorted(each.answer.split(",")) == ["a", "b", "c"] and each.calls == 3
    calls = [e for e in store.iter_events(each.run_id) if e.kind == "llm_call"]
    assert sorted(e.branch for e in calls) == ["s0", "s1", "s2"] and {e.label for e in calls} == {"draw"}


class Noting:
    """Reads its task's notes, then writes one, through `ctx.memory`."""

    name: ClassVar[str] = "noting"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        notes = await ctx.memory.recent(task.id, 5)
        await ctx.memory.add(task.id, f"note {len(notes)}", score=0.5)
        return Result(answer=str(len(notes)))


async def test_memory_reads_and_writes_are_recorded_as_tool_calls(store: TraceStore) -> None:
    from ponder.runtime.memory import MEMORY_CALL

    task = Task(id="t-mem", input="remember")
    first = await run_agent(Noting(), task, backend=ScriptedBackend([]), store=store)
    second = await run_agent(Noting(), task, backend=ScriptedBackend([]), store=store)
    assert (first.answer, second.answer) == ("0", "1")
    calls = store.tool_calls(second.run_id)
    assert [(c.tool, c.args["op"]) for c in calls] == [(MEMORY_CALL, "read"), (MEMORY_CALL, "write")]
    assert "note 0" in (calls[0].result or "")  # what the read saw is in the recording
    assert calls[1].args == {"op": "write", "namespace": "t-mem", "content": "note 1", "score": 0.5}
    assert [m.content for m in store.recent_memory("t-mem", 5)] == ["note 0", "note 1"]


class _StepData(EventData, kind="test_ctx_step", tag="step", shows_score=True, describe=lambda d: f"#{d.index}"):
    """A typed kind declared in its class statement."""

    index: int
    note: str | None = None


class _Untyped(EventData):
    """Data with no kind of its own."""

    x: int = 0


class Emitting:
    """Writes its steps with `ctx.emit`."""

    name: ClassVar[str] = "emitting"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        seq = ctx.emit(_StepData(index=1), "step 1", "first", status="running")
        ctx.update(seq, status="ok", data=_StepData(index=1, note="done"))
        ctx.emit(_StepData(index=2), "step 2", score=0.5)
        with pytest.raises(ConfigError, match="_Untyped declares no event kind"):
            ctx.emit(_Untyped())
        return Result(answer="ok")


async def test_emit_writes_typed_data_under_the_kind_its_class_declares(store: TraceStore) -> None:
    from ponder.traces.kinds import kind_spec

    assert _StepData.kind == "test_ctx_step" and kind_spec("test_ctx_step").data is _StepData
    assert kind_spec("test_ctx_step").detail({"index": 3}) == "#3"
    result = await run_agent(Emitting(), "go", backend=ScriptedBackend([]), store=store, evaluator=None)
    steps = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "test_ctx_step"]
    assert [(e.label, e.status, e.data) for e in steps] == [
        ("step 1", "ok", {"index": 1, "note": "done"}),
        ("step 2", "ok", {"index": 2}),  # None fields are left out
    ]
