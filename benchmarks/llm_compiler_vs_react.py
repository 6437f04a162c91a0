"""LLMCompiler against ReAct on the `parallel_qa` questions, through the openai backend against a local
OpenAI-compatible server that answers every call after `--latency` seconds (default 200 ms).

Both agents get the same scripted model, which reads what the tools returned: ReAct searches one
entity per step and finishes once it has them all; LLMCompiler's planner writes one search per
entity and `join()`, and its joiner answers from the results. Both answer by comparing (or adding)
the facts the searches found, so a wrong search shows as a wrong answer. Prints JSON: per agent the
wall time of all the questions run one after another, model calls, tokens (the server counts the
words of each request and reply), tool calls and accuracy; then LLMCompiler's speed-up.

    python benchmarks/llm_compiler_vs_react.py [--latency 0.2] [--repeat 1]
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
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message

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
        return "\n".join([*lines, f"{len(lines) + 1}. join()"])
    if "Actions and results" in text:  # LLMCompiler's joiner
        return f"Thought: compare the facts found.\nAction: Finish({_answer(row, _facts(text))})"
    # ReAct: one search per step, finish once every entity is observed
    observed = [m.content for m in req.messages if m.role == "user" and m.content.startswith("Observation:")]
    if len(observed) < len(entities):
        e = entities[len(observed)]
        return f"Thought: I need the page of {e}.\nAction: search[{e}]"
    return f"Thought: I have every fact.\nAction: finish[{_answer(row, _facts(chr(10).join(observed)))}]"


async def measure(name: str, agent: Any, base_url: str) -> dict[str, Any]:
    from ponder.backends.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend(base_url=base_url, model="fake")
    await backend.complete(CompletionRequest(messages=(Message.user("warm up"),)))  # the first connection
    env = ParallelQAEnv()
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
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    react = ReAct(mode="text", examples="")  # the env gives both agents search and calculator over its pages
    compiler = LLMCompiler()
    with FakeOpenAIServer(responder, latency=args.latency, count_words=True) as server:
        r = await measure("react", react, server.base_url)
        c = await measure("llm_compiler", compiler, server.base_url)
    out = {
        "latency_s": args.latency,
        "react": r,
        "llm_compiler": c,
        "speedup": round(r["wall_s"] / c["wall_s"], 2),
        "calls_ratio": round(r["llm_calls"] / c["llm_calls"], 2),
        "tokens_ratio": round(r["tokens"] / c["tokens"], 2),
        "goal_speedup": 1.8,
    }
    out["ok"] = out["speedup"] >= 1.8 and c["correct"] == c["tasks"] and r["correct"] == r["tasks"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
