"""MCTS `parallel=4` against `parallel=1` at a small budget (8 iterations, Game of 24), measured in one run:
once on the scripted backend with a fixed latency per call (the search alone), once through the openai
backend against a loopback OpenAI-compatible server with the same latency (the search plus the HTTP
client's own work per request), on each of its transports (httpx, aiohttp). Also the same runs at
latency 0: what the client costs by itself. Each setting runs `--repeat` times, the two settings
taking turns (so a change in the machine's load falls on both); the figures are the medians. Prints
JSON: wall times, requests, and the speed-up median wall(parallel=1) / median wall(parallel=4) (goal ≥ 2).

    python benchmarks/mcts_parallel.py [--latency 0.2] [--iterations 8] [--rollout-depth 0] [--repeat 5]
        [--transport httpx] [--transport aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from scheduling import PUZZLE, responder

from ponder.agents.mcts import MCTSAgent
from ponder.backends._http_client import Transport
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


async def _compare(
    out: dict[str, Any], settings: dict[str, Any], make: Callable[[], Awaitable[Any]], repeat: int
) -> dict[str, Any]:
    walls: dict[int, list[float]] = {1: [], 4: []}
    calls: dict[int, int] = {}
    for _ in range(repeat):
        for w in (1, 4):
            wall, calls[w] = await _once({**settings, "parallel": w}, await make())
            walls[w].append(wall)
    for w in (1, 4):
        out[f"parallel{w}"] = {
            "wall_s": round(statistics.median(walls[w]), 3),
            "walls_s": [round(x, 3) for x in walls[w]],
            "calls": calls[w],
        }
    out["speedup"] = round(out["parallel1"]["wall_s"] / out["parallel4"]["wall_s"], 2)
    return out


async def scripted(settings: dict[str, Any], latency: float, repeat: int) -> dict[str, Any]:
    async def make() -> ScriptedBackend:
        return ScriptedBackend(responder, latency=latency)

    return await _compare({"backend": "scripted", "latency_s": latency}, settings, make, repeat)


async def http(
    settings: dict[str, Any], base_url: str, latency: float, repeat: int, transport: Transport
) -> dict[str, Any]:
    from ponder.backends.openai_compat import OpenAICompatBackend

    made: list[OpenAICompatBackend] = []

    async def make() -> OpenAICompatBackend:
        reset_shared_limiters()
        backend = OpenAICompatBackend(base_url=base_url, model="fake", transport=transport)
        await backend.complete(CompletionRequest(messages=(Message.user("warm up"),)))
        made.append(backend)
        return backend

    row = {"backend": f"openai, transport={transport} (loopback server)", "latency_s": latency}
    out = await _compare(row, settings, make, repeat)
    for backend in made:
        await backend.aclose()
    return out


def main() -> None:
    from _fake_openai import FakeOpenAIServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--rollout-depth", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each setting, taking turns (median)")
    ap.add_argument("--transport", action="append", choices=["httpx", "aiohttp"], help="default: both")
    args = ap.parse_args()
    args.transport = args.transport or ["httpx", "aiohttp"]
    settings = {"env": "game24", "n_iterations": args.iterations, "rollout_depth": args.rollout_depth}
    rows = [asyncio.run(scripted(settings, args.latency, args.repeat))]
    for latency in (args.latency, 0.0):
        with FakeOpenAIServer(responder, latency=latency) as server:
            for transport in args.transport:
                rows.append(asyncio.run(http(settings, server.base_url, latency, args.repeat, transport)))
    load = [round(x, 2) for x in os.getloadavg()]
    out = {"settings": settings, "repeat": args.repeat, "load_avg": load, "rows": rows, "goal_speedup": 2.0}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
