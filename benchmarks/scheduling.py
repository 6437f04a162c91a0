"""Scheduling benchmark: wall time ÷ critical path for self-consistency, Tree-of-Thoughts, plan-and-execute, MCTS.

A scripted backend answers every request after a fixed latency (200 ms). The critical path
is the number of call rounds that must follow one another times that latency: 1 round for
SC with k concurrent paths (or one `n=k` request), 2 rounds per BFS level for ToT (generate,
then evaluate; a level whose values all come from the cache or a rule needs no second round),
and for plan-and-execute 1 (plan) + 2 per round of steps (the steps at once, then the
replanner): its 4 independent steps run in 1 round (3 call rounds in all), against 4 rounds
(9 call rounds) with `parallel=1`.
A ratio near 1 means the concurrent branches really overlap. Target: ≤ 1.15.
MCTS with `parallel=w` (w = 1, 2, 4; `--mcts-iterations`) is timed against the serial run's
wall time ÷ w. Target: ≤ 1.2.

Adaptive concurrency (`--http`): the openai backend against a local OpenAI-compatible server
with the same latency, ToT on Game of 24 in the paper's setting (propose, value ×3, b=5):
rounds per puzzle (wall ÷ latency) with the default adaptive limit (target ≤ 10), and on a
server that answers 429 whenever more than 16 requests are in flight, the adaptive limit
against a fixed limit of 16 (target: 0 failed calls, rounds within 1.3×).

    python benchmarks/scheduling.py [--latency 0.2] [--repeat 3] [--db traces.db] [--http] [--puzzles 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ponder.agents.mcts import MCTSAgent
from ponder.agents.plan_execute.agent import PLANNER_SYSTEM, PlanExecute
from ponder.agents.self_consistency import SelfConsistency
from ponder.agents.tot import TreeOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import propose_steps, solve
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message

PUZZLE = "4 9 10 13"
PLAN_QUESTION = "What is the total of 12 * 3, 7 * 8, 9 * 9 and 15 * 4?"
PLAN = "1. Compute 12 * 3.\n2. Compute 7 * 8.\n3. Compute 9 * 9.\n4. Compute 15 * 4."


def responder(req: CompletionRequest) -> str:
    """Valid replies in the formats the prompts ask for: Game-24 steps and values, CoT answers."""
    p = req.messages[-1].content
    system = req.messages[0].content
    if system == PLANNER_SYSTEM:
        return PLAN
    if system.startswith("You check progress on a plan"):
        return "FINISH: 233" if "[pending]" not in p else "CONTINUE"
    if "Do only step" in p:
        step = int(re.findall(r"Do only step (\d+) now", p)[0])
        return f"The answer is {[36, 56, 81, 60][step - 1]}."
    if p.rstrip().endswith("Possible next steps:"):
        nums = p.rstrip().split("\n")[-2].removeprefix("Input: ").strip()
        return "\n".join(propose_steps(nums, limit=8))
    if "Evaluate if given numbers can reach 24" in p:
        nums = p.rstrip().split("\n")[-1].split()
        return "sure" if len(nums) <= 2 else "likely"
    if p.rstrip().endswith("Judge:"):
        return "sure"
    if "Steps:" in p:
        x = re.findall(r"Input: (.*)\n", p)[-1]
        return f"Answer: {solve([int(t) for t in x.split()])} = 24"
    return "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391. The answer is 391."


def tot_rounds(store: TraceStore, run_id: str) -> int:
    """Sequential call rounds of a BFS run: one per (phase, depth) that made at least one call."""
    depth = {
        int(e.data["id"]): int(e.data["depth"])
        for e in store.events(run_id, with_data=True)
        if e.kind == "node" and e.data is not None
    }
    rounds = set()
    for c in store.llm_calls(run_id):
        m = re.match(r"(n|v)(\d+)", c.branch)
        if m:
            rounds.add((m.group(1), depth[int(m.group(2))]))
    return len(rounds)


async def measure(
    name: str, agent: Any, question: str, *, latency: float, supports_n: bool, store: TraceStore, repeat: int
) -> dict[str, Any]:
    walls, rounds, calls = [], 0, 0
    for _ in range(repeat):
        backend = ScriptedBackend(responder, latency=latency, supports_n=supports_n)
        t0 = time.perf_counter()
        r = await agent.arun(question, backend=backend, store=store)
        walls.append(time.perf_counter() - t0)
        calls = len(backend.requests)
        rounds = tot_rounds(store, r.run_id) if isinstance(agent, TreeOfThoughts) else 1
        if isinstance(agent, PlanExecute):
            rounds = 1 + 2 * int(r.metadata["rounds"])  # the plan, then each round of steps and its replanning
    wall = statistics.median(walls)
    critical = rounds * latency
    return {
        "name": name,
        "supports_n": supports_n,
        "requests": calls,
        "rounds": rounds,
        "critical_path_s": round(critical, 3),
        "wall_s": round(wall, 3),
        "ratio": round(wall / critical, 3),
        "ok": wall / critical <= 1.15,
        **(
            {"step_rounds": r.metadata["rounds"], "steps": r.metadata["steps"]}
            if isinstance(agent, PlanExecute)
            else {}
        ),
    }


async def mcts_rows(*, latency: float, store: TraceStore, n_iterations: int) -> list[dict[str, Any]]:
    """MCTS with `parallel` = 1, 2, 4 on the Game of 24: wall time against the serial run's wall ÷ w.

    Target (issue 11): parallel=w finishes in ≤ 1.2 × wall(parallel=1) / w. The first round can
    only expand the root, so the bound needs n_iterations ≫ w.
    """
    rows: list[dict[str, Any]] = []
    serial = 0.0
    for w in (1, 2, 4):
        settings = {"env": "game24", "n_iterations": n_iterations, "parallel": w, "rollout_depth": 0}
        agent = MCTSAgent.model_validate(settings)
        backend = ScriptedBackend(responder, latency=latency, supports_n=True)
        t0 = time.perf_counter()
        r = await agent.arun(PUZZLE, backend=backend, store=store)
        wall = time.perf_counter() - t0
        rounds = len({c.branch.split(".")[0] for c in store.llm_calls(r.run_id)})
        if w == 1:
            serial = wall
        bound = serial / w
        rows.append(
            {
                "name": f"mcts_n{n_iterations}_parallel{w}",
                "requests": len(backend.requests),
                "wall_s": round(wall, 3),
                "serial_wall_over_w_s": round(bound, 3),
                "ratio": round(wall / bound, 3),
                "ok": wall <= 1.2 * bound,
                "branches": rounds,
            }
        )
    return rows


PUZZLES = ["4 9 10 13", "1 4 8 8", "2 3 5 12", "3 3 8 8", "1 2 3 4"]


async def measure_http(
    name: str, *, latency: float, overload_above: int | None, concurrency: int | None, puzzles: list[str]
) -> dict[str, Any]:
    """ToT Game-24 (the env's paper defaults) through the openai backend against a local server."""
    from _fake_openai import FakeOpenAIServer

    from ponder import registry
    from ponder.backends.concurrency import reset_shared_limiters, summarize_limits
    from ponder.backends.openai_compat import OpenAICompatBackend

    reset_shared_limiters()
    tot = registry.build("agents", "tot", {"env": "game24"})
    rounds, failed, calls, attempts = [], 0, 0, []
    with FakeOpenAIServer(responder, latency=latency, overload_above=overload_above) as server:
        backend = OpenAICompatBackend(base_url=server.base_url, model="fake", concurrency=concurrency, backoff=0.2)
        store = TraceStore(":memory:")
        # warm up (the SDK client, the first connection) outside the measurement
        await backend.complete(CompletionRequest(messages=(Message.user("warm up"),)))
        for puzzle in puzzles:
            t0 = time.perf_counter()
            r = await tot.arun(puzzle, backend=backend, store=store)
            rounds.append((time.perf_counter() - t0) / latency)
            recorded = store.llm_calls(store.descendant_run_ids(r.run_id))
            calls += len(recorded)
            failed += sum(1 for c in recorded if c.error)
            attempts += [a for c in recorded for a in c.attempts or []]
        await backend.aclose()
    peak, rejected = server.peak, server.rejected
    return {
        "name": name,
        "concurrency": "adaptive" if concurrency is None else concurrency,
        "server_429_above": overload_above,
        "calls_per_puzzle": round(calls / len(puzzles), 1),
        "rounds_per_puzzle": round(statistics.mean(rounds), 2),
        "failed_calls": failed,
        "server_peak_in_flight": peak,
        "server_429s": rejected,
        "limits": summarize_limits(attempts),
    }


async def http_rows(latency: float, n_puzzles: int) -> list[dict[str, Any]]:
    puzzles = PUZZLES[:n_puzzles]
    default = await measure_http(
        "tot_game24_adaptive", latency=latency, overload_above=None, concurrency=None, puzzles=puzzles
    )
    default["ok"] = default["rounds_per_puzzle"] <= 10
    fixed8 = await measure_http(
        "tot_game24_fixed8", latency=latency, overload_above=None, concurrency=8, puzzles=puzzles
    )
    fixed16 = await measure_http(
        "tot_game24_429_fixed16", latency=latency, overload_above=16, concurrency=16, puzzles=puzzles
    )
    adaptive = await measure_http(
        "tot_game24_429_adaptive", latency=latency, overload_above=16, concurrency=None, puzzles=puzzles
    )
    ratio = adaptive["rounds_per_puzzle"] / fixed16["rounds_per_puzzle"]
    adaptive["vs_fixed16"] = round(ratio, 3)
    adaptive["ok"] = adaptive["failed_calls"] == 0 and ratio <= 1.3
    return [default, fixed8, fixed16, adaptive]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", type=Path, default=None, help="trace store (default: a temporary file)")
    ap.add_argument("--mcts-iterations", type=int, default=64)
    ap.add_argument("--http", action="store_true", help="only the adaptive-concurrency figures (local HTTP server)")
    ap.add_argument("--puzzles", type=int, default=3, help="Game-24 puzzles per HTTP measurement")
    args = ap.parse_args()
    if args.http:
        rows = await http_rows(args.latency, args.puzzles)
        print(json.dumps({"latency_s": args.latency, "puzzles": args.puzzles, "results": rows}, indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = TraceStore(args.db or Path(tmp) / "bench.db")
        sc = SelfConsistency(k=16)
        tot = TreeOfThoughts(env="game24", search="bfs", breadth=5, depth=3)
        rows = [
            await measure(
                "sc_k16_concurrent",
                sc,
                "What is 17 * 23?",
                latency=args.latency,
                supports_n=False,
                store=store,
                repeat=args.repeat,
            ),
            await measure(
                "sc_k16_n",
                sc,
                "What is 17 * 23?",
                latency=args.latency,
                supports_n=True,
                store=store,
                repeat=args.repeat,
            ),
            await measure(
                "tot_bfs_b5_d3", tot, PUZZLE, latency=args.latency, supports_n=True, store=store, repeat=args.repeat
            ),
            await measure(
                "tot_bfs_b5_d3_no_n",
                tot,
                PUZZLE,
                latency=args.latency,
                supports_n=False,
                store=store,
                repeat=args.repeat,
            ),
        ]
        for name, parallel in (("plan_execute_4_independent", None), ("plan_execute_4_parallel_1", 1)):
            agent = PlanExecute(executor="cot", parallel=parallel)
            rows.append(
                await measure(
                    name, agent, PLAN_QUESTION, latency=args.latency, supports_n=True, store=store, repeat=args.repeat
                )
            )
        one_round, serial = rows[-2], rows[-1]
        speedup = round(serial["wall_s"] / one_round["wall_s"], 2)
        mcts = await mcts_rows(latency=args.latency, store=store, n_iterations=args.mcts_iterations)
        store.close()
    print(
        json.dumps(
            {
                "latency_s": args.latency,
                "repeat": args.repeat,
                "results": rows,
                "plan_execute_speedup_vs_parallel_1": speedup,
                "mcts": mcts,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
