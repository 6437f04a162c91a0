"""How fast the TUI opens a run with 100,000 events, and how much memory it takes: prints JSON.

The fixture database is written through `Recorder` (a ReAct-shaped run: 25,000 steps, each
an llm_call with thought / action / observation children), then a fresh process opens the
app headless on that run and measures the time until its first screen is drawn (tree,
detail and header on screen) and the peak RSS. Target: <= 1 s and < 300 MB.

It also opens the runs list on a database of 10,000 runs (paged from SQL: a few hundred rows
resident) and times its first screen.

Run: python benchmarks/tui_open.py [--events 100000] [--runs 10000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_ID = "be4c00000001"


def build(path: Path, events: int) -> float:
    from ponder.traces.recorder import Recorder
    from ponder.traces.store import TraceStore

    t0 = time.perf_counter()
    with TraceStore(path) as store:
        rec = Recorder.start(store, agent="react", task={"input": "a very long ReAct run"}, run_id=RUN_ID)
        steps = events // 4
        for i in range(steps):
            call = rec.event("llm_call", f"step {i + 1}", f"Thought: step {i}. Action: Search[item {i}]")
            rec.event("thought", "thought", f"I should look up item {i}.", parent=call)
            rec.event(
                "action",
                f"Search[item {i}]",
                f"Search[item {i}]",
                parent=call,
                data={"tool": "Search", "input": f"item {i}"},
            )
            rec.event("observation", "observation", f"Item {i} is a thing. " * 5, parent=call)
        rec.event("answer", "answer", "done", data={"answer": "done"})
        rec.finish(status="ok", answer="done")
    return time.perf_counter() - t0


def build_runs(path: Path, runs: int) -> None:
    from ponder.traces.recorder import Recorder
    from ponder.traces.store import TraceStore

    with TraceStore(path) as store:
        for i in range(runs):
            rec = Recorder.start(store, agent="cot", task={"input": f"question {i}"}, run_id=f"run{i:08d}")
            rec.finish(status="ok", answer=str(i), correct=i % 3 == 0)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: str) -> dict[str, float]:
    t_import = time.perf_counter()
    from ponder.tui.app import PonderApp
    from ponder.tui.screens.run import RunScreen
    from ponder.tui.screens.runs import RunsScreen
    from ponder.tui.widgets.event_tree import EventTree

    import_s = time.perf_counter() - t_import
    rss_before = rss_mb()
    t0 = time.perf_counter()
    app = PonderApp(path, run_id=RUN_ID)
    async with app.run_test(size=(160, 48)) as pilot:
        while True:
            screen = app.screen
            if isinstance(screen, RunScreen) and screen.run is not None:
                tree = screen.query_one(EventTree)
                if tree.root.children:
                    break
            await pilot.pause(0.005)
        await pilot.pause()  # one more turn: the frame with the tree is drawn
        first_screen_s = time.perf_counter() - t0
        nodes = len(tree.root.children)
        t1 = time.perf_counter()
        await pilot.press("end")  # replay to the last event: its level is paged in around it
        while (
            tree.cursor_node is None or tree.cursor_node.data is None or tree.cursor_node.data.seq != screen.bar.total
        ):
            await pilot.pause(0.005)
        await pilot.pause()
        end_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        await pilot.press("home")
        while tree.cursor_node is None or tree.cursor_node.data is None or tree.cursor_node.data.seq != 1:
            await pilot.pause(0.005)
        home_s = time.perf_counter() - t2
    runs_db = str(Path(path).with_name("tui_open_runs.db"))
    t3 = time.perf_counter()
    app2 = PonderApp(runs_db)
    async with app2.run_test(size=(160, 48)) as pilot:
        from textual.widgets import DataTable

        while not (isinstance(app2.screen, RunsScreen) and app2.screen.query_one(DataTable).row_count):
            await pilot.pause(0.005)
        await pilot.pause()
        runs_list_s = time.perf_counter() - t3
        rows_resident = app2.screen.query_one(DataTable).row_count
    return {
        "import_s": round(import_s, 3),
        "first_screen_s": round(first_screen_s, 3),
        "top_level_nodes_built": nodes,
        "replay_end_s": round(end_s, 3),
        "replay_home_s": round(home_s, 3),
        "runs_list_10k_first_screen_s": round(runs_list_s, 3),
        "runs_rows_resident": rows_resident,
        "rss_before_app_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10_000, help="runs in the second database (the runs list)")
    ap.add_argument("--db", help="reuse (or create) this fixture database (the runs one is written beside it)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "tui_open.db"
    build_s = None if path.exists() else build(path, args.events)
    runs_db = path.with_name("tui_open_runs.db")
    if not runs_db.exists():
        build_runs(runs_db, args.runs)
    # a fresh process: the figures are the app's own, not the fixture writer's
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True, check=True
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    from ponder.traces.store import TraceStore

    with TraceStore(path, create=False) as store:
        events = store.get_run(RUN_ID).last_seq
    result = {
        "events": events,
        "build_fixture_s": None if build_s is None else round(build_s, 1),
        **figures,
        "target_first_screen_s": 1.0,
        "target_rss_mb": 300,
        "ok": figures["first_screen_s"] <= 1.0 and figures["peak_rss_mb"] < 300,
    }
    print(json.dumps(result))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
