"""LLMCompiler against ReAct on the `parallel_qa` questions, through the openai backend against a local
OpenAI-compatible server that starts every answer after `--latency` seconds (default 200 ms) and
writes it at `--token-latency` seconds a word (default 20 ms), streaming it when asked; every tool
call takes `--tool-latency` seconds more (default 200 ms, a remote search's round trip).

Both agents get the same scripted model, which reads what the tools returned: ReAct searches one
entity per step and finishes once it has them all; LLMCompiler's planner writes one search per
entity, then (as the ParallelQA plans of SqueezeAILab/LLMCompiler do) "Thought: I can answer the
question now." and `join()`, and its joiner answers from the results. Both answer by comparing (or
adding) the facts the searches found, so a wrong search shows as a wrong answer. LLMCompiler runs
twice: its plan waited for whole (`stream=False`), and streamed (`stream=True`: each search starts
as its line arrives). Prints JSON: per run the wall time of all the questions one after another,
model calls, tokens (the server counts the words of each request and reply), tool calls and
accuracy; then the speed-ups.

    python benchmarks/llm_compiler_vs_react.py [--latency 0.2] [--token-latency 0.02] [--tool-latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

from ponder.agents.llm_compiler.agent import LLMCompiler
from ponder.agents.react import ReAct
from ponder.envs.qa import ParallelQAEnv
from ponder.runtime.runner import run_agent
from ponder.tools.base import Tool
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, Task, ToolSpec

_FACT = re.compile(r"(?:elevation|length|diameter) is (?:about )?([\d,]+)")


def _rows() -> list[dict[str, Any]]:
    from ponder.envs._data import example_file, read_jsonl

    rows, _ = read_jsonl(example_file("parallel_qa.jsonl"))
    return rows


def _answer(row: dict[str, Any], facts: list[int]) -> str:
    """What the scripted model concludes from the facts found, one per entity in order."""
    q = row["question"].lower()
    if "combined" in q:
        return str(sum(facts))
    pick = min if "shortest" in q else max
    return str(row["entities"][facts.index(pick(facts))]).replace(" (planet)", "")


def _facts(text: str) -> list[int]:
    return [int(m.replace(",", "")) for m in _FACT.findall(text)]


def responder(req: CompletionRequest) -> str:
    """The scripted model for both agents (module level: the server process imports it)."""
    system = req.messages[0].content if req.messages else ""
    text = "\n".join(m.content for m in req.messages)
    row = next((r for r in _rows() if r["question"] in text), None)
    if row is None:  # the warm-up call
        return "ok"
    entities = [str(e) for e in row["entities"]]
    if "create a plan" in system:  # LLMCompiler's planner: one search per entity, then join
        lines = [f'{i}. search("{e}")' for i, e in enumerate(entities, start=1)]
        return "\n".join([*lines, "Thought: I can answer the question now.", f"{len(lines) + 1}. join()"])
    if "Actions and results" in text:  # LLMCompiler's joiner
        return f"Thought: compare the facts found.\nAction: Finish({_answer(row, _facts(text))})"
    # ReAct: one search per step, finish once every entity is observed
    observed = [m.content for m in req.messages if m.role == "user" and m.content.startswith("Observation:")]
    if len(observed) < len(entities):
        e = entities[len(observed)]
        return f"Thought: I need the page of {e}.\nAction: search[{e}]"
    return f"Thought: I have every fact.\nAction: finish[{_answer(row, _facts(chr(10).join(observed)))}]"


class _SlowTool:
    """A tool that answers `delay` seconds later than the one it wraps."""

    def __init__(self, inner: Tool, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.name, self.description = inner.name, inner.description

    def spec(self) -> ToolSpec:
        return self.inner.spec()

    async def acall(self, args: Any) -> str:
        await asyncio.sleep(self.delay)
        return await self.inner.acall(args)

    def fork(self, memo: dict[int, Any]) -> _SlowTool:  # search keeps a page per run: fork what it wraps
        fork = getattr(self.inner, "fork", None)
        return _SlowTool(fork(memo) if callable(fork) else self.inner, self.delay)


class SlowToolsQA(ParallelQAEnv):
    """`parallel_qa` whose tools each take `delay` seconds more."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def tools(self, task: Task) -> dict[str, Tool] | None:
        tools = super().tools(task) or {}
        return {name: _SlowTool(tool, self.delay) for name, tool in tools.items()}


async def measure(name: str, agent: Any, base_url: str, tool_latency: float) -> dict[str, Any]:
    from ponder.backends.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend(base_url=base_url, model="fake")
    await backend.complete(CompletionRequest(messages=(Message.user("warm up"),)))  # the first connection
    env = SlowToolsQA(tool_latency)
    store = TraceStore(":memory:")
    correct = calls = tokens = tools = 0
    tasks = list(env.tasks())
    t0 = time.perf_counter()
    for task in tasks:
        r = await run_agent(agent, task, backend=backend, store=store, env=env)
        correct += bool(env.evaluate(task, r.answer).correct)
        rows = store.llm_calls(r.run_id)
        calls += len(rows)
        tokens += sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in rows)
        tools += len(store.tool_calls(r.run_id))
    wall = time.perf_counter() - t0
    await backend.aclose()
    return {
        "agent": name,
        "tasks": len(tasks),
        "correct": correct,
        "wall_s": round(wall, 3),
        "llm_calls": calls,
        "tokens": tokens,
        "tool_calls": tools,
    }


async def main() -> None:
    from _fake_openai import FakeOpenAIServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds before an answer's first word")
    ap.add_argument("--token-latency", type=float, default=0.02, help="seconds to write each word")
    ap.add_argument("--tool-latency", type=float, default=0.2, help="seconds each tool call takes more")
    args = ap.parse_args()
    react = ReAct(mode="text", examples="")  # the env gives both agents search and calculator over its pages
    server = FakeOpenAIServer(responder, latency=args.latency, count_words=True, token_latency=args.token_latency)
    with server:
        r = await measure("react", react, server.base_url, args.tool_latency)
        w = await measure(
            "llm_compiler (plan waited for)", LLMCompiler(stream=False), server.base_url, args.tool_latency
        )
        c = await measure("llm_compiler (plan streamed)", LLMCompiler(stream=True), server.base_url, args.tool_latency)
    out = {
        "latency_s": args.latency,
        "token_latency_s": args.token_latency,
        "tool_latency_s": args.tool_latency,
        "react": r,
        "llm_compiler_waited": w,
        "llm_compiler": c,
        "streamed_plans": server.streamed,
        "speedup": round(r["wall_s"] / c["wall_s"], 2),
        "speedup_waited": round(r["wall_s"] / w["wall_s"], 2),
        "stream_gain": round(w["wall_s"] / c["wall_s"], 2),
        "calls_ratio": round(r["llm_calls"] / c["llm_calls"], 2),
        "tokens_ratio": round(r["tokens"] / c["tokens"], 2),
        "goal_speedup": 1.8,
    }
    every = all(x["correct"] == x["tasks"] for x in (r, w, c))
    out["ok"] = out["speedup"] >= 1.8 and every and server.streamed == c["tasks"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
