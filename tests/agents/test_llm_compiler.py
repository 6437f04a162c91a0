"""LLMCompiler with ScriptedBackend: plans parsed line by line, calls started when their inputs exist,
$N substitution, bad lines as failed tasks the joiner sees, replans, replay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from ponder import registry
from ponder.agents.llm_compiler.agent import LLMCompiler
from ponder.agents.llm_compiler.plan import PlanStream, parse_decision
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.qa import ParallelQAEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.tools.base import FunctionTool
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

QUESTION = Task(id="k2", input="Which is higher, K2 or Kangchenjunga?", expected="K2")


def brain(plans: list[str], joins: list[str]) -> Callable[[CompletionRequest], str]:
    """A scripted model: the planner's replies in turn, the joiner's replies in turn."""
    p, j = list(plans), list(joins)

    def fn(req: CompletionRequest) -> str:
        if "create a plan" in req.messages[0].content:
            return p.pop(0)
        return j.pop(0)

    return fn


def test_plan_stream_gives_tasks_as_lines_complete() -> None:
    s = PlanStream()
    (one,) = s.feed('Thought: two searches\n1. search("K2")\n2. sea')
    assert (one.idx, one.thought) == (1, "two searches")
    first = s.feed('rch("Lhotse")\n')
    assert [(t.idx, t.tool, t.args, t.thought) for t in first] == [(2, "search", "Lhotse", None)]
    third = s.feed('3. calculator("$1 + ${2}")\n4. join()\n5. search("ignored")')
    assert [(t.idx, t.deps) for t in third] == [(3, [1, 2])]
    assert s.close() == [] and s.joined


def test_plan_stream_thought_and_first_line() -> None:
    s = PlanStream()
    tasks = s.feed('Thought: look up K2\n1. search("K2")\n') + s.close()
    assert [(t.idx, t.thought) for t in tasks] == [(1, "look up K2")]
    assert not s.joined


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("1. search(K2 height)", "not literals"),
        ("1. search the web for K2", "is not a call"),
        ('1. calculator("$4 + 1")', "$4 names no earlier task"),
    ],
)
def test_an_unreadable_line_is_a_failed_task(line: str, why: str) -> None:
    (t,) = PlanStream().feed(line + "\n")
    assert t.status == "failed" and why in (t.error or "")


@pytest.mark.parametrize(
    ("text", "kind", "answer"),
    [
        ("Thought: K2 is higher.\nAction: Finish(K2)", "finish", "K2"),
        ('Action: Finish("Mount Everest")', "finish", "Mount Everest"),
        ("Thought: missing Lhotse.\nAction: Replan(no height for Lhotse)", "replan", None),
        ("It is K2.", "invalid", None),
        ("Action: Finish()", "invalid", None),
        ("Action: Finish(8,611 + 8,516 = 17,127)", "finish", "17127"),
        ("Action: Finish(<the answer, as short as possible>)", "invalid", None),
    ],
)
def test_parse_decision(text: str, kind: str, answer: str | None) -> None:
    d = parse_decision(text)
    assert (d.kind, d.answer) == (kind, answer)


async def _run(agent: LLMCompiler, fn: Any, store: TraceStore, **kw: Any) -> Any:
    return await run_agent(agent, QUESTION, backend=ScriptedBackend(fn), store=store, env=ParallelQAEnv(), **kw)


async def test_independent_calls_run_at_once_and_join_finishes(store: TraceStore) -> None:
    plan = '1. search("K2")\n2. search("Kangchenjunga")\n3. join()'
    seen: list[str] = []
    replies = [plan, "Thought: 8,611 > 8,586.\nAction: Finish(K2)"]

    def fn(req: CompletionRequest) -> str:
        seen.append(req.messages[-1].content)
        return replies[len(seen) - 1]

    result = await _run(LLMCompiler(), fn, store)
    assert result.answer == "K2" and result.correct is True
    assert len(seen) == 2  # one plan, one join: the searches are tool calls
    joined = seen[1]
    assert "8,611 metres" in joined and "8,586 metres" in joined
    calls = store.tool_calls(result.run_id)
    assert sorted(c.branch for c in calls) == ["r0t1", "r0t2"]
    kinds = [e.kind for e in store.iter_events(result.run_id)]
    assert kinds.count("compiler_task") == 2 and kinds.count("compiler_join") == 1


async def test_a_call_waits_for_its_inputs_and_gets_their_results(store: TraceStore) -> None:
    plan = '1. calculator("8611")\n2. calculator("8516")\n3. calculator("$1 + $2")\n4. join()'
    result = await _run(LLMCompiler(), brain([plan], ["Action: Finish(17127)"]), store)
    assert result.answer == "17127"
    by_branch = {c.branch: (c.args, c.result) for c in store.tool_calls(result.run_id)}
    assert by_branch["r0t3"] == ("8611 + 8516", "17127")


async def test_calls_really_overlap() -> None:
    started: list[str] = []
    gate = asyncio.Event()

    class Arg(BaseModel):
        text: str

    async def slow(text: str) -> str:
        started.append(text)
        if len(started) == 2:
            gate.set()
        await asyncio.wait_for(gate.wait(), 5)  # both calls must be in flight at once
        return f"got {text}"

    plan = '1. slow("a")\n2. slow("b")\n3. join()'
    agent = LLMCompiler()
    result = await run_agent(
        agent,
        QUESTION,
        backend=ScriptedBackend(brain([plan], ["Action: Finish(K2)"])),
        tools={"slow": FunctionTool(slow, name="slow", description="waits for its partner", args_model=Arg)},
    )
    assert result.answer == "K2" and sorted(started) == ["a", "b"]


async def test_a_bad_line_is_recorded_and_the_joiner_sees_it(store: TraceStore) -> None:
    plan = '1. search("K2")\n2. search Kangchenjunga please\n3. join()'
    prompts: list[str] = []

    replies = [plan, "Action: Replan(no Kangchenjunga)", '3. search("Kangchenjunga")\n4. join()', "Action: Finish(K2)"]

    def fn(req: CompletionRequest) -> str:
        prompts.append(req.messages[-1].content)
        return replies[len(prompts) - 1]

    result = await _run(LLMCompiler(max_replans=1), fn, store)
    assert result.answer == "K2" and result.metadata["replans"] == 1
    assert "(failed: line '2. search Kangchenjunga please' is not a call" in prompts[1]
    assert "number its actions from 3" in prompts[2]
    assert sorted(c.branch for c in store.tool_calls(result.run_id)) == ["r0t1", "r1t3"]


async def test_max_replans_holds_and_failure_is_one_reason(store: TraceStore) -> None:
    fn = brain(['1. search("K2")\n2. join()'] * 2, ["Action: Replan(more)", "no idea"])
    result = await _run(LLMCompiler(max_replans=1), fn, store)
    assert result.answer is None and result.status == "error"
    assert "max_replans=1" in (result.error or "")


async def test_an_unknown_tool_and_a_failed_input_are_task_errors(store: TraceStore) -> None:
    plan = '1. frobnicate("x")\n2. calculator("$1 * 2")\n3. join()'
    prompts: list[str] = []

    def fn(req: CompletionRequest) -> str:
        prompts.append(req.messages[-1].content)
        return plan if len(prompts) == 1 else "Action: Finish(unknown)"

    result = await _run(LLMCompiler(), fn, store)
    assert result.answer == "unknown"
    assert "unknown tool 'frobnicate'" in prompts[1] and "input $1 failed" in prompts[1]


async def test_replay_is_identical(store: TraceStore) -> None:
    plan = '1. search("K2")\n2. search("Kangchenjunga")\n3. search("Lhotse")\n4. calculator("$1")\n5. join()'
    agent = LLMCompiler()
    result = await _run(agent, brain([plan], ["Action: Finish(K2)"]), store)
    report = await areplay(store, result.run_id, agent=agent, task=QUESTION, env=ParallelQAEnv())
    assert report.identical, report.render()


def test_settings_are_validated() -> None:
    assert isinstance(registry.build("agents", "llm_compiler", {"max_replans": 0, "parallel": 2}), LLMCompiler)
    with pytest.raises(ConfigError, match="has no option 'replans'"):
        registry.build("agents", "llm_compiler", {"replans": 2})
    with pytest.raises(ConfigError, match="max_replans"):
        registry.build("agents", "llm_compiler", {"max_replans": -1})


def test_parallel_qa_env_ships_its_pages() -> None:
    env = ParallelQAEnv()
    tasks = list(env.tasks())
    assert len(tasks) == 6 and not env.bad_lines
    assert env.evaluate(tasks[0], "K2").correct
    assert re.search(r"parallel_qa_corpus\.jsonl$", env.corpus_path)
