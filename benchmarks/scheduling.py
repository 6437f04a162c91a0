"""Scheduling benchmark: wall time ÷ critical path for self-consistency, Tree-of-Thoughts and plan-and-execute.

A scripted backend answers every request after a fixed latency (200 ms). The critical path
is the number of call rounds that must follow one another times that latency: 1 round for
SC with k concurrent paths (or one `n=k` request), 2 rounds per BFS level for ToT (generate,
then evaluate; a level whose values all come from the cache or a rule needs no second round),
and for plan-and-execute 1 (plan) + 2 per round of steps (the steps at once, then the
replanner): its 4 independent steps run in 1 round (3 call rounds in all), against 4 rounds
(9 call rounds) with `parallel=1`.
A ratio near 1 means the concurrent branches really overlap. Target: ≤ 1.15.

    python benchmarks/scheduling.py [--latency 0.2] [--repeat 3] [--db traces.db]
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

from ponder.agents.plan_execute import PLANNER_SYSTEM, PlanExecute
from ponder.agents.self_consistency import SelfConsistency
from ponder.agents.tot import TreeOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import propose_steps, solve
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest

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


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", type=Path, default=None, help="trace store (default: a temporary file)")
    args = ap.parse_args()
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
        store.close()
    print(
        json.dumps(
            {
                "latency_s": args.latency,
                "repeat": args.repeat,
                "results": rows,
                "plan_execute_speedup_vs_parallel_1": speedup,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
