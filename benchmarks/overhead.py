"""Per-call overhead of agent + recorder over a zero-latency ScriptedBackend, and store events/s.

Prints JSON. Targets: <= 0.5 ms per call including the trace write (issue 23 item 13; was <= 1 ms in
issue 2); >= 20,000 events/s. tests/traces/test_write_cost.py holds the statements one call costs.
Run: python benchmarks/overhead.py [--calls 2000] [--events 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from ponder import CoT, ScriptedBackend, Task
from ponder.runtime.runner import run_agent
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore


async def per_call_overhead(store: TraceStore, calls: int) -> dict[str, float]:
    """One CoT run = one backend call + its events; time each whole run."""
    backend = ScriptedBackend(lambda req: "17*23 = 391. The answer is 391.")
    agent = CoT()
    task = Task.from_question("What is 17 * 23?")
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await run_agent(agent, task, backend=backend, store=store)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "median_ms_per_call": round(statistics.median(times), 4),
        "p95_ms_per_call": round(times[int(len(times) * 0.95)], 4),
        "calls": calls,
    }


def events_per_second(store: TraceStore, events: int) -> dict[str, float]:
    rec = Recorder.start(store, agent="bench", task={"input": "events"})
    root = rec.event("node", "root")
    t0 = time.perf_counter()
    for i in range(events):
        rec.event("thought", f"step {i}", f"thinking about step {i}", parent=root, data={"text": f"step {i}"})
    dt = time.perf_counter() - t0
    return {"events": events, "events_per_s": round(events / dt), "seconds": round(dt, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        store = TraceStore(Path(d) / "bench.db")
        overhead = asyncio.run(per_call_overhead(store, args.calls))
        store2 = TraceStore(Path(d) / "events.db")
        ev = events_per_second(store2, args.events)
    print(
        json.dumps(
            {
                "benchmark": "overhead",
                **overhead,
                **ev,
                "targets": {"median_ms_per_call": "<= 0.5", "events_per_s": ">= 20000"},
                "meets_targets": overhead["median_ms_per_call"] <= 0.5 and ev["events_per_s"] >= 20000,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
