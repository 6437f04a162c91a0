"""MCTS `parallel=4` against `parallel=1` at a small budget (8 iterations, Game of 24), measured in one run:
once on the scripted backend with a fixed latency per call (the search alone), once through the openai
backend against a loopback OpenAI-compatible server with the same latency (the search plus the HTTP
client's own work per request). Also the same runs at latency 0: what the client costs by itself.
Prints JSON: wall times, requests, and the speed-up wall(parallel=1) / wall(parallel=4) (goal ≥ 2).

    python benchmarks/mcts_parallel.py [--latency 0.2] [--iterations 8] [--rollout-depth 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from scheduling import PUZZLE, responder

from ponder.agents.mcts import MCTSAgent
from ponder.backends.concurrency import reset_shared_limiters
from ponder.backends.scripted import ScriptedBackend
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message


async def _once(settings: dict[str, Any], backend: Any) -> tuple[float, int]:
    agent = MCTSAgent.model_validate(settings)
    store = TraceStore(":memory:")
    t0 = time.perf_counter()
    r = await agent.arun(PUZZLE, backend=backend, store=store)
    return time.perf_counter() - t0, len(store.llm_calls(r.run_id))


async def scripted(settings: dict[str, Any], latency: float) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": "scripted", "latency_s": latency}
    for w in (1, 4):
        wall, calls = await _once({**settings, "parallel": w}, ScriptedBackend(responder, latency=latency))
        out[f"parallel{w}"] = {"wall_s": round(wall, 3), "calls": calls}
    out["speedup"] = round(out["parallel1"]["wall_s"] / out["parallel4"]["wall_s"], 2)
    return out


async def http(settings: dict[str, Any], base_url: str, latency: float) -> dict[str, Any]:
    from ponder.backends.openai_compat import OpenAICompatBackend

    out: dict[str, Any] = {"backend": "openai (loopback server)", "latency_s": latency}
    for w in (1, 4):
        reset_shared_limiters()
        backend = OpenAICompatBackend(base_url=base_url, model="fake")
        await backend.complete(CompletionRequest(messages=(Message.user("warm up"),)))
        wall, calls = await _once({**settings, "parallel": w}, backend)
        out[f"parallel{w}"] = {"wall_s": round(wall, 3), "calls": calls}
    out["speedup"] = round(out["parallel1"]["wall_s"] / out["parallel4"]["wall_s"], 2)
    return out


def main() -> None:
    from _fake_openai import FakeOpenAIServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--rollout-depth", type=int, default=0)
    args = ap.parse_args()
    settings = {"env": "game24", "n_iterations": args.iterations, "rollout_depth": args.rollout_depth}
    rows = [asyncio.run(scripted(settings, args.latency))]
    for latency in (args.latency, 0.0):
        with FakeOpenAIServer(responder, latency=latency) as server:
            rows.append(asyncio.run(http(settings, server.base_url, latency)))
    print(json.dumps({"settings": settings, "rows": rows, "goal_speedup": 2.0}, indent=2))


if __name__ == "__main__":
    main()
