"""CI: one real run of each registered strategy on the configured backend (CI: the local default model).

Each strategy runs the task, config and env of its smallest shipped recording (tests/recordings),
live, under a budget (calls and wall time), into a scratch store. A line per strategy says how it
ended. Exit 1 if a strategy has no shipped recording to take its task from, or if a run raised
(a crash or a backend error; a wrong or missing answer, or a run its budget stopped, is reported,
not failed: the point is that every strategy runs end to end on a real model).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ponder import registry
from ponder.config import resolve_backend
from ponder.errors import BudgetExceeded
from ponder.replay import rebuild_agent, run_setup
from ponder.runtime.budget import Budget
from ponder.runtime.runner import run_agent
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore
from ponder.types import Task

RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "recordings"
MAX_CALLS = 12
TIMEOUT_S = 90.0  # per strategy: ~15 strategies must fit CI's 90 minutes with everything else


def smallest_recordings(scratch: Path) -> dict[str, tuple[Path, RunRecord]]:
    """Per agent, the shipped recording whose top-level run made the fewest calls (opened on a copy)."""
    best: dict[str, tuple[Path, RunRecord]] = {}
    for db in sorted(RECORDINGS.glob("*.db")):
        copy = scratch / db.name
        shutil.copy(db, copy)
        store = TraceStore(copy)
        try:
            for run in store.list_runs(limit=10):
                if run.agent not in best or run.calls < best[run.agent][1].calls:
                    best[run.agent] = (copy, run)
        finally:
            store.close()
    return best


async def main() -> int:
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        best = smallest_recordings(scratch)
        backend = resolve_backend()
        out = TraceStore(scratch / "live.db")
        try:
            for agent_name in registry.names("agents"):
                if agent_name not in best:
                    failures.append(agent_name)
                    print(f"{agent_name}: FAIL no shipped recording to take a task from", flush=True)
                    continue
                path, run = best[agent_name]
                notes: list[str] = []
                source = TraceStore(path)
                try:
                    env, _ = run_setup(source, run, notes)
                finally:
                    source.close()
                budget = Budget(max_calls=min(MAX_CALLS, max(6, 3 * run.calls)), timeout_s=TIMEOUT_S)
                t0 = time.perf_counter()
                try:
                    agent, task = rebuild_agent(run), Task.model_validate(run.task)
                    result = await run_agent(agent, task, backend=backend, store=out, env=env, budget=budget)
                except BudgetExceeded as e:  # the run is recorded as stopped: an outcome, not a crash
                    print(f"{agent_name}: stopped by its budget ({e}) (task of {path.name})", flush=True)
                    continue
                except Exception as e:
                    failures.append(agent_name)
                    print(f"{agent_name}: FAIL {type(e).__name__}: {e}", flush=True)
                    continue
                took = time.perf_counter() - t0
                why = f" ({result.error})" if result.error else ""
                calls = out.run_totals(result.run_id).calls
                print(
                    f"{agent_name}: {result.status}{why} answer={result.answer!r} correct={result.correct} "
                    f"calls={calls} {took:.0f}s (task of {path.name}){''.join(' ' + n for n in notes)}",
                    flush=True,
                )
        finally:
            out.close()
            close = getattr(backend, "close", None)
            if callable(close):
                close()
    if failures:
        print(f"FAILED: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
